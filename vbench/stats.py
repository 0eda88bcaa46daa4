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
            (x,),
            np.mean,
            n_resamples=N_RESAMPLES,
            confidence_level=0.95,
            method="percentile",
            random_state=np.random.default_rng(seed),
            vectorized=True,
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    else:
        half = 1.959963984540054 * std / math.sqrt(n)
        lo, hi = mean - half, mean + half
    return {"n": n, "mean": mean, "std": std, "ci_low": lo, "ci_high": hi}


# --- paired comparison of two runs on the same test tiles -------------------------------------

PAIRED_TESTS = ("bootstrap", "wilcoxon")


def paired_compare(
    a: dict,
    b: dict,
    higher_is_better: bool = True,
    test: str = "bootstrap",
    n_resamples: int = 10_000,
    seed: int = 0,
    alpha: float = 0.05,
    sources: dict | None = None,
) -> dict:
    """Compares per-tile scores ``a`` and ``b`` ({tile: value}) on the tiles both have.

    ``sources``: None, or {tile: the source image it was cut from}, as runs record them. Tiles of
    one image are not independent: with two or more sources, the tests resample (and rank) source
    images instead of tiles, exactly as leaderboard intervals do (:func:`paired_hierarchical`
    with one seed: one implementation for both).

    ``bootstrap``: the tiles (or sources) are resampled with replacement (the same resample for
    both runs) to get the distribution of the mean difference; the CI is its percentile interval
    and the two-sided p-value twice the smaller tail beyond 0. ``wilcoxon``: the Wilcoxon
    signed-rank test of the per-tile differences (per-source mean differences with sources;
    scipy; zero differences dropped), with the same bootstrap CI. Returns n, n_sources, means,
    mean difference a - b with its CI, p, which is better, and significance.
    """
    if test not in PAIRED_TESTS:
        raise ValueError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    out = paired_hierarchical([a], [b], higher_is_better, n_resamples, seed, alpha, sources=[sources])
    out["test"] = test
    del out["n_seeds"]
    if test == "wilcoxon" and out["p"] is not None:
        from scipy.stats import wilcoxon

        x, y, groups = _common(a, b, sources)
        d = x - y
        if groups is not None and len(set(groups)) > 1:
            _, inverse = np.unique(groups, return_inverse=True)
            d = np.bincount(inverse, weights=d) / np.bincount(inverse)
        out["p"] = float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue) if np.any(d) else 1.0
        out["significant"] = out["p"] < alpha
    return out


def tile_groups(tiles, sources) -> list | None:
    """The cluster of each tile for the bootstrap: its source image where ``sources`` ({tile:
    source}, as a run records them) names one, else the tile itself; None without sources."""
    if not sources or not isinstance(sources, dict):
        return None
    return [str(sources.get(t, f"tile {t}")) for t in tiles]


def _common(a: dict, b: dict, sources) -> tuple[np.ndarray, np.ndarray, list | None]:
    """Scores of the tiles both scored with finite values, in tile order, and their clusters."""
    tiles = sorted(t for t in set(a) & set(b) if _finite(a[t]) and _finite(b[t]))
    x = np.asarray([a[t] for t in tiles], dtype=np.float64)
    y = np.asarray([b[t] for t in tiles], dtype=np.float64)
    return x, y, tile_groups(tiles, sources)


def _finite(v) -> bool:
    # a score stored by another tool may be text ('high'): not a number, so not compared
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# --- two-level (hierarchical) bootstrap over seeds and tiles ----------------------------------

# Above this many tiles (or sources) in one seed, the bootstrap distribution of that seed's mean is
# normal to well within its own Monte-Carlo error: draw it from N(mean, sd/sqrt(n)) instead of
# resampling, which keeps a million-score leaderboard fast.
EXACT_MAX_UNITS = 1000
CHUNK = 4_000_000  # index draws per block, so memory stays bounded for many tiles


