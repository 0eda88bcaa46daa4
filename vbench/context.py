"""The run context a stainer receives as ``self.ctx`` and as the second argument of ``fit``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .compute import StepFlops


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
    precision: str = "fp32"  # fp32, or bf16: forward passes under autocast (see autocast())
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("vbench.stainer"))
    on_progress: Callable[[int, int | None, dict], None] | None = None
    # The runner's anytime evaluation: called with the steps done at each step in ``checkpoints``
    # and when training stops (see docs/plugins.md); its time is not training time.
    on_checkpoint: Callable[[int], None] | None = None
    checkpoints: frozenset = frozenset()
    stage: str = "train"
    steps_done: int = 0
    samples_seen: int = 0
    truncated: bool = False
    flops: StepFlops = field(default_factory=StepFlops)
    _started: float = field(default_factory=time.perf_counter)
    _paused: float = 0.0

    def start_clock(self) -> None:
        self._started = time.perf_counter()
        self._paused = 0.0

    @property
    def elapsed(self) -> float:
        """Seconds of training since :meth:`start_clock`, without the runner's evaluations."""
        return time.perf_counter() - self._started - self._paused

    @property
    def train_flops(self) -> float | None:
        """FLOPs of the training steps so far (:class:`vbench.compute.StepFlops`); None when unknown."""
        return self.flops.total()

    @property
    def time_left(self) -> bool:
        """False once the seconds cap is reached (then the run is marked truncated)."""
        if self.budget.seconds is not None and self.elapsed >= self.budget.seconds:
            self.truncated = True
            return False
        return True

    def step(self, n: int = 1, samples: int = 0, stage: str | None = None, **logs: Any) -> bool:
        """Report ``n`` finished training steps that saw ``samples`` tiles; returns True while
        training should go on. Stops at ``budget.steps`` or at the seconds cap (which marks the
        run truncated). ``samples`` feeds the train samples/s figure. ``stage`` names a phase
        whose steps cost differently (``"teacher"``, then ``"student"``): each stage's step FLOPs
        are counted once. At the runner's checkpoints this call also evaluates the model on
        validation tiles (the anytime curve), so the model must be able to ``predict`` here.
        """
        if stage:
            self.stage = stage
        self.flops.reported(self.stage, n)
        self.steps_done += n
        self.samples_seen += samples
        if self.on_progress is not None:
            self.on_progress(self.steps_done, self.budget.steps, logs)
        reached = self.budget.steps is not None and self.steps_done >= self.budget.steps
        go_on = not reached and self.time_left
        if self.on_checkpoint is not None and (self.steps_done in self.checkpoints or not go_on):
            started = time.perf_counter()
            try:
                self.on_checkpoint(self.steps_done)
            finally:
                self._paused += time.perf_counter() - started
        if go_on and self.budget.steps is not None:  # a stainer without a step budget does not train
            self.flops.start(self.stage)
        return go_on

    def autocast(self):
        """The context for forward passes (and losses) of this run's precision: bf16 autocast on the
        run's device with ``precision="bf16"`` (weights and optimiser state stay fp32; backward
        passes go outside it), a no-op context at fp32."""
        import torch

        kind = "cuda" if str(self.device).startswith("cuda") else "cpu"
        return torch.autocast(kind, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def end_training(self) -> None:
        """Closes an open FLOP count (the runner calls it when ``fit`` returns or raises)."""
        self.flops.close()

    def log(self, msg: str, *args: Any) -> None:
        self.logger.info(msg, *args)
