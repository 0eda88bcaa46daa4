"""Ranks as tiers, and which cells a table may call best or second.

A row's rank is 1 + the number of rows whose 95% interval lies wholly on the better side of its
own; rows whose intervals overlap can share a rank (shown ``=N``). Best and second are marked only
where the intervals separate them: the best must lie wholly above (or below) every other row, the
second wholly between the best and all the rest.
"""

from __future__ import annotations

from collections import Counter

RANK_RULE = (
    "Rank: 1 + the number of rows whose 95% interval lies wholly on the better side of the row's own "
    "interval; '=' marks a rank shared by rows whose intervals do not separate them."
)


def bounds(m: dict) -> tuple[float, float]:
    """A figure without an interval ranks by its mean alone."""
    if m.get("ci_low") is None or m.get("ci_high") is None:
        return m["mean"], m["mean"]
    return m["ci_low"], m["ci_high"]


def _wholly_better(a: dict, b: dict, higher: bool) -> bool:
    (alo, ahi), (blo, bhi) = bounds(a), bounds(b)
    return alo > bhi if higher else ahi < blo


def rank(board) -> None:
    """Sets ``rank`` and ``tied`` on the rows by the board's primary metric and sorts them."""
    primary = board.primary
    for r in board.rows:
        r["rank"], r["tied"] = None, False
    if primary is None:
        board.rows.sort(key=lambda r: r["label"])
        return
    higher = board.metrics[primary]["higher_is_better"]
    scored = [r for r in board.rows if primary in r["metrics"]]
    for r in scored:
        mine = r["metrics"][primary]
        r["rank"] = 1 + sum(_wholly_better(o["metrics"][primary], mine, higher) for o in scored)
    counts = Counter(r["rank"] for r in scored)
    for r in scored:
        r["tied"] = counts[r["rank"]] > 1
    sign = -1.0 if higher else 1.0
    board.rows.sort(
        key=lambda r: (
            r["rank"] is None,
            r["rank"] or 0,
            sign * r["metrics"].get(primary, {}).get("mean", 0.0),
            r["label"],
        )
    )


def marks(board, metric: str) -> dict[int, str]:
    """{row index: "best" | "second"} for one metric column, only where intervals separate."""
    higher = board.metrics[metric]["higher_is_better"]
    have = [(i, r["metrics"][metric]) for i, r in enumerate(board.rows) if metric in r["metrics"]]
    if len(have) < 2:
        return {}
    have.sort(key=lambda p: p[1]["mean"], reverse=higher)
    (best_i, best), rest = have[0], have[1:]
    if not all(_wholly_better(best, m, higher) for _, m in rest):
        return {}  # a tie at the top: nothing is bold
    out = {best_i: "best"}
    (second_i, second), others = rest[0], rest[1:]
    if all(_wholly_better(second, m, higher) for _, m in others):
        out[second_i] = "second"
    return out
