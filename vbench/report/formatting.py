"""What every rendering of a board shows, as plain text: cell values, column headings and the
footer. Each format escapes these strings its own way (``escape.py``); nothing here is escaped.
"""

from __future__ import annotations

import math

from .ranking import RANK_RULE

# (row field, heading, format); flops are shown in GFLOP
RUNTIME_COLUMNS = (
    ("train_seconds", "train s", "{:.1f}"),
    ("infer_ms_p50", "ms/tile p50", "{:.2f}"),
    ("peak_mem_mb", "peak MB", "{:.0f}"),
    ("n_params", "params", "{:,.0f}"),
    ("flops_per_tile", "GFLOP/tile", "{:.3g}"),
    ("train_flops", "train FLOPs", "{:.3g}"),
)
HTML_RUNTIME_COLUMNS = (
    RUNTIME_COLUMNS[:2]
    + (("infer_ms_p95", "ms/tile p95", "{:.2f}"), ("tiles_per_s", "tiles/s", "{:.3g}"))
    + RUNTIME_COLUMNS[2:]
)
CONVERGENCE = "convergence (val, last doubling)"


def title(board) -> str:
    """A board's name: its dataset, and ``whole images`` for rows scored on whole-image regions."""
    whole = getattr(board, "evaluation", "tiles") == "whole"
    return f"{board.dataset} — whole images" if whole else board.dataset


def section_key(board) -> str:
    """What tells two boards of one dataset and manifest apart in anchors and file names."""
    return f"{board.dataset}\0{board.manifest_hash}" + (
        "\0whole" if getattr(board, "evaluation", "tiles") == "whole" else ""
    )


def arrow(info: dict) -> str:
    return "↑" if info["higher_is_better"] else "↓"


def unit(info: dict) -> str:
    """A board metric's unit, as its metric declared it (``""``: unitless)."""
    return info.get("unit") or ""


def display_name(metric: str, info: dict) -> str:
    """What headings call a board metric: its declared display name, else its name."""
    return info.get("display_name") or metric


def number(v: float) -> str:
    return f"{v:.4g}"


def interval(m: dict) -> str:
    """``mean [low, high]`` (the mean alone for a figure without an interval)."""
    if m.get("ci_low") is None or m.get("ci_high") is None:
        return number(m["mean"])
    return f"{number(m['mean'])} [{number(m['ci_low'])}, {number(m['ci_high'])}]"


def plus_minus(m: dict) -> tuple[str, str | None]:
    """(mean, half-width of the interval) rounded together: the half-width to two significant
    digits and the mean to the same decimal place. Half-width None without an interval."""
    if m.get("ci_low") is None or m.get("ci_high") is None:
        return number(m["mean"]), None
    half = (m["ci_high"] - m["ci_low"]) / 2
    if half <= 0 or not math.isfinite(half):
        return number(m["mean"]), "0"
    places = max(0, 1 - math.floor(math.log10(half)))
    return f"{m['mean']:.{places}f}", f"{half:.{places}f}"


def metric_cell(row: dict, metric: str) -> str:
    if metric in row["metrics"]:
        return interval(row["metrics"][metric])
    return "not computed" if metric in row["not_computed"] else "-"


def rank_cell(row: dict) -> str:
    if row.get("rank") is None:
        return "-"
    return f"={row['rank']}" if row.get("tied") else str(row["rank"])


def name(row: dict) -> str:
    text = row["label"] + (" (external)" if row["external"] else "")
    return text + (" (truncated)" if row["truncated"] else "")


def seeds_cell(row: dict) -> str:
    return ",".join(map(str, row["seeds"]))


def convergence_cell(row: dict, short: bool = False) -> str:
    """The row's verdict on convergence (:mod:`.convergence`), or ``-`` without a curve."""
    found = row.get("convergence")
    if not found:
        return "-"
    if not short:
        return found["text"]
    flat = abs(found["gain"]) < found["flat_below"]
    return "flat" if flat else f"{found['gain']:+.2f}{' ' + found['unit'] if found['unit'] else ''}/2x"


def has_convergence(board) -> bool:
    return any(r.get("convergence") for r in board.rows)


def runtime_cell(row: dict, key: str, fmt: str) -> str:
    if row.get(key) is None:
        return "-"
    return fmt.format(row[key] / 1e9 if key == "flops_per_tile" else row[key])


