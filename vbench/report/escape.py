"""Escaping of text from plugins, datasets and users (names, params, notes, reasons) for each
output format. Every renderer passes every such string through one of these.

``plain`` comes first everywhere: control characters (a terminal escape sequence, a NUL, bidi
overrides that reorder what a reader sees) are shown as visible ``\\xNN`` codes, line breaks and
tabs as spaces.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

# Bidi embedding/override/isolate controls: they can make a name display as a different one.
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F}


def plain(text) -> str:
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\n\r\t":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc" or code in _BIDI:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


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
