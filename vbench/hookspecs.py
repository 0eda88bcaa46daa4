"""Hook specifications: the public plugin contract (DESIGN section 2).

A plugin is any module with ``@vbench.hookimpl`` functions, listed under the ``vbench``
entry-point group of its distribution::

    [project.entry-points.vbench]
    my-plugin = "my_package"
"""

from __future__ import annotations

import pluggy

PROJECT = "vbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def vbench_register_stainers(register):
    """Register stainer classes: call ``register(StainerClass)`` once per class.

    The class must subclass :class:`vbench.Stainer` and set a unique ``name`` and the set of
    ``pairings`` it supports (``paired``, ``misaligned``, ``unpaired``). Optional: ``presets``
    (a dict of preset name to keyword parameters, the first is the default) and ``scales``.
    Import heavy libraries inside methods, not at module import, so the CLI starts fast.
    """


@hookspec
def vbench_register_datasets(register):
    """Register datasets: call ``register(DatasetClassOrInstance)``.

    A dataset subclasses :class:`vbench.Dataset`; it declares ``name``, ``task``, ``pairing``,
    ``scale`` and ``in_channels`` and implements ``load(split)`` for ``train``, ``val`` and ``test``.
    """


@hookspec
def vbench_register_metrics(register):
    """Register metrics: call ``register(MetricClassOrInstance)``.

    A metric subclasses :class:`vbench.Metric`; it declares ``name``, ``kind``
    (``full-reference`` or ``no-reference``), ``higher_is_better`` and ``pipeline`` (how the
    images are converted before scoring) and implements ``compute(pred, ref)``.
    """
