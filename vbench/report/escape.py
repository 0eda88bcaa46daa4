"""Escaping of text from plugins, datasets and users (names, params, notes, reasons) for each
output format. Every renderer passes every such string through one of these.

``plain`` comes first everywhere: control characters (a terminal escape sequence, a NUL, bidi
overrides that reorder what a reader sees, other invisible format characters) are shown as visible
``\\xNN`` codes (the rule is ``vbench.visible``'s, which the CLI's console applies too), line breaks
and tabs as spaces.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from urllib.parse import quote

from .. import visible


def plain(text) -> str:
    """One line of text: hidden characters (``vbench.visible``) as visible codes, line breaks and
    tabs as spaces."""
    return visible.line(text)


# Inline Markdown punctuation; line-start syntax (# - + 1.) cannot occur: cells and notes never
# start a line with user text.
_MD_SPECIAL = set("\\`*_[]|~")


def markdown(text) -> str:
    """Safe in a Markdown table cell or paragraph: HTML-significant characters as entities (no raw
    HTML reaches the renderer), Markdown punctuation backslash-escaped, ``|`` cannot split a cell."""
    out = []
    for ch in plain(text):
        if ch in "&<>":
            out.append(html.escape(ch))
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def html_text(text) -> str:
    return html.escape(plain(text), quote=True)


def relative_url(path) -> str | None:
    """``path`` as a link to a file inside the published folder, percent-encoded segment by segment
    (so it can be nothing but a relative path); None for anything else, which gets no link: a URL
    with a scheme (``javascript:``, ``data:``, ``http:``, ``file:``), an absolute path (``/x``,
    ``//host``), a path that climbs out (``..``), a backslash, a control or format character."""
    if not isinstance(path, str) or not path or path != plain(path) or any(c in path for c in "\\:"):
        return None
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return "/".join(quote(p, safe="-._~") for p in parts)


def json_visible(text: str) -> str:
    """JSON text with its hidden characters (``vbench.visible``) written as ``\\u`` escapes: the
    same data, but a bidi override in a name cannot reorder what a terminal shows."""
    if text.replace("\n", "").isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n" or not visible.hidden(ch):
            out.append(ch)
        elif code > 0xFFFF:  # JSON writes a character outside the BMP as its UTF-16 surrogate pair
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def json_in_script(data) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` as \\u escapes,
    so no string can close the element (``</script>``) or open a comment; U+2028/2029 too."""
    text = json.dumps(data, indent=1, default=str, ensure_ascii=False)
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return text


_LATEX = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedblright{}",
    "`": r"\`{}",
    "±": r"\ensuremath{\pm}",
    "↑": r"\ensuremath{\uparrow}",
    "↓": r"\ensuremath{\downarrow}",
    "Δ": r"\ensuremath{\Delta}",
    "—": r"\textemdash{}",
    "–": r"\textendash{}",
    "…": r"\ldots{}",
    "×": r"\ensuremath{\times}",
    "°": r"\ensuremath{^\circ}",
    "µ": r"\ensuremath{\mu}",
}


# Latin-1 letters the default OT1 font encoding typesets (as accented letters); Ð Þ ð þ need T1.
_LATIN1_LETTERS = {chr(i) for i in range(0xC0, 0x100) if chr(i).isalpha()} - set("ÐÞðþ")


def latex(text) -> str:
    """Safe in LaTeX text mode with pdflatex's defaults (UTF-8 input, OT1 fonts, no extra
    packages): the ten special characters escaped, and the OT1 surprises (``<`` ``>`` ``|`` ``"``
    print as other glyphs); accented Latin-1 letters kept; other characters reduced to an ASCII
    base letter where one stands for them (ligatures, compatibility forms), else written as
    ``?``: pdflatex stops at a character it has no glyph for, and symbols from the TS1 encoding
    would come out as bitmap fonts."""
    out = []
    for ch in plain(text):
        if ch in _LATEX:
            out.append(_LATEX[ch])
        elif 0x20 <= ord(ch) < 0x7F or ch in _LATIN1_LETTERS:
            out.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append("".join(_LATEX.get(c, c) for c in base) if base else "?")
    # no ligatures across characters of the text: -- (en dash), '' and ,, (quotes)
    return re.sub(r"([-',])(?=[-',])", r"\1{}", "".join(out))


_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text) -> str:
    """A text cell a spreadsheet will not evaluate: leading ``= + - @`` get a ``'`` (the
    spreadsheet convention for "this is text"). Quoting and commas are the csv module's."""
    t = plain(text)
    return "'" + t if t.startswith(_CSV_FORMULA) else t
