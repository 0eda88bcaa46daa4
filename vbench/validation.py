"""Values read from users' files and options, checked: the field types every schema shares (names,
seeds) and one-line messages from pydantic's validation errors (file, record, field, what was
expected). The schemas themselves live beside their readers (suites, dataset CSV rows...)."""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError

from .visible import line

SEED_LIMIT = 2**32
NAME_LIMIT = 1000  # characters; names are ids and labels, not documents


def check_text(value: str) -> str:
    """A name or path as text: refused when it holds a character a reader would not see as written
    (a control or format character, a line break: see :mod:`vbench.visible`)."""
    if line(value) == value:  # one pass over a long text; the loop below only finds what to name
        return value
    for ch in value:
        if line(ch) != ch:
            raise ValueError(f"control character {line(ch)} in the text")
    return value


Name = Annotated[str, Field(min_length=1, max_length=NAME_LIMIT), AfterValidator(check_text)]
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT)]


def shown(value, limit: int = 60) -> str:
    """A value as a message shows it: its repr (control characters escaped), cut to ``limit``."""
    text = line(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_path(loc: tuple) -> str:
    """``("seeds", 0)`` -> ``seeds[0]``; ``("tasks", "qpi-he", 1)`` -> ``tasks.qpi-he[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{line(part)}" if out else line(part))
    return out or "(the whole record)"


def one_line(error: ValidationError, where: str, expected: dict[str, str] | None = None) -> str:
    """The first problem of ``error`` in one line: ``where``, the field, what is wrong and what was
    given, then what the field expects (``expected``: top-level field -> a description, e.g.
    ``seeds = [0, 1, 2]``). An unknown key gets a did-you-mean among ``expected``'s keys."""
    expected = expected or {}
    first = error.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        close = difflib.get_close_matches(key, list(expected), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = f" Known keys: {', '.join(expected)}." if expected else ""
        return f"{where}: unknown key {line(repr(key))}.{hint}{known}"
    msg = first["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    got = "" if first["type"] == "missing" else f", got {shown(first['input'])}"
    top = loc[0] if loc else None
    want = f". Expected {expected[top]}" if top in expected else ""
    return f"{where}: {field_path(loc)}: {line(msg)}{got}{want}"


def read_text(path, shown_as: str, error: type[Exception], prefix: str = "", encoding: str = "utf-8") -> str:
    """The text of a user's file, or ``error`` naming it (as ``shown_as``, after ``prefix``) when
    it cannot be read or is not UTF-8 (with the first bad byte and its line)."""
    from pathlib import Path

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{prefix}cannot read {shown_as}: {exc.strerror}") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        at = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{prefix}{shown_as} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {at}; save it as UTF-8"
        ) from None
