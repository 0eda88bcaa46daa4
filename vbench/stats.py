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


# --- paired comparison of two runs on the same test tiles -------------------------------------

PAIRED_TESTS = ("bootstrap", "wilcoxon")


def paired_compare(a: dict, b: dict, higher_is_better: bool = True, test: str = "bootstrap",
                   n_resamples: int = 10_000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Compares per-tile scores ``a`` and ``b`` ({tile: value}) on the tiles both have.

    ``bootstrap``: the tiles are resampled with replacement (the same resample for both runs) to get
    the distribution of the mean difference; the 95% CI is its percentile interval and the two-sided
    p-value twice the smaller tail beyond 0. ``wilcoxon``: the Wilcoxon signed-rank test of the
    per-tile differences (scipy; zero differences dropped), with the same bootstrap CI.
    Returns n, means, mean difference a - b with its CI, p, which is better, and significance.
    """
    if test not in PAIRED_TESTS:
        raise ValueError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    tiles = sorted(t for t in set(a) & set(b) if _finite(a[t]) and _finite(b[t]))
    n = len(tiles)
    out = {"n": n, "test": test, "mean_a": None, "mean_b": None, "diff": None, "ci_low": None, "ci_high": None,
           "p": None, "better": None, "significant": False}
    if n == 0:
        return out
    x = np.asarray([a[t] for t in tiles], dtype=np.float64)
    y = np.asarray([b[t] for t in tiles], dtype=np.float64)
    d = x - y
    out.update(mean_a=float(x.mean()), mean_b=float(y.mean()), diff=float(d.mean()))
    if n == 1:
        out.update(ci_low=float(d[0]), ci_high=float(d[0]))
    else:
        rng = np.random.default_rng(seed)
        means = np.empty(n_resamples)
        for start in range(0, n_resamples, 1000):  # bounded memory for many tiles
            k = min(1000, n_resamples - start)
            idx = rng.integers(0, n, size=(k, n))
            means[start:start + k] = d[idx].mean(axis=1)
        lo, hi = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        out.update(ci_low=float(lo), ci_high=float(hi))
        if not np.any(d != 0):
            out["p"] = 1.0
        elif test == "bootstrap":
            tail = min((means <= 0).mean(), (means >= 0).mean())
            out["p"] = float(min(1.0, 2.0 * max(tail, 1.0 / n_resamples)))
        else:
            from scipy.stats import wilcoxon

            out["p"] = float(wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue)
    if out["diff"] != 0.0:
        out["better"] = "a" if (out["diff"] > 0) == bool(higher_is_better) else "b"
    out["significant"] = out["p"] is not None and out["p"] < alpha
    return out


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)
