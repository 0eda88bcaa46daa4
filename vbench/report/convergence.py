"""A verdict on convergence from anytime curves: the validation gain over the last doubling of
training compute, per seed, and over seeds with a 95% t-interval. ``still improving: +0.8 dB per
doubling`` tells a reader that a row was stopped while it was still learning."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Below this gain per doubling (in the metric's unit) a curve is flat; unitless scores (SSIM) use
# the second figure.
FLAT = {"dB": 0.1}
FLAT_UNITLESS = 0.005


@dataclass
class Verdict:
    metric: str
    unit: str
    gain: float  # per doubling of training compute, in the metric's unit, positive = better
    ci_low: float | None
    ci_high: float | None
    seeds: int
    flat_below: float

    @property
    def text(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        ci = f" [{self.ci_low:+.2f}, {self.ci_high:+.2f}]" if self.ci_low is not None else ""
        if abs(self.gain) < self.flat_below:
            return f"flat (< {self.flat_below:g}{u} per doubling){ci}"
        word = "still improving" if self.gain > 0 else "getting worse"
        return f"{word}: {self.gain:+.2f}{u} per doubling{ci}"

    @property
    def short(self) -> str:
        """For narrow tables: ``+0.82 dB/2x``, ``flat``."""
        if abs(self.gain) < self.flat_below:
            return "flat"
        return f"{self.gain:+.2f}{' ' + self.unit if self.unit else ''}/2x"

    def to_dict(self) -> dict:
        return dict(asdict(self), text=self.text)


def curve_metric(rows: list[dict], presentations: dict) -> str | None:
    """The metric a verdict reads: of those the curve has, the one with the lowest rank priority
    (vbench's own: PSNR), else the first by name."""
    names = sorted({r["metric"] for r in rows})
    if not names:
        return None
    ranked = [m for m in names if (presentations.get(m) or {}).get("rank_priority") is not None]
    ranked.sort(key=lambda m: presentations[m]["rank_priority"])
    return (ranked or names)[0]


def last_doubling(rows: list[dict], metric: str, higher_is_better: bool = True) -> float | None:
    """The gain of ``metric`` over the last doubling of training compute of one curve (FLOPs where
    every point has them, else steps), per doubling: (end - the point nearest half the end's
    compute) / log2 of their ratio. None without two computed points."""
    points = [r for r in rows if r["metric"] == metric and r.get("value") is not None and math.isfinite(r["value"])]
    axis = "train_flops" if points and all(r.get("train_flops") for r in points) else "step"
    points = [r for r in points if r.get(axis)]
    if len(points) < 2:
        return None
    points.sort(key=lambda r: r[axis])
    end = points[-1]
    earlier = [r for r in points[:-1] if r[axis] < end[axis]]
    if not earlier:
        return None
    half = min(earlier, key=lambda r: abs(math.log2(end[axis] / r[axis]) - 1))
    gain = (end["value"] - half["value"]) / math.log2(end[axis] / half[axis])
    return gain if higher_is_better else -gain


def verdict(curves: list[list[dict]], presentations: dict, higher_is_better: dict | None = None) -> Verdict | None:
    """The verdict over the curves of a row's seeds (one list of stored curve rows per seed); None
    when no curve has two computed points of a common metric."""
    metric = curve_metric([r for c in curves for r in c], presentations)
    if metric is None:
        return None
    better = (higher_is_better or {}).get(metric, True)
    gains = [g for g in (last_doubling(c, metric, better) for c in curves) if g is not None]
    if not gains:
        return None
    unit = (presentations.get(metric) or {}).get("unit") or ""
    mean = sum(gains) / len(gains)
    low = high = None
    if len(gains) > 1:
        from scipy import stats

        sd = math.sqrt(sum((g - mean) ** 2 for g in gains) / (len(gains) - 1))
        half = stats.t.ppf(0.975, len(gains) - 1) * sd / math.sqrt(len(gains))
        low, high = mean - half, mean + half
    return Verdict(metric, unit, mean, low, high, len(gains), FLAT.get(unit, FLAT_UNITLESS))


def metric_facts(plugins=None) -> tuple[dict, dict]:
    """(presentations, higher_is_better) of the registered metrics, for :func:`verdict`."""
    from ..metric import presentation

    if plugins is None:
        from ..plugins import load_plugins

        plugins = load_plugins()
    entries = plugins.metrics.entries()
    better = {e.name: bool(getattr(e.obj, "higher_is_better", True)) for e in entries}
    return {e.name: presentation(e.obj) for e in entries}, better


def run_verdicts(store, run_ids: list[int], plugins=None) -> dict[int, Verdict]:
    """{run id: the verdict of its own curve} for the runs that have one."""
    curves = store.curves(run_ids)
    if not curves:
        return {}
    shown, better = metric_facts(plugins)
    out = {}
    for run_id, rows in curves.items():
        v = verdict([rows], shown, better)
        if v is not None:
            out[run_id] = v
    return out
