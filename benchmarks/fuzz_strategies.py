"""The engine of benchmarks/fuzz_readers.py: hostile values, JSON and bytes mutated, the checks
every reader's outcome must pass, and the loop that runs a reader over many files (hypothesis)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from vbench.errors import VbenchError
from vbench.visible import lines

MARKUP = "<x-fuzz a=\"1\" b='2'>&amp;"  # inserted into strings: must never reach HTML as it is
RAW_MARKUP = "<x-fuzz"
CONTROLS = "\x00\x07\x1b\r\n\t\x7f\x85\u200b\u202e\u2066\u2028\ud800"
HOSTILE_TEXT = (
    "",
    "yesterday",
    "2024-05-01T12:00:00",
    "0001-01-01T00:00:00+01:00",
    "NaN",
    "1e309",
    "javascript:alert(1)",
    "/etc/passwd",
    "../../x.png",
    "\x1b[31mred\x1b[0m\u202egnp.exe",
    MARKUP,
)


@dataclass(frozen=True)
class Reader:
    """One reader under fuzzing. ``prepare(folder)``: a context made once (valid sample files, a
    database template). ``contents(context)``: a hypothesis strategy of file contents (bytes).
    ``read(context, file, scratch)``: reads ``file`` as vbench does, raising VbenchError when it is
    refused (after checking what a refusal promises); ``check(context, result, scratch)``: what
    must hold after an accepted file. ``scratch`` is a folder every file of the run shares."""

    suffix: str
    prepare: Callable[[Path], Any]
    contents: Callable[[Any], st.SearchStrategy[bytes]]
    read: Callable[[Any, Path, Path], Any]
    check: Callable[[Any, Any, Path], None] = lambda context, result, scratch: None


# --- generic strategies: hostile values, JSON mutated, bytes mutated ----------------------------

texts = st.sampled_from(HOSTILE_TEXT) | st.text(st.characters(codec=None) | st.sampled_from(CONTROLS), max_size=20)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**31, 2**32, 10**400, 1.0, float("nan"), float("inf"), float("-inf")]),
    texts,
)
hostile = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=6
)


def _place(draw, doc):
    """(parent, key) of a value of ``doc`` reached by a random walk from the top (parent None: the
    document itself): each step goes one level down with probability 3/4."""
    parent, key, value = None, None, doc
    while isinstance(value, dict | list) and value and draw(st.integers(0, 3)):
        parent, key = value, draw(st.sampled_from(list(value) if isinstance(value, dict) else range(len(value))))
        value = parent[key]
    return parent, key


def _mutate(draw, value):
    kind = draw(
        st.sampled_from(
            ["delete", "replace", "retype", "control", "markup", "huge", "nonfinite", "wrap", "key", "twice", "deep"]
        )
    )
    if kind == "replace":
        return draw(hostile)
    if kind == "retype":
        if isinstance(value, bool | int | float):
            return str(value)
        if isinstance(value, str):
            return draw(st.sampled_from([1, 1.5, True, None, [value], {"v": value}]))
        return list(value.values()) if isinstance(value, dict) else {str(i): v for i, v in enumerate(value or [])}
    if kind in ("control", "markup") and isinstance(value, str):
        at = draw(st.integers(0, len(value)))
        return value[:at] + (draw(st.sampled_from(CONTROLS)) if kind == "control" else MARKUP) + value[at:]
    if kind == "huge":
        return draw(st.sampled_from(["a", "\u00e9", "<"])) * 200_000
    if kind == "nonfinite":
        return draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    if kind == "wrap":
        return draw(st.sampled_from([[value], {"value": value}]))
    if kind == "key" and isinstance(value, dict):
        return dict(value, **{draw(texts | st.sampled_from(["foo", "curve"])): draw(hostile)})
    if kind == "twice" and isinstance(value, list) and value:
        return value + value[:1]
    if kind == "deep":
        return _deep(draw)
    return "delete"


def _deep(draw):
    depth = draw(st.sampled_from([40, 200]))
    value = None
    for _ in range(depth):
        value = [value]
    return value


def _mark(draw, doc) -> None:
    """Markup added to a text of ``doc`` reached by walking down to a leaf: an accepted file then
    carries it to every rendering, which must escape it."""
    parent, key, value = None, None, doc
    while isinstance(value, dict | list) and value:
        parent, key = value, draw(st.sampled_from(list(value) if isinstance(value, dict) else range(len(value))))
        value = parent[key]
    if isinstance(value, str) and parent is not None:
        parent[key] = value + MARKUP


@st.composite
def mutated_json(draw, doc, times=(1, 3)):
    """``doc`` (a parsed JSON document) with a few values deleted, replaced or changed; or with
    markup in its texts and fewer changes."""
    doc = json.loads(json.dumps(doc))  # a copy, faster than copy.deepcopy
    if not draw(st.integers(0, 2)):
        for _ in range(draw(st.integers(1, 3))):
            _mark(draw, doc)
        times = (0, times[1] - 1)
    for _ in range(draw(st.integers(*times))):
        parent, key = _place(draw, doc)
        new = _mutate(draw, doc if parent is None else parent[key])
        if parent is None:
            doc = draw(hostile) if new == "delete" else new
        elif new == "delete":
            del parent[key]
        else:
            parent[key] = new
    return doc


def dumps(doc) -> str:
    return json.dumps(doc)  # NaN and Infinity as JavaScript writes them; lone surrogates escaped


@st.composite
def mutated_bytes(draw, data: bytes):
    """``data`` cut short, or with bytes inserted (invalid UTF-8, NUL, a BOM), or as it is."""
    kind = draw(st.sampled_from(["same"] * 6 + ["cut", "insert"]))
    if kind == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"\xef\xbb\xbf", b"\r", b"\n", b"}"])) + data[at:]
    return data


def visible(text: str) -> bool:
    """True when ``text`` holds no hidden character (line breaks and tabs aside)."""
    return all(part.isprintable() or lines(part) == part for part in text.replace("\t", " ").split("\n"))


def check_message(exc: VbenchError) -> None:
    message = str(exc)
    assert visible(message), f"a hidden character in the message: {message!r}"
    assert len(message.splitlines()) <= 2 and len(message) <= 2000, f"not a one-line message: {message[:3000]!r}"


def run_reader(reader: Reader, folder: Path, examples: int, seed: int | None = None, name: str = "reader") -> Counter:
    """Runs ``examples`` files through ``reader`` (in ``folder``); with ``seed``, the same files
    every time. Returns how many were accepted and refused; raises on a broken promise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    context = reader.prepare(folder / f"{name}-prepared")
    counts: Counter = Counter()
    scratch = folder / f"{name}-scratch"  # one for every file: only what a file wrote is checked
    scratch.mkdir(exist_ok=True)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(reader.contents(context))
    def run(data: bytes) -> None:
        path = scratch / f"input{reader.suffix}"
        path.write_bytes(data)
        try:
            result = reader.read(context, path, scratch)
        except VbenchError as exc:
            check_message(exc)
            counts["refused"] += 1
            return
        reader.check(context, result, scratch)
        counts["accepted"] += 1

    (fixed_seed(seed)(run) if seed is not None else run)()
    return counts
