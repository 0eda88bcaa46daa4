"""Aggregates of per-tile scores: mean, std and a bootstrap 95% confidence interval."""

from __future__ import annotations

import math

import numpy as np

N_RESAMPLES = 2000
# Above this many tiles the bootstrap distribution of the mean is normal to well within its own
# Monte-Carlo error, and resampling would cost memory for nothing.
BOOTSTRAP_MAX_N = 20_000


def summarize(values, seed: int = 0) -> dict:
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    if n == 1 or std == 0.0:
        lo = hi = mean
    elif n <= BOOTSTRAP_MAX_N:
        from scipy.stats import bootstrap

        res = bootstrap(
            (x,), np.mean, n_resamples=N_RESAMPLES, confidence_level=0.95,
            method="percentile", random_state=np.random.default_rng(seed), vectorized=True,
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    else:
        half = 1.959963984540054 * std / math.sqrt(n)
        lo, hi = mean - half, mean + half
    return {"n": n, "mean": mean, "std": std, "ci_low": lo, "ci_high": hi}