def hierarchical_bootstrap(
    seeds, groups=None, n_resamples: int = N_RESAMPLES, seed: int = 0, alpha: float = 0.05
) -> dict:
    """Mean and percentile interval of a method's score over seeds and test tiles.

    ``seeds``: one array of per-tile scores per training seed (non-finite values dropped; a seed
    without any is left out). ``groups``: None, or per seed an array of source labels (the slide
    or image each tile was cut from) of the same length. Each replicate resamples the seeds with
    replacement, then, independently for every seed drawn, its sources (a cluster bootstrap: the
    tiles of a drawn source come together) when there are two or more, else its tiles. The mean is
    the mean of the seeds' means; with one seed the interval covers tile (and source) variation
    only. Returns n (tiles), n_seeds, mean, seed_std (the std of the seeds' means; None for one
    seed), ci_low, ci_high."""
    reps, means, n = _replicates(seeds, groups, n_resamples, seed)
    out = {"n": n, "n_seeds": len(means), "mean": None, "seed_std": None, "ci_low": None, "ci_high": None}
    if not means:
        return out
    lo, hi = np.percentile(reps, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    out.update(
        mean=float(np.mean(means)),
        seed_std=float(np.std(means, ddof=1)) if len(means) > 1 else None,
        ci_low=float(min(lo, np.mean(means))),
        ci_high=float(max(hi, np.mean(means))),
    )
    return out


def paired_hierarchical(
    a_seeds,
    b_seeds,
    higher_is_better: bool = True,
    n_resamples: int = 10_000,
    seed: int = 0,
    alpha: float = 0.05,
    sources=None,
) -> dict:
    """The seed-aware paired test: ``a_seeds`` and ``b_seeds`` are per seed ({tile: value}) for the
    seeds both methods ran, in the same order; ``sources`` None or per seed {tile: source image}
    (or None). Per seed the differences a - b on the tiles both scored are bootstrapped as in
    :func:`hierarchical_bootstrap` (seeds, then tiles, or source images where recorded). Returns
    the paired_compare fields: n, n_seeds, n_sources (None where tiles were resampled), mean_a,
    mean_b, diff with its CI, two-sided p (twice the smaller tail of the replicates beyond 0; None
    with a single tile or source to resample), better and significant."""
    sources = sources or [None] * len(a_seeds)
    diffs, groups, xs, ys = [], [], [], []
    for a, b, src in zip(a_seeds, b_seeds, sources):
        x, y, g = _common(a, b, src)
        if x.size:
            diffs.append(x - y)
            groups.append(g)
            xs.append(x.mean())
            ys.append(y.mean())
    clusters = {c for g in groups if g is not None and len(set(g)) > 1 for c in g}
    out = {
        "n": int(sum(d.size for d in diffs)),
        "n_seeds": len(diffs),
        "n_sources": len(clusters) or None,
        "test": "hierarchical-bootstrap",
        "mean_a": None,
        "mean_b": None,
        "diff": None,
        "ci_low": None,
        "ci_high": None,
        "p": None,
        "better": None,
        "significant": False,
    }
    if not diffs:
        return out
    reps, means, _ = _replicates(diffs, groups, n_resamples, seed)
    diff = float(np.mean(means))
    lo, hi = np.percentile(reps, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    out.update(mean_a=float(np.mean(xs)), mean_b=float(np.mean(ys)), diff=diff, ci_low=float(lo), ci_high=float(hi))
    if len(diffs) == 1 and diffs[0].size == 1:
        pass  # one tile: nothing to resample, no p-value
    elif not any(np.any(d != 0) for d in diffs):
        out["p"] = 1.0
    else:
        tail = min((reps <= 0).mean(), (reps >= 0).mean())
        out["p"] = float(min(1.0, 2.0 * max(tail, 1.0 / n_resamples)))
    if diff != 0.0:
        out["better"] = "a" if (diff > 0) == bool(higher_is_better) else "b"
    out["significant"] = out["p"] is not None and out["p"] < alpha
    return out


def _replicates(seeds, groups, n_resamples: int, seed: int):
    """(replicates of the mean over seeds, each seed's mean, number of tiles)."""
    rng = np.random.default_rng(seed)
    cleaned = []
    for i, values in enumerate(seeds):
        x = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
        ok = np.isfinite(x)
        g = None if groups is None or groups[i] is None else np.asarray(groups[i])[ok]
        if ok.any():
            cleaned.append((x[ok], g))
    if not cleaned:
        return np.empty(0), [], 0
    k = len(cleaned)
    # per seed: a (B, k) block of bootstrap means, one column per slot a drawn seed can occupy,
    # so a seed drawn twice in one replicate gets two independent tile resamples
    blocks = np.stack([_unit_means(x, g, n_resamples, k, rng) for x, g in cleaned])
    if k == 1:
        reps = blocks[0, :, 0]
    else:
        pick = rng.integers(0, k, size=(n_resamples, k))
        reps = blocks[pick, np.arange(n_resamples)[:, None], np.arange(k)[None, :]].mean(axis=1)
    return reps, [float(x.mean()) for x, _ in cleaned], int(sum(x.size for x, _ in cleaned))


def _unit_means(x: np.ndarray, g, b: int, k: int, rng) -> np.ndarray:
    """b x k bootstrap means of one seed's tiles (or of its sources, when it has two or more)."""
    if g is not None:
        labels, inverse = np.unique(g, return_inverse=True)
        if labels.size > 1:
            sums = np.bincount(inverse, weights=x)
            counts = np.bincount(inverse).astype(np.float64)
            return _resampled(sums, counts, b * k, rng).reshape(b, k)
    return _resampled(x, None, b * k, rng).reshape(b, k)


def _resampled(values: np.ndarray, counts, total: int, rng) -> np.ndarray:
    """``total`` bootstrap means of ``values`` (or ratio means sum/count for clusters)."""
    n = values.size
    if n == 1:
        return np.full(total, values[0] / (counts[0] if counts is not None else 1.0))
    if n > EXACT_MAX_UNITS:
        if counts is None:
            mean, sd = values.mean(), values.std(ddof=1)
        else:  # ratio estimator's linearised standard error
            mean = values.sum() / counts.sum()
            sd = np.sqrt(((values - mean * counts) ** 2).sum() / (n - 1)) / counts.mean()
        return mean + sd / np.sqrt(n) * rng.standard_normal(total)
    out = np.empty(total)
    step = max(1, CHUNK // n)
    for start in range(0, total, step):
        m = min(step, total - start)
        idx = rng.integers(0, n, size=(m, n))
        out[start : start + m] = (
            values[idx].sum(axis=1) / counts[idx].sum(axis=1) if counts is not None else values[idx].mean(axis=1)
        )
    return out
