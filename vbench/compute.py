"""Training compute in units that do not depend on the machine: FLOPs of training steps, counted
once per training stage with torch's FlopCounterMode, and the budgets leaderboards match runs at
(``--at-budget 300s`` in seconds on the run's own hardware, ``--at-budget 2e15`` in FLOPs)."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from .errors import ConfigError

log = logging.getLogger("vbench.compute")

COUNT_NOTE = (
    "FLOPs of one training step per stage (torch FlopCounterMode: matrix products and convolutions, "
    "forward and backward, of every network the step runs), counted on the second step of each stage, "
    "times the steps of that stage"
)


class StepFlops:
    """FLOPs of one training step per stage and the steps each stage took.

    A step is counted between two ``RunContext.step`` calls: counting starts when a step of a stage
    whose cost is not known yet is reported and stops at the next report, whose stage the count is
    filed under. So the first step of each stage (with its one-off allocations) is never the counted one,
    and data preparation before the first step is never counted.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.per_step: dict[str, float] = {}
        self.steps: dict[str, int] = {}
        self._counter = None
        self.failure: str | None = None

    def reported(self, stage: str, n: int) -> None:
        """Closes a counted step (if one is open) and adds ``n`` steps to ``stage``."""
        if self._counter is not None:
            counter, self._counter = self._counter, None
            counter.__exit__(None, None, None)
            self.per_step.setdefault(stage, float(counter.get_total_flops()) / max(n, 1))
        self.steps[stage] = self.steps.get(stage, 0) + n

    def start(self, stage: str) -> None:
        """Counts the next step when ``stage``'s cost is not known yet."""
        if not self.enabled or self._counter is not None or stage in self.per_step or self.failure:
            return
        try:
            from torch.utils.flop_counter import FlopCounterMode

            counter = FlopCounterMode(display=False)
            counter.__enter__()
        except Exception as exc:  # counting is best effort: it never fails a run
            self.failure = f"{type(exc).__name__}: {exc}"
            log.warning("training FLOPs not counted: %s", self.failure)
            return
        self._counter = counter

    def close(self) -> None:
        """Ends an open count without filing it (training ended or raised mid-step)."""
        if self._counter is not None:
            counter, self._counter = self._counter, None
            counter.__exit__(None, None, None)

    def snapshot(self) -> dict[str, int]:
        return dict(self.steps)

    def total(self, steps: dict[str, int] | None = None) -> float | None:
        """FLOPs of ``steps`` (stage -> steps; default: all steps so far); None when a stage with
        steps was never counted (a stage of a single step, or counting failed)."""
        steps = self.steps if steps is None else steps
        if not any(steps.values()):
            return None
        if any(n and stage not in self.per_step for stage, n in steps.items()):
            return None
        return float(sum(n * self.per_step[stage] for stage, n in steps.items() if n))


@dataclass(frozen=True)
class ComputeBudget:
    """A training budget to compare runs at: ``amount`` of ``unit`` ("seconds" or "flops")."""

    amount: float
    unit: str

    @property
    def field(self) -> str:
        """The run field it bounds."""
        return "train_seconds" if self.unit == "seconds" else "train_flops"

    def describe(self) -> str:
        if self.unit == "seconds":
            return f"{self.amount:g} s of training on each run's own hardware"
        return f"{self.amount:.3g} training FLOPs"

    def __str__(self) -> str:
        return f"{self.amount:g}s" if self.unit == "seconds" else f"{self.amount:.3g}"


SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minutes": 60}
SECONDS.update({"h": 3600, "hr": 3600, "hours": 3600, "hour": 3600})
FLOPS = {"": 1, "flop": 1, "flops": 1, "gflop": 1e9, "gflops": 1e9, "tflop": 1e12, "tflops": 1e12}
FLOPS.update({"pflop": 1e15, "pflops": 1e15})
BUDGET = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_budget(text: str, option: str = "--at-budget") -> ComputeBudget:
    """``300s``, ``5min``, ``2h`` (seconds of training) or ``2e15``, ``2e15flops``, ``400tflop``
    (training FLOPs). Anything else is a one-line error naming the value and the forms."""
    forms = "give seconds of training (300s, 5min, 2h) or training FLOPs (2e15, 400tflops)"
    match = BUDGET.match(str(text))
    if not match:
        raise ConfigError(f"{option} {text!r} is not a budget; {forms}")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit in SECONDS:
        amount, kind = number * SECONDS[unit], "seconds"
    elif unit in FLOPS:
        amount, kind = number * FLOPS[unit], "flops"
    else:
        raise ConfigError(f"{option} {text!r}: unknown unit {match.group(2)!r}; {forms}")
    if not math.isfinite(amount) or amount <= 0:
        raise ConfigError(f"{option} {text!r}: the budget must be a positive number; {forms}")
    return ComputeBudget(amount, kind)


def parse_multiples(text: str, option: str = "--budgets") -> list[float]:
    """``0.25,1,4`` -> [0.25, 1.0, 4.0]: multiples of a preset's step budget (each > 0, finite, distinct)."""
    values: list[float] = []
    for part in str(text).split(","):
        part = part.strip().lstrip("xX")
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"{option} {text!r}: {part!r} is not a number; give multiples of the preset's steps, "
                f"e.g. {option} 0.25,1,4"
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{option} {text!r}: {part} is not a positive multiple; e.g. {option} 0.25,1,4")
        if value not in values:
            values.append(value)
    return values


def multiple_label(multiple: float) -> str:
    """How a budget multiple shows in a preset label: ``x0.25``, ``x4``."""
    return f"x{multiple:g}"
