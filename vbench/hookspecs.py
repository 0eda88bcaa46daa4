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
def vbench_register_layouts(register):
    """Register dataset layouts: call ``register(LayoutClassOrInstance)`` once per layout.

    A layout is how the user's own images are arranged on disk; ``vbench datasets add NAME PATH
    --layout LAYOUT`` records the folder and the layout in ``$VBENCH_HOME/datasets.json``, and on
    every start vbench asks the layout to open it as a dataset (name ``user-datasets`` in
    ``vbench plugins``). ``--layout auto`` asks every layout's ``detect``.

    ``register(layout)``: ``layout`` is a :class:`vbench.DatasetLayout` subclass or instance with

    - ``name`` (str): the ``--layout`` value, unique among layouts;
    - ``tree`` (str): the files it expects, a few lines shown when a folder matches no layout;
    - ``fallback`` (bool, default False): asked only when no other layout recognises the folder;
    - ``detect(root: Path) -> bool``: whether ``root`` looks like this layout, from names only;
    - ``open(name, root, *, pairing=None, scale=1, in_channels=None, modality="", stain="")``:
      the :class:`vbench.Dataset`, built without reading any image (it runs on every start; a
      vanished folder is reported by ``load``). ``pairing`` None means the layout's default,
      ``in_channels`` None means detect it from the files;
    - ``check(dataset) -> dict[str, int]`` (default: load every split): read every file fully,
      raise :class:`vbench.errors.DatasetError` naming the file at fault, return tiles per split.

    The dataset keeps the options it was opened with as its ``pairing``, ``scale``, ``in_channels``,
    ``modality`` and ``stain`` (they are stored in ``datasets.json``). Its ``manifest()`` should hash
    the files themselves: the manifest is recorded when the dataset is added, and its
    ``committed_manifest()`` should return it (``vbench.user_datasets.recorded_manifest(name)``),
    so that ``vbench datasets verify NAME`` names every file changed since.
    """


@hookspec
def vbench_register_metrics(register):
    """Register metrics: call ``register(MetricClassOrInstance)``.

    A metric subclasses :class:`vbench.Metric`; it declares ``name``, ``kind``
    (``full-reference`` or ``no-reference``), ``higher_is_better`` and ``pipeline`` (how the
    images are converted before scoring) and implements ``compute(pred, ref)``.
    """
