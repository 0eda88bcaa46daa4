"""The run context a stainer receives as ``self.ctx`` and as the second argument of ``fit``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Budget:
    """Training budget. ``steps`` is fixed by the preset so that a seed reproduces a run;
    ``seconds`` is only a safety cap: a run that hits it is marked truncated."""

    steps: int | None = None
    seconds: float | None = None


@dataclass
class RunContext:
    scale: int = 1
    device: str = "cpu"
    seed: int = 0
    val: Sequence = ()
    budget: Budget = field(default_factory=Budget)
    pairing: str = "paired"
    in_channels: int = 1
    modality: str = ""  # the dataset's input modality (quantitative-phase, darkfield...); "" when unknown
    stain: str = ""  # the dataset's target stain (he, ihc-dab...); "" when unknown
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("vbench.stainer"))
    on_progress: Callable[[int, int | None, dict], None] | None = None
    steps_done: int = 0
    samples_seen: int = 0
    truncated: bool = False
    _started: float = field(default_factory=time.perf_counter)

    def start_clock(self) -> None:
        self._started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    @property
    def time_left(self) -> bool:
        """False once the seconds cap is reached (then the run is marked truncated)."""
        if self.budget.seconds is not None and self.elapsed >= self.budget.seconds:
            self.truncated = True
            return False
        return True

    def step(self, n: int = 1, samples: int = 0, **logs: Any) -> bool:
        """Report ``n`` finished training steps that saw ``samples`` tiles; returns True while
        training should go on. Stops at ``budget.steps`` or at the seconds cap (which marks the
        run truncated). ``samples`` feeds the train samples/s figure.
        """
        self.steps_done += n
        self.samples_seen += samples
        if self.on_progress is not None:
            self.on_progress(self.steps_done, self.budget.steps, logs)
        if self.budget.steps is not None and self.steps_done >= self.budget.steps:
            return False
        return self.time_left

    def log(self, msg: str, *args: Any) -> None:
        self.logger.info(msg, *args)
