"""Training helpers: divergence check and the CycleGAN learning-rate schedule (via timm)."""

from __future__ import annotations

import math


def check_finite(step: int, losses: dict, hint: str = "") -> None:
    """Raises at the step a loss turns NaN/inf, instead of spending the rest of the budget."""
    for name, value in losses.items():
        v = float(value)
        if not math.isfinite(v):
            raise FloatingPointError(
                f"training diverged at step {step}: {name} loss is {v}" + (f"; {hint}" if hint else "")
            )


def linear_decay_scheduler(optimizer, steps: int, decay_from: float):
    """Constant learning rate for the first ``decay_from`` of ``steps``, then linear decay to zero
    (CycleGAN's schedule): timm's PolyLRScheduler with power 1 behind a flat 'warm-up'.
    Call ``step_update(num_updates=step)`` after each optimiser step."""
    from timm.scheduler import PolyLRScheduler

    flat = round(steps * decay_from)
    lr = optimizer.param_groups[0]["lr"]
    return PolyLRScheduler(
        optimizer,
        t_initial=max(steps - flat, 2),
        power=1.0,
        lr_min=0.0,
        warmup_t=flat,
        warmup_lr_init=lr,
        warmup_prefix=True,
        t_in_epochs=False,
    )
