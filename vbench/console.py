"""The Rich console everything vbench prints to a terminal goes through.

What vbench prints is full of user, plugin and stored text (names, paths, error messages, table
cells, progress labels). This console shows the control and format characters in any of it as
escapes (``vbench.visible``: a terminal escape sequence, a bidi override), whatever the caller
passes: a string, a ``Text`` or a table of them. Rich's own styling is added after this, so colours
still work. Markup and emoji codes are off: ``[brackets]`` and ``:names:`` are shown as written.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from rich.console import Console
from rich.text import Span, Text

from .visible import lines


def safe_text(text: Text) -> Text:
    """``text`` with its hidden characters as escapes, its styles kept on the same characters."""
    plain = text.plain
    if lines(plain) == plain:
        return text
    ends, parts = [0], []
    for ch in plain:
        parts.append(lines(ch))
        ends.append(ends[-1] + len(parts[-1]))
    spans = [Span(ends[s.start], ends[min(s.end, len(plain))], s.style) for s in text.spans]
    return Text(
        "".join(parts),
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
        tab_size=text.tab_size,
        spans=spans,
    )


class SafeConsole(Console):
    """A console that cannot be made to print a raw control character from the text it is given."""

    def render_str(self, text: str, **kwargs) -> Text:
        return super().render_str(lines(text), **kwargs)

    def render(self, renderable, options=None):
        if isinstance(renderable, Text):  # Text built by the caller, a table cell, a progress label
            renderable = safe_text(renderable)
        return super().render(renderable, options)


def console(stderr: bool = False) -> SafeConsole:
    """A console on stdout or stderr. Piped output (CI logs, files) gets a wide fixed width instead
    of Rich's 80-column default."""
    made = SafeConsole(stderr=stderr, markup=False, emoji=False)
    if made.is_terminal:
        return made
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else 160
    return SafeConsole(stderr=stderr, markup=False, emoji=False, width=width)


class _VisibleStderr(logging.StreamHandler):
    """Python's handler of last resort (WARNING and above, the message alone, on the current
    ``sys.stderr``), with hidden characters as escapes: log lines carry plugin and user text too."""

    def __init__(self):
        super().__init__()
        self.setLevel(logging.WARNING)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the current sys.stderr is used
        pass

    def format(self, record) -> str:
        return lines(super().format(record))


def show_logs_visibly() -> None:
    """Log records no handler takes (``logging.lastResort``, documented as replaceable) and Python
    warnings are printed with hidden characters as escapes, as the console prints everything else."""
    if not isinstance(logging.lastResort, _VisibleStderr):
        logging.lastResort = _VisibleStderr()
    if not getattr(warnings.formatwarning, "visible", False):
        plain = warnings.formatwarning

        def formatwarning(*args, **kwargs):
            return lines(plain(*args, **kwargs))

        formatwarning.visible = True
        warnings.formatwarning = formatwarning