def metric_heading(metric: str, info: dict) -> str:
    u = unit(info)
    return f"{display_name(metric, info)}{f' ({u})' if u else ''} {arrow(info)}"


def columns(board) -> list[str]:
    return (
        ["rank", "stainer", "seeds"]
        + [f"{metric_heading(m, i)} mean [95% CI]" for m, i in board.metrics.items()]
        + ([CONVERGENCE] if has_convergence(board) else [])
        + [heading for _, heading, _ in RUNTIME_COLUMNS]
    )


def cells(board, row: dict) -> list[str]:
    return (
        [rank_cell(row), name(row), seeds_cell(row)]
        + [metric_cell(row, m) for m in board.metrics]
        + ([convergence_cell(row)] if has_convergence(board) else [])
        + [runtime_cell(row, k, f) for k, _, f in RUNTIME_COLUMNS]
    )


WHOLE_NOTE = (
    "Whole images: each figure is over the dataset's whole-image test regions, each stained on overlapping "
    "tiles, blended and scored whole (whole-image metrics measure the tile grid); never mixed with tile rows."
)


def header_lines(board) -> list[str]:
    lines = [f"manifest {board.manifest_hash or 'unknown'}"]
    if getattr(board, "evaluation", "tiles") == "whole":
        lines.append(WHOLE_NOTE)
    if board.label:
        lines.append(board.label)
    if board.note:
        lines.append(f"Note: {board.note.rstrip('.')}.")
    lines += [f"Warning: {w.rstrip('.')}." for w in board.warnings]
    return lines


def seed_note(board) -> str | None:
    """Says where intervals leave out seed-to-seed variation (rows with one seed)."""
    single = [r for r in board.rows if r["metrics"] and len(r["seeds"]) == 1]
    if not single:
        return None
    if len(single) == len(board.rows):
        return "One seed per row: the intervals cover test-tile variation only; seed-to-seed variance is not included."
    return (
        f"Rows with one seed ({', '.join(r['label'] for r in single)}): their intervals cover test-tile "
        f"variation only; seed-to-seed variance is not included."
    )


INTERVAL_RULE = (
    "Mean over seeds of each seed's mean over the test tiles; 95% interval from a two-level "
    "bootstrap (seeds resampled, then tiles within each seed, or the source images of its tiles "
    "where the runs recorded them)."
)


def pipelines(board) -> list[str]:
    return [f"{m} {arrow(i)}: {i['pipeline']}" for m, i in board.metrics.items() if i["pipeline"]]


def footer_lines(board) -> list[str]:
    """The notes under every rendering of a board: how figures and ranks are made, what is left out."""
    lines = [INTERVAL_RULE]
    if getattr(board, "budget", ""):
        lines.append(board.budget)
    if has_convergence(board):
        lines.append(
            "Convergence: the gain of the validation curve's metric over the last doubling of training compute "
            "(mean over seeds, 95% t-interval with two or more seeds); flat below 0.1 dB (0.005 unitless)."
        )
    if board.primary:
        lines.append(f"Ranked by {board.primary}. {RANK_RULE}")
    else:
        lines.append("Unranked: no metric was computed for every row.")
    note = seed_note(board)
    if note:
        lines.append(note)
    for m, why in board.hidden.items():
        lines.append(f"{m} is left out: not computed for any row ({short(why)}).")
    lines += getattr(board, "excluded", [])  # stored runs and figures the board could not use
    return lines


def short(reason: str, limit: int = 240) -> str:
    """The first sentence of a reason, for footnotes (the JSON keeps it whole)."""
    first = reason.strip().split(". ", 1)[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def provenance_line(board) -> str:
    from ..store.urls import display_url  # a board read from JSON may hold a URL with a password

    p = board.provenance or {}
    versions = ", ".join(p.get("vbench_version") or []) or "unknown"
    commits = ", ".join(c[:12] + ("-dirty" if c.endswith("-dirty") else "") for c in p.get("git_commit") or [])
    where = "; ".join(board.hardware) if board.hardware else "hardware not recorded"
    return (
        f"vbench {versions}"
        + (f", commit {commits}" if commits else "")
        + (f", database {display_url(str(p['database']))}" if p.get("database") else "")
        + f"; {where}"
    )
