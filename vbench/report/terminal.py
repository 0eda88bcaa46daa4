"""The terminal table of a board: its headline metrics, one line per row, fitted to the console.

By default a board shows its ranking metric, then the metrics that declare a ``rank_priority``
(lowest first), then its other metric columns: at most ``DEFAULT_METRICS`` and only as many as fit
the console's width beside rank, stainer, train seconds and ms/tile. Cells are compact: the mean
and half its 95% interval rounded together (``18.44 ±0.21``), headings carry the unit
(``psnr dB ↑``). Metrics the user asked for (``-m``, ``--all-metrics``) are all shown: those that
do not fit beside the first ones continue in further tables of the same rows. No cell wraps: long
stainer names are shortened in the middle (``a-method-who…atter:quick``), to ``NAME_MIN`` cells
before a default metric is left out, and further when even one metric would not fit.

The notes under a table say which metrics are not shown and how to see them; the Markdown, HTML,
LaTeX, CSV and JSON renderings keep every column and the metric pipelines.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from . import formatting
from .escape import plain
from .leaderboard import Board, preferred

DEFAULT_METRICS = 4
NATURAL = 10_000  # a width no table reaches: measuring at it gives a table's unshrunk width
RUNTIME = (("train_seconds", "train s"), ("infer_ms_p50", "ms/tile"))
NAME_MIN = 24  # stainer names are shortened to this before a default metric is left out
NAME_SQUEEZED = 8  # and to what is left, at least this, when even one metric does not fit


def rich_tables(boards: list[Board], metrics: list[str] | None = None, all_metrics: bool = False) -> list:
    """One renderable per board, for a Rich console (printed with markup off). ``metrics``: the
    metric columns to show (the ranking metric is always shown, first); ``all_metrics``: every
    one; default: the headline metrics that fit."""
    return [BoardTable(b, *shown_metrics(b, metrics, all_metrics)) for b in boards]


def shown_metrics(board: Board, metrics: list[str] | None = None, all_metrics: bool = False) -> tuple[list, bool]:
    """(the metric columns in order, whether every one of them must be shown)."""
    first = [board.primary] if board.primary in board.metrics else []
    if metrics:
        return first + [m for m in dict.fromkeys(metrics) if m in board.metrics and m not in first], True
    rest = preferred(board, [m for m in board.metrics if m not in first])
    if all_metrics:
        return first + rest, True
    return (first + rest)[:DEFAULT_METRICS], False


def metric_cell(row: dict, metric: str) -> str:
    """``mean ±half-interval`` (the mean alone without an interval); ``n/c``: not computed."""
    if metric not in row["metrics"]:
        return "n/c" if metric in row["not_computed"] else "-"
    mean, half = formatting.plus_minus(row["metrics"][metric])
    return mean if half is None else f"{mean} ±{half}"


def runtime_cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its middle left out (``a-long…:quick``): the end of a
    label (preset, parameters) tells rows apart as much as its start."""
    if cell_len(text) <= width:
        return text
    if width < 2:
        return "…"[:width]
    head = width // 2
    tail = width - 1 - head
    return set_cell_size(text, head) + "…" + set_cell_size(text[::-1], tail)[::-1]


def heading(metric: str, info: dict) -> str:
    """``display name unit arrow``: ``psnr dB ↑``."""
    unit = formatting.unit(info)
    return f"{formatting.display_name(metric, info)}{f' {unit}' if unit else ''} {formatting.arrow(info)}"


