"""Renders boards as Markdown, CSV, JSON, LaTeX or HTML text (the terminal table: ``terminal.py``).
Every string that a plugin, dataset or user wrote is escaped for its format (``escape.py``)."""

from __future__ import annotations

import csv
import io
import json

from . import escape, formatting
from .leaderboard import Board

FORMATS = ("table", "md", "csv", "json", "latex", "html")


def render(boards: list[Board], fmt: str) -> str:
    if fmt == "json":
        return to_json(boards)
    if fmt == "csv":
        return _csv(boards)
    if fmt == "md":
        return markdown(boards)
    if fmt == "latex":
        from .latex import latex

        return latex(boards)
    if fmt == "html":
        from .html import page

        return page(boards)
    raise ValueError(f"no text rendering {fmt!r}; use one of {', '.join(FORMATS[1:])}")


def to_json(boards: list[Board]) -> str:
    """The boards with their footnotes (``notes``). Key order is kept: a board's ``metrics`` are
    in column order."""
    return json.dumps(
        [dict(b.to_dict(), notes=formatting.footer_lines(b)) for b in boards], indent=2, ensure_ascii=False, default=str
    )


def markdown(boards: list[Board], heading: str = "##", figures: bool = False) -> str:
    """Markdown tables; with ``figures``, each board's figures under its table."""
    md = escape.markdown
    out = []
    for b in boards:
        out.append(f"{heading} {md(formatting.title(b))}\n")
        out += [f"{md(line)}  " for line in formatting.header_lines(b)]
        out.append("")
        cols = formatting.columns(b)
        out.append("| " + " | ".join(md(c) for c in cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for row in b.rows:
            out.append("| " + " | ".join(md(c) for c in formatting.cells(b, row)) + " |")
        out.append("")
        out += [f"- {md(line)}" for line in formatting.footer_lines(b)]
        out += [f"- {md(p)}" for p in formatting.pipelines(b)]
        out.append(f"- {md(formatting.provenance_line(b))}")
        out.append("")
        shown = [(f, escape.relative_url(f.get("path"))) for f in b.figures] if figures else []
        shown = [(f, url) for f, url in shown if url is not None]  # only files inside the published folder
        if shown:
            out += [f"![{md(f.get('caption') or f.get('kind'))}]({url})" for f, url in shown]
            out.append("")
    return "\n".join(out)


_CSV_RUNTIME = [k for k, _, _ in formatting.RUNTIME_COLUMNS] + ["infer_ms_p95", "tiles_per_s", "train_samples_per_s"]
_CSV_CONVERGENCE = ["convergence_metric", "convergence_gain", "convergence_ci_low", "convergence_ci_high"]


def _csv(boards: list[Board]) -> str:
    buf = io.StringIO()
    metrics = list(dict.fromkeys(m for b in boards for m in b.metrics))
    fields = [
        "dataset",
        "manifest_hash",
        "evaluation",
        "rank",
        "tied",
        "stainer",
        "preset",
        "label",
        "external",
        "seeds",
        "truncated",
    ]
    units = {m: formatting.unit(b.metrics[m]) for b in reversed(boards) for m in b.metrics}
    for m in metrics:
        fields += [f"{m}_mean", f"{m}_ci_low", f"{m}_ci_high", f"{m}_unit", f"{m}_n", f"{m}_n_seeds"]
    fields += _CSV_RUNTIME + _CSV_CONVERGENCE
    w = csv.DictWriter(buf, fieldnames=[escape.csv_text(f) for f in fields], lineterminator="\n")
    w.writeheader()
    t = escape.csv_text
    for b in boards:
        for row in b.rows:
            rec = {
                "dataset": t(b.dataset),
                "manifest_hash": t(b.manifest_hash or ""),
                "evaluation": t(getattr(b, "evaluation", "tiles")),
                "rank": row.get("rank"),
                "tied": row.get("tied"),
                "stainer": t(row["stainer"]),
                "preset": t(row["preset"]),
                "label": t(formatting.name(row)),
                "external": row["external"],
                "seeds": " ".join(map(str, row["seeds"])),
                "truncated": row["truncated"],
            }
            for m in metrics:
                rec[f"{m}_unit"] = t(units[m])
                v = row["metrics"].get(m)
                if v:
                    rec.update(
                        {
                            f"{m}_mean": v["mean"],
                            f"{m}_ci_low": v["ci_low"],
                            f"{m}_ci_high": v["ci_high"],
                            f"{m}_n": v["n"],
                            f"{m}_n_seeds": v.get("n_seeds"),
                        }
                    )
            for k in _CSV_RUNTIME:
                rec[k] = row.get(k)
            found = row.get("convergence") or {}
            rec.update({k: found.get(k.removeprefix("convergence_")) for k in _CSV_CONVERGENCE})
            rec["convergence_metric"] = t(found.get("metric") or "")
            w.writerow({escape.csv_text(k): v for k, v in rec.items()})
    return buf.getvalue()
