"""Fault injection for tests: a process kills itself with SIGKILL at a named point of a run.

Not a user feature. ``VBENCH_FAULT`` names the points, comma-separated, each optionally limited to
one run id (``POINT:RUN_ID``)::

    VBENCH_FAULT=fit:2           # the process executing run 2 dies after its first training step
    VBENCH_FAULT=score           # every run's process dies between its first and second metric
    VBENCH_FAULT=final-write:3   # dies inside run 3's final transaction, scores inserted, not committed

The process that reaches the point dies: a run's worker, or the driver itself under
``--no-isolate``. A run taken over by ``--resume`` gets a new run id, so a fault limited to one id
fires once per database. Reading the variable costs one dictionary look-up when it is unset.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "VBENCH_FAULT"
POINTS = ("fit", "score", "final-write")


def check(point: str, run_id: int | None) -> None:
    """Kills this process at once (SIGKILL: no cleanup, no handler, no flush) when ``VBENCH_FAULT``
    names ``point`` for every run or for ``run_id``."""
    raw = os.environ.get(FAULT_ENV)
    if raw and armed(raw, point, run_id):
        os.kill(os.getpid(), signal.SIGKILL)


def armed(raw: str, point: str, run_id: int | None) -> bool:
    """Whether the specification ``raw`` (the variable's value) names ``point`` for ``run_id``."""
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}; one of {', '.join(POINTS)}")
    for part in raw.split(","):
        name, _, which = part.strip().partition(":")
        if name == point and (not which or (run_id is not None and which.strip() == str(run_id))):
            return True
    return False
