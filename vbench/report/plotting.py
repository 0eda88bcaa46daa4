"""What the figures share: a matplotlib figure, text as matplotlib shows it, and the quality metric
and axis label of a board."""

from __future__ import annotations

from . import formatting
from .escape import plain


def text(value) -> str:
    return plain(value).replace("$", r"\$")


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def quality_metric(board) -> str | None:
    """The computed metric with the lowest ``rank_priority`` (a board ranked by another metric
    chosen with ``-m`` still plots the preferred quality metric), else the one the board is
    ranked by."""
    computed = [m for m in board.metrics if any(m in r["metrics"] for r in board.rows)]
    ranked = [m for m in computed if board.metrics[m].get("rank_priority") is not None]
    return min(ranked, key=lambda m: board.metrics[m]["rank_priority"]) if ranked else board.primary


def axis_label(board, metric: str, what: str = "") -> str:
    """``display name (unit)``, then ``what``."""
    info = board.metrics[metric]
    u = formatting.unit(info)
    return text(f"{formatting.display_name(metric, info)}{f' ({u})' if u else ''}{what}")
