"""LaTeX tables (booktabs), one ``table`` per board, for ``\\input`` into a paper.

Needs ``\\usepackage{booktabs}`` and ``\\usepackage{graphicx}`` (wide tables are scaled to the
line width). Cells: mean +- half the 95% interval; the best row of a column in bold and the second
underlined only where the intervals separate them (``ranking.marks``); every string from plugins,
datasets and users escaped (``escape.latex``).
"""

from __future__ import annotations

import re

from . import formatting
from .escape import latex as tex
from .ranking import marks

PREAMBLE = (
    "% vbench leaderboard. Needs \\usepackage{booktabs} and \\usepackage{graphicx} in the preamble.\n"
    "% Regenerate with `vbench leaderboard --format latex` or `vbench publish`.\n"
)
LATEX_RUNTIME = (("train_seconds", "train (s)", "{:.1f}"), ("infer_ms_p50", "ms/tile", "{:.2f}"))
# More columns than this are scaled to \linewidth; narrower tables keep the text size.
SCALE_ABOVE = 8


def latex(boards) -> str:
    return PREAMBLE + "\n".join(_table(b) for b in boards)


def _table(board) -> str:
    metrics = list(board.metrics)
    heads = (
        ["rank", "method", "seeds"]
        + [formatting.metric_heading(m, board.metrics[m]) for m in metrics]
        + (["per doubling"] if formatting.has_convergence(board) else [])
        + [h for _, h, _ in LATEX_RUNTIME]
    )
    spec = "rll" + "r" * (len(heads) - 3)
    marked = {m: marks(board, m) for m in metrics}
    body = []
    for i, row in enumerate(board.rows):
        line = [tex(formatting.rank_cell(row)), tex(formatting.name(row)), tex(formatting.seeds_cell(row))]
        for m in metrics:
            line.append(_metric(row, m, marked[m].get(i)))
        if formatting.has_convergence(board):
            line.append(tex(formatting.convergence_cell(row, short=True)))
        line += [tex(formatting.runtime_cell(row, k, f)) for k, _, f in LATEX_RUNTIME]
        body.append(" & ".join(line) + r" \\")
    wide = len(heads) > SCALE_ABOVE
    out = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{" + _caption(board) + "}",
        r"\label{tab:vbench-" + _label(board) + "}",
    ]
    if wide:
        out.append(r"\resizebox{\linewidth}{!}{%")
    out += [r"\begin{tabular}{" + spec + "}", r"\toprule", " & ".join(tex(h) for h in heads) + r" \\", r"\midrule"]
    out += body
    out += [r"\bottomrule", r"\end{tabular}" + ("}" if wide else "")]
    notes = _notes(board)
    if notes:
        out += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize", notes, r"\end{minipage}"]
    out += [r"\end{table}", ""]
    return "\n".join(out)


def _metric(row: dict, metric: str, mark: str | None) -> str:
    if metric not in row["metrics"]:
        return "n/c" if metric in row["not_computed"] else "--"
    mean, half = formatting.plus_minus(row["metrics"][metric])
    text = mean if half is None else f"{mean} $\\pm$ {half}"
    if mark == "best":
        return r"\textbf{" + text + "}"
    if mark == "second":
        return r"\underline{" + text + "}"
    return text


def _caption(board) -> str:
    """Dataset, manifest prefix, seeds and hardware (user text, escaped), then the fixed reading guide."""
    seeds = ", ".join(map(str, board.seeds)) or "none"
    where = "; ".join(board.hardware) or "hardware not recorded"
    text = tex(
        f"vbench leaderboard of {formatting.title(board)} (manifest {(board.manifest_hash or 'unknown')[:12]}), "
        f"seeds {seeds}, {where}."
    )
    if board.label:
        text += " " + tex(board.label.rstrip(".") + ".")
    return (
        text
        + r" Mean $\pm$ half the 95\% interval (two-level bootstrap over seeds and test tiles); ranked by "
        + tex(board.primary or "nothing")
        + "; bold: best, underlined: second, only where the intervals "
        "separate them."
    )


def _notes(board) -> str:
    lines = formatting.footer_lines(board)[1:]  # the interval rule is in the caption
    if any(row["not_computed"].keys() & board.metrics.keys() for row in board.rows):
        lines.append("n/c: not computed for that row.")
    lines += [f"Warning: {w}" for w in board.warnings]
    lines += [f"Note: {board.note}"] if board.note else []
    lines.append("Metric pipelines: `vbench metrics list` and the published README")
    return " ".join(tex(line.rstrip(".") + ".") for line in lines)


def _label(board) -> str:
    whole = "-whole" if getattr(board, "evaluation", "tiles") == "whole" else ""
    ident = f"{board.dataset}-{(board.manifest_hash or '')[:8]}{whole}"
    return re.sub(r"[^A-Za-z0-9-]+", "-", ident).strip("-") or "board"