class BoardTable:
    """A board as one or more Rich tables and its notes, laid out at render time for the width
    the console offers."""

    def __init__(self, board: Board, metrics: list[str], complete: bool):
        self.board, self.metrics, self.complete = board, metrics, complete
        self.names = [formatting.name(r) for r in board.rows]

    def __rich_console__(self, console, options):
        from rich.text import Text

        layout = self._layout(console, options, options.max_width)
        for i, (group, names) in enumerate(layout):
            if i:
                yield Text("")
            yield self._table(group, names, runtime=i == 0, continued=i > 0)
        yield Text("\n".join(plain(line) for line in self._notes([m for g, _ in layout for m in g])), overflow="fold")
        yield Text("")

    def _width(self, console, options, table) -> int:
        from rich.measure import Measurement

        return Measurement.get(console, options.update_width(NATURAL), table).maximum

    def _names_width(self, console, options, metrics, runtime, continued, width) -> int | None:
        """The stainer column's width at which a table of ``metrics`` fits: the longest name, else
        names shortened to ``NAME_MIN``; None when neither fits."""
        longest = max([cell_len(plain(n)) for n in self.names] + [len("stainer")])
        for names in dict.fromkeys((longest, min(longest, NAME_MIN))):
            if self._width(console, options, self._table(metrics, names, runtime, continued)) <= width:
                return names
        return None

    def _squeezed(self, console, options, metrics, runtime, continued, width) -> int:
        """The stainer column's width when even one metric does not fit beside full names."""
        rest = self._width(console, options, self._table(metrics, 1, runtime, continued)) - 1
        return max(NAME_SQUEEZED, width - rest)

    def _layout(self, console, options, width: int) -> list[tuple[list[str], int]]:
        """(metric columns, stainer column width) of each table. By default one table of as many
        metrics as fit; asked-for metrics continue in further tables."""
        if not self.complete or not self.metrics:
            for k in range(len(self.metrics), 0, -1):
                names = self._names_width(console, options, self.metrics[:k], True, False, width)
                if names is not None:
                    return [(self.metrics[:k], names)]
            first = self.metrics[:1]
            return [(first, self._squeezed(console, options, first, True, False, width))]
        layout, todo = [], list(self.metrics)
        while todo:
            runtime, continued = not layout, bool(layout)
            group = [todo.pop(0)]
            names = self._names_width(console, options, group, runtime, continued, width)
            if names is None:
                names = self._squeezed(console, options, group, runtime, continued, width)
            while todo:
                wider = self._names_width(console, options, group + todo[:1], runtime, continued, width)
                if wider is None:
                    break
                group.append(todo.pop(0))
                names = wider
            layout.append((group, names))
        return layout

    def _table(self, metrics: list[str], names: int, runtime: bool, continued: bool = False):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        b = self.board
        ranked_by = formatting.display_name(b.primary, b.metrics[b.primary]) if b.primary in b.metrics else None
        title = f"{formatting.title(b)} — " + (f"ranked by {ranked_by}" if ranked_by else "unranked")
        t = Table(
            title=Text(plain(title + (" (continued)" if continued else ""))),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
            header_style="bold",
        )
        seeds = len({tuple(r["seeds"]) for r in b.rows}) > 1
        t.add_column("rank", justify="right", no_wrap=True)
        t.add_column("stainer", no_wrap=True, overflow="ellipsis", max_width=names)
        if seeds:
            t.add_column("seeds", no_wrap=True)
        for m in metrics:
            cells = [metric_cell(r, m) for r in b.rows]
            head = plain(heading(m, b.metrics[m]))
            # A long heading wraps at its spaces rather than widen the column past its numbers.
            longest = max([len(w) for w in head.split()] + [len(c) for c in cells] + [len(head) * (len(head) <= 12)])
            t.add_column(Text(head, no_wrap=False, overflow="fold"), justify="right", no_wrap=True, max_width=longest)
        converge = formatting.has_convergence(b) and runtime
        if converge:
            t.add_column("/2x", justify="right", no_wrap=True)
        if runtime:
            for _, head in RUNTIME:
                t.add_column(head, justify="right", no_wrap=True)
        for row, name in zip(b.rows, self.names):
            cells = [formatting.rank_cell(row), shorten(plain(name), names)]
            cells += [formatting.seeds_cell(row)] if seeds else []
            cells += [metric_cell(row, m) for m in metrics]
            cells += [formatting.convergence_cell(row, short=True)] if converge else []
            cells += [runtime_cell(row, key) for key, _ in RUNTIME] if runtime else []
            t.add_row(*[Text(plain(c), no_wrap=True, overflow="ellipsis") for c in cells])
        return t

    def _notes(self, shown: list[str]) -> list[str]:
        b = self.board
        lines = formatting.header_lines(b) + formatting.footer_lines(b)
        if len({tuple(r["seeds"]) for r in b.rows}) == 1 and b.rows and len(b.rows[0]["seeds"]) > 1:
            lines.append(f"Every row: seeds {', '.join(map(str, b.rows[0]['seeds']))}.")
        if any(m in r["not_computed"] for r in b.rows for m in shown):
            lines.append("n/c: not computed for that row.")
        left = [m for m in b.metrics if m not in shown]
        if left:
            lines.append(
                f"Not shown: {', '.join(left)} (-m NAME picks the columns, --all-metrics shows every one; "
                f"-f md has every column and the metric pipelines)."
            )
        else:
            lines.append("Metric pipelines: `vbench metrics list`, or -f md.")
        return lines
