"""The Brownian bridge between the target x0 (t = 0) and the dimension-matched input y (t = T).

Forward marginal (BBDM, Li et al. 2023, eq. 3):  x_t = (1 - m_t) x0 + m_t y + sqrt(d_t) eps,
with m_t = t / T and d_t = 2 s (m_t - m_t^2). The grid has T + 1 levels: m_0 = 0 and m_T = 1
pin the ends (d_0 = d_T = 0), and the interior levels t = 1..T-1 run linearly from 0.001 to
0.999 for T = 1000, the range of the reference code's linear schedule.

Reverse step from t to any s < t given an estimate of x0 (the posterior q(x_s | x_t, x0, y), by
Gaussian conditioning on the joint of x_s and x_t; s = t - 1 is the paper's eq. 8-9):
    mean = (1 - m_s) x0 + m_s y + c (x_t - (1 - m_t) x0 - m_t y),   var = d_s - c^2 d_t,
where c = Cov(x_s, x_t) / d_t = ((1 - m_t) / (1 - m_s)) d_s / d_t. For this variance schedule
that is c = m_s / m_t and var = 2 s m_s (m_t - m_s) / m_t, which stay finite at t = T
(x_T = y carries no information about x0, so the step there is the marginal of x_s).
"""

from __future__ import annotations

import torch


class Bridge:
    """Schedule tables (float64 on the CPU; a step reads plain Python floats from them)."""

    def __init__(self, timesteps: int = 1000, max_var: float = 1.0):
        if timesteps < 2:
            raise ValueError(f"timesteps must be at least 2, got {timesteps}")
        self.T = int(timesteps)
        self.max_var = float(max_var)
        self.m = torch.arange(self.T + 1, dtype=torch.float64) / self.T
        self.var = 2.0 * self.max_var * (self.m - self.m**2)

    # --- forward process ----------------------------------------------------------------------
    def marginal(self, x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor, noise: torch.Tensor):
        """A draw of x_t per batch item (t: one int time per item)."""
        m = self.m.to(x0.device)[t].view(-1, 1, 1, 1).to(x0.dtype)
        sd = self.var.to(x0.device)[t].sqrt().view(-1, 1, 1, 1).to(x0.dtype)
        return (1 - m) * x0 + m * y + sd * noise

    # --- reverse process ----------------------------------------------------------------------
    def step_coefs(self, t: int, s: int) -> tuple[float, float, float, float]:
        """(c_x0, c_y, c_xt, var) with mean = c_x0 x0 + c_y y + c_xt x_t for the step t -> s."""
        if not 0 <= s < t <= self.T:
            raise ValueError(f"a reverse step needs 0 <= s < t <= T, got t={t}, s={s}")
        m_t, m_s = float(self.m[t]), float(self.m[s])
        c = m_s / m_t
        var = max(2.0 * self.max_var * m_s * (m_t - m_s) / m_t, 0.0)
        return (1.0 - m_s) - c * (1.0 - m_t), m_s - c * m_t, c, var

    def grid(self, steps: int) -> list[int]:
        """Descending times T = t_0 > ... > t_K = 0 for a K-step (skip) schedule, evenly spaced."""
        steps = max(1, min(int(steps), self.T))
        points = torch.linspace(self.T, 0, steps + 1, dtype=torch.float64).round().long().tolist()
        return sorted(set(points), reverse=True)

    def plan(self, steps: int, exit_t: int = 0, jump: bool = False) -> list[tuple[int, int | None, bool]]:
        """The sampling schedule as (t, s, noisy) per network evaluation; s is None where the
        sampler stops and returns its x0 estimate (mean-skip at the exit point, or s = 0).

        Steps whose target s is at or above ``exit_t`` are stochastic, later ones use the
        posterior mean alone; with ``jump`` the first time at or below ``exit_t`` returns x0.
        """
        times = self.grid(steps)
        plan = []
        for t, s in zip(times[:-1], times[1:]):
            if jump and exit_t > 0 and t <= exit_t:
                plan.append((t, None, False))
                return plan
            noisy = s > 0 and (exit_t <= 0 or s >= exit_t)
            plan.append((t, s, noisy))
        return plan


# What the network regresses (the reference code's options): 'grad' is the paper's
# m_t (y - x0) + sqrt(d_t) eps = x_t - x0; 'ysubx' is y - x0, which leaves the noise out.
OBJECTIVES = ("grad", "ysubx")


def objective_target(objective: str, x_t, x0, y):
    return x_t - x0 if objective == "grad" else y - x0


def x0_from(objective: str, out, x_t, y, into=None):
    """The x0 estimate from the network output (``into``: an optional buffer to write)."""
    return torch.sub(x_t if objective == "grad" else y, out, out=into)


@torch.inference_mode()
def sample(
    eps_fn,
    y: torch.Tensor,
    bridge: Bridge,
    steps: int,
    exit_t: int = 0,
    jump: bool = False,
    generator: torch.Generator | None = None,
    clip: float | None = 1.0,
    objective: str = "grad",
) -> torch.Tensor:
    """Runs the reverse bridge from x_T = y down to an x0 estimate, batched over y's first axis.

    ``eps_fn(inp, t)`` gets ``inp = [x_t | y]`` (N x 2C x H x W, one buffer reused every step)
    and an int time; it returns the objective estimate (x0 = x_t - out for 'grad'). ``clip``
    bounds each x0 estimate (the reference code's clip_denoised); None leaves it free.
    Returns the final x0 estimate; the number of network evaluations is ``len(bridge.plan(...))``.
    """
    n, c = y.shape[:2]
    inp = torch.empty((n, 2 * c, *y.shape[2:]), dtype=y.dtype, device=y.device)
    x, cond = inp[:, :c], inp[:, c:]
    x.copy_(y)
    cond.copy_(y)
    x0 = torch.empty_like(y)
    noise = torch.empty_like(y)
    for t, s, noisy in bridge.plan(steps, exit_t, jump):
        x0_from(objective, eps_fn(inp, t), x, y, into=x0)
        if clip is not None:
            x0.clamp_(-clip, clip)
        if s is None or s == 0:
            return x0.clone()
        c_x0, c_y, c_xt, var = bridge.step_coefs(t, s)
        x.mul_(c_xt).add_(x0, alpha=c_x0).add_(y, alpha=c_y)
        if noisy and var > 0:
            noise.normal_(generator=generator)
            x.add_(noise, alpha=var**0.5)
    return x.clone()  # not reached: every plan ends at s = 0 or an exit
