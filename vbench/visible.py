"""The one rule for characters that must not reach a reader as they are: every output of vbench
(terminal, Markdown, HTML, LaTeX, CSV) shows them as visible escapes, ``\\x1b``, ``\\u202e``.

Hidden are controls (Cc: ESC starts a terminal escape sequence, NUL, carriage return), format
characters (Cf: bidi overrides and isolates reorder what a reader sees, zero-width characters hide
a difference between two names), lone surrogates (Cs: left by an undecodable file name; they cannot
be encoded) and line and paragraph separators (Zl, Zp). Light: imported by every command.
"""

from __future__ import annotations

import unicodedata

_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def hidden(ch: str) -> bool:
    """Whether the character ``ch`` must not be shown as it is."""
    return unicodedata.category(ch) in _HIDDEN


def _code(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape(text: str, keep: str, space: str) -> str:
    if text.isprintable():  # the fast path: nothing hidden (and no line break)
        return text
    out = []
    for ch in text:
        if ch in keep:
            out.append(ch)
        elif ch in space:
            out.append(" ")
        elif hidden(ch):
            out.append(_code(ch))
        else:
            out.append(ch)
    return "".join(out)


def line(text) -> str:
    """One line: hidden characters as escapes, line breaks and tabs as spaces."""
    return _escape(str(text), keep="", space="\n\r\t")


def lines(text) -> str:
    """Text for a terminal: hidden characters as escapes, line breaks and tabs kept (a message or a
    stored traceback keeps its lines); a carriage return, which could overwrite a line, is escaped."""
    return _escape(str(text), keep="\n\t", space="")
