"""Renders leaderboards as a Rich table, Markdown, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

from .leaderboard import Board

FORMATS = ("table", "md", "csv", "json")
RUNTIME_COLUMNS = (("train_seconds", "train s", "{:.1f}"), ("infer_ms_p50", "ms/tile p50", "{:.2f}"),
                   ("peak_mem_mb", "peak MB", "{:.0f}"), ("n_params", "params", "{:,.0f}"),
                   ("flops_per_tile", "GFLOP/tile", "{:.3g}"))


def _arrow(info: dict) -> str:
    return "↑" if info["higher_is_better"] else "↓"


def _cell(row: dict, metric: str) -> str:
    if metric in row["metrics"]:
        m = row["metrics"][metric]
        if m["ci_low"] is None:
            return f"{m['mean']:.4g}"
        return f"{m['mean']:.4g} [{m['ci_low']:.4g}, {m['ci_high']:.4g}]"
    return "not computed" if metric in row["not_computed"] else "-"


def _rank(row: dict) -> str:
    if row.get("rank") is None:
        return "-"
    return f"={row['rank']}" if row["tied"] else str(row["rank"])


def _name(row: dict) -> str:
    text = row["label"] + (" (external)" if row["external"] else "")
    return text + (" (truncated)" if row["truncated"] else "")


def _runtime(row: dict, key: str, fmt: str) -> str:
    if row.get(key) is None:
        return "-"
    return fmt.format(row[key] / 1e9 if key == "flops_per_tile" else row[key])


def _header_lines(board: Board) -> list[str]:
    lines = [f"manifest {board.manifest_hash or 'unknown'}"]
    if board.note:
        lines.append(f"Note: {board.note}.")
    lines += [f"Warning: {w}." for w in board.warnings]
    return lines


def _pipelines(board: Board) -> list[str]:
    return [f"{m} {_arrow(i)}: {i['pipeline']}" for m, i in board.metrics.items() if i["pipeline"]]


def render(boards: list[Board], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([b.to_dict() for b in boards], indent=2, default=str)
    if fmt == "csv":
        return _csv(boards)
    if fmt == "md":
        return _markdown(boards)
    raise ValueError(fmt)


def _columns(board: Board) -> list[str]:
    return ["rank", "stainer", "seeds"] + [f"{m} {_arrow(i)} (mean [95% CI])" for m, i in board.metrics.items()] + \
        [label for _, label, _ in RUNTIME_COLUMNS]


def _cells(board: Board, row: dict) -> list[str]:
    return [_rank(row), _name(row), ",".join(map(str, row["seeds"]))] + \
        [_cell(row, m) for m in board.metrics] + [_runtime(row, k, f) for k, _, f in RUNTIME_COLUMNS]


def _markdown(boards: list[Board]) -> str:
    out = []
    for b in boards:
        out.append(f"## {b.dataset}\n")
        out += [f"{line}  " for line in _header_lines(b)]
        out.append("")
        cols = _columns(b)
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for row in b.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(b, row)) + " |")
        out.append("")
        out += [f"- {p}" for p in _pipelines(b)]
        out.append(f"- Ranked by {b.primary}; `=` marks ranks shared because the 95% CIs overlap.\n")
    return "\n".join(out)


def _csv(boards: list[Board]) -> str:
    buf = io.StringIO()
    metrics = sorted({m for b in boards for m in b.metrics})
    fields = ["dataset", "manifest_hash", "rank", "tied", "stainer", "preset", "external", "seeds", "truncated"]
    for m in metrics:
        fields += [f"{m}_mean", f"{m}_ci_low", f"{m}_ci_high", f"{m}_n"]
    fields += [k for k, _, _ in RUNTIME_COLUMNS] + ["infer_ms_p95", "tiles_per_s", "train_samples_per_s"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for b in boards:
        for row in b.rows:
            rec = {"dataset": b.dataset, "manifest_hash": b.manifest_hash, "rank": row.get("rank"),
                   "tied": row.get("tied"), "stainer": row["stainer"], "preset": row["preset"],
                   "external": row["external"], "seeds": " ".join(map(str, row["seeds"])),
                   "truncated": row["truncated"]}
            for m in metrics:
                v = row["metrics"].get(m)
                if v:
                    rec.update({f"{m}_mean": v["mean"], f"{m}_ci_low": v["ci_low"], f"{m}_ci_high": v["ci_high"],
                                f"{m}_n": v["n"]})
            for k in [k for k, _, _ in RUNTIME_COLUMNS] + ["infer_ms_p95", "tiles_per_s", "train_samples_per_s"]:
                rec[k] = row.get(k)
            w.writerow(rec)
    return buf.getvalue()


def rich_tables(boards: list[Board]):
    """Rich renderables for the terminal."""
    from rich.table import Table
    from rich.text import Text

    items = []
    for b in boards:
        t = Table(title=f"{b.dataset} — ranked by {b.primary or '(nothing computed)'}",
                  caption="\n".join(_header_lines(b) + _pipelines(b)), caption_justify="left")
        for i, col in enumerate(_columns(b)):
            t.add_column(col, overflow="fold", no_wrap=i < 2)
        for row in b.rows:
            t.add_row(*[Text(c) for c in _cells(b, row)])
        items.append(t)
    return items
