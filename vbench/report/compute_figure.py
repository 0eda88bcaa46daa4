"""The ``compute`` figure of a board: test quality against training compute, one line per method
through its budget runs (``--budgets``, ``NAME:PRESET@xN``) with the seeds' 95% intervals, FLOPs on
a log axis, each run's validation curve faint behind; stainers that do not train (one run, no
curve) as dashed reference lines."""

from __future__ import annotations

import statistics
from collections import defaultdict

from ..run.spec import method_label, stainer_label
from .plotting import axis_label, new_figure, quality_metric, text

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def methods(board, metric: str) -> dict[str, list[dict]]:
    """{method label: its rows with training FLOPs and ``metric``, by compute}."""
    out: dict[str, list[dict]] = defaultdict(list)
    for row in board.rows:
        if metric in row["metrics"]:
            out[stainer_label(row["stainer"], method_label(row["preset"]))].append(row)
    return {k: sorted(v, key=lambda r: r.get("train_flops") or 0) for k, v in out.items()}


def draw_compute(store, board):
    metric = quality_metric(board)
    if metric is None:
        return None
    grouped = methods(board, metric)
    trained = {k: [r for r in rows if r.get("train_flops")] for k, rows in grouped.items()}
    lines = {k: rows for k, rows in trained.items() if len(rows) > 1 or any(r.get("convergence") for r in rows)}
    if not lines:
        return None
    curves = store.curves([i for rows in lines.values() for r in rows for i in r["run_ids"]]) if store else {}
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    for color, (label, rows) in zip(_cycle(), sorted(lines.items())):
        for r in rows:  # validation curves, faint
            for run_id in r["run_ids"]:
                pts = [p for p in curves.get(run_id, []) if p["metric"] == metric and p["value"] is not None]
                pts = [p for p in pts if p.get("train_flops")]
                if len(pts) > 1:
                    ax.plot([p["train_flops"] for p in pts], [p["value"] for p in pts], color=color, alpha=0.18, lw=0.8)
        xs = [r["train_flops"] for r in rows]
        ys = [r["metrics"][metric]["mean"] for r in rows]
        low = [
            y - (r["metrics"][metric].get("ci_low") if r["metrics"][metric].get("ci_low") is not None else y)
            for r, y in zip(rows, ys)
        ]
        high = [
            (r["metrics"][metric].get("ci_high") if r["metrics"][metric].get("ci_high") is not None else y) - y
            for r, y in zip(rows, ys)
        ]
        ax.errorbar(xs, ys, yerr=[low, high], fmt="o-", color=color, capsize=3, lw=1.4, ms=4, label=text(label))
    for color, (label, rows) in zip(_cycle(offset=len(lines)), sorted(grouped.items())):
        if label in lines or len(rows) != 1:
            continue
        ax.axhline(
            rows[0]["metrics"][metric]["mean"], color=color, ls="--", lw=1, label=text(f"{label} (no training curve)")
        )
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs (log scale)")
    higher = board.metrics[metric]["higher_is_better"]
    ax.set_ylabel(axis_label(board, metric, f" on the test tiles ({'higher' if higher else 'lower'} is better)"))
    seconds = _seconds_per_flop([r for rows in lines.values() for r in rows])
    if seconds and len(board.hardware) == 1:
        top = ax.secondary_xaxis("top", functions=(lambda f: f * seconds, lambda s: s / seconds))
        top.set_xlabel(text(f"training seconds at these runs' median FLOP rate ({board.hardware[0]})"), fontsize=7)
    ax.set_title(text(f"{board.dataset}: test quality vs training compute (faint: validation curves)"), fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return fig


def _seconds_per_flop(rows) -> float | None:
    ratios = [r["train_seconds"] / r["train_flops"] for r in rows if r.get("train_seconds") and r.get("train_flops")]
    return statistics.median(ratios) if ratios else None


def _cycle(offset: int = 0):
    i = offset
    while True:
        yield COLORS[i % len(COLORS)]
        i += 1
