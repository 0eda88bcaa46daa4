"""Fuzzing the readers of other people's files: from generated files and from valid files mutated
(keys deleted, types changed, control characters, huge strings, NaN and Infinity, wrong nesting,
bytes cut or inserted), every outcome must be the file accepted or a one-line vbench error
(:class:`vbench.errors.VbenchError`): never another exception, never a raw control character in a
message, and what each reader promises besides (below).

Run:  .venv/bin/python benchmarks/fuzz_readers.py [--examples N] [--reader NAME ...] [--seed S]

Prints, per reader, how many files were accepted and refused and the time taken. Without --seed
the examples are random (a failure prints the file that caused it); tests/test_fuzz_readers.py
runs every reader with fewer examples and fixed seeds.

Readers (``READERS``; adding one is one entry: a ``Reader``; the strategies, the checks every
outcome must pass and the loop are in fuzz_strategies.py beside this script):

- ``import``: ``vbench import`` of a real export of a small store, mutated. A refused file leaves
  the database empty; an accepted one leaves no run ``running``, and the leaderboard of the
  database builds and renders (HTML with every imported string escaped).
- ``from-json``: ``vbench publish --from-json`` of the committed leaderboard.json (trimmed),
  mutated. An accepted file renders, with no string unescaped in the HTML and no control
  character in any rendered file.
- ``suite``: ``vbench run --suite FILE`` of a suite file (stainers and datasets, or tasks),
  mutated, then planned. An accepted suite's seeds are in [0, 2^32) and its names plain text.
- ``csv``: a user dataset's CSV (the csv layout of ``vbench datasets add``) listing real images,
  mutated. An accepted file's tiles are files inside the CSV file's folder, each listed once.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fuzz_strategies.py beside this script
from fuzz_strategies import (  # noqa: E402
    RAW_MARKUP,
    Reader,
    dumps,
    hostile,
    lines,
    mutated_bytes,
    mutated_json,
    run_reader,
    texts,
    visible,
)

from vbench.errors import VbenchError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


# --- vbench import ------------------------------------------------------------------------------


def _prepare_import(folder: Path) -> dict:
    from vbench.store import Store
    from vbench.store.transfer import export_runs

    folder.mkdir(parents=True, exist_ok=True)
    source = Store(f"sqlite:///{folder / 'source.db'}")
    for stainer, seed in (("method-a", 0), ("method-a", 1), ("method-b", 0)):
        run_id = source.create_run(
            stainer=stainer,
            run_key=f"{stainer}-{seed}",
            vbench_version="0.1.0",
            dataset="qpi-ihc",
            manifest_hash="m" * 64,
            seed=seed,
            params={"lr": 0.1},
            started_at=datetime(2024, 5, 1, 12),
            tile_sources={"t0": "s0", "t1": "s0", "t2": "s1"},
        )
        values = [20.0 + i + seed for i in range(3)]
        source.finish_run(
            run_id,
            [("psnr", f"t{i}", v) for i, v in enumerate(values)],
            [
                dict(metric="psnr", n=3, mean=sum(values) / 3, std=1.0, ci_low=20.0, ci_high=23.0, pipeline="p"),
                dict(metric="fid", n=3, mean=12.5, higher_is_better=False),
            ],
            train_seconds=1.5,
        )
    export_runs(source, folder / "export.jsonl")
    source.engine.dispose()
    text = (folder / "export.jsonl").read_text().splitlines()
    return {"header": json.loads(text[0]), "records": [json.loads(t) for t in text[1:]], "empty": folder / "empty.db"}


@st.composite
def _import_files(draw, context):
    from vbench.store.transfer import content_hash

    records = json.loads(json.dumps(context["records"]))
    header = context["header"]
    mode = draw(st.sampled_from(["record"] * 12 + ["header"] + ["run"] * 4 + ["line"] * 3))
    if mode == "header":
        header = draw(mutated_json(header))
    elif mode == "record":  # a few values of one record mutated
        i = draw(st.integers(0, len(records) - 1))
        records[i] = draw(mutated_json(records[i], times=(1, 2)))
        if isinstance(records[i], dict) and "content" in records[i] and draw(st.integers(0, 4)):
            records[i]["content"] = content_hash(records[i])  # a hostile file hashes its own edits
    elif mode == "run":  # generated: a run whose fields are valid, hostile or left out
        fields = dict(records[0]["run"])
        for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=6)):
            fields[key] = draw(hostile | st.just("delete"))
        fields = {k: v for k, v in fields.items() if v != "delete"}
        records.append({"run": fields, "summaries": draw(hostile), "scores": draw(st.lists(hostile, max_size=3))})
    else:  # generated: any JSON on a line
        records.append(draw(hostile))
    lines_ = [dumps(header), *(dumps(r) for r in records)]
    if not draw(st.integers(0, 3)) and len(lines_) > 1:  # a line left out, twice, or swapped
        i, j = draw(st.integers(0, len(lines_) - 1)), draw(st.integers(0, len(lines_) - 1))
        lines_[i], lines_[j] = lines_[j], lines_[i]
        lines_ = lines_ + [lines_[i]] if draw(st.booleans()) else lines_[:j] + lines_[j + 1 :]
    return draw(mutated_bytes(("\n".join(lines_) + "\n").encode()))


def _read_import(context, path: Path, scratch: Path):
    from vbench.store import Store
    from vbench.store.transfer import import_runs

    if "store" not in context:  # one database for every file, emptied after each: the engine's caches stay warm
        context["store"] = Store(f"sqlite:///{context['empty']}")
    store = context["store"]
    try:
        report = import_runs(store, path)
    except VbenchError:
        assert _count(store) == 0, "a refused file left runs in the database"
        raise
    return store, report


def _count(store, where: str = "") -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM runs {where}").scalar()


def _check_import(context, result, scratch: Path) -> None:
    from vbench.report import build_leaderboard
    from vbench.report.html import page
    from vbench.report.latex import latex
    from vbench.report.render import markdown, to_json

    store, report = result
    if "plugins" not in context:
        from vbench.plugins import load_plugins

        context["plugins"] = load_plugins()
    try:
        assert _count(store, "WHERE status != 'completed'") == 0, "an imported run is not completed"
        for message in report.notes + [m for _, m in report.conflicts]:
            assert visible(message) and "\n" not in message, message
        boards = build_leaderboard(store, plugins=context["plugins"])
        html = page(boards, links={})
        assert RAW_MARKUP not in html, "an imported string reached the HTML unescaped"
        for render in (to_json, markdown, latex):  # no exception; a file without runs renders nothing
            render(boards)
    finally:
        with store.engine.begin() as conn:
            for table in ("scores", "summaries", "runs"):
                conn.exec_driver_sql(f"DELETE FROM {table}")


# --- vbench publish --from-json -----------------------------------------------------------------


def _prepare_board_file(folder: Path) -> dict:
    boards = json.loads((REPO / "leaderboard" / "leaderboard.json").read_text())[:1]
    boards[0]["rows"] = boards[0]["rows"][:3]
    return {"boards": boards}


@st.composite
def _board_files(draw, context):
    if draw(st.integers(0, 4)):
        doc = draw(mutated_json(context["boards"], times=(1, 4)))
    else:  # generated: each key of a board valid or hostile, some left out
        board = context["boards"][0]
        doc = [{k: draw(st.sampled_from([v]) | hostile) for k, v in board.items() if draw(st.integers(0, 5))}]
    return draw(mutated_bytes(dumps(doc).encode()))


def _read_board_file(context, path: Path, scratch: Path):
    from vbench.report.publish import rerender

    return rerender(path, scratch / "site")


def _check_board_file(context, written, scratch: Path) -> None:
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert visible(text), f"a hidden character in {path.name}"
        if path.suffix == ".html":
            assert RAW_MARKUP not in text, "a string reached the HTML unescaped"


# --- vbench run --suite FILE --------------------------------------------------------------------

SUITES = (
    {"stainers": ["baseline-mean", "phasestain:quick[steps=3]"], "datasets": ["qpi-ihc"], "seeds": [0, 7]},
    {"seeds": [1], "metrics": ["psnr"], "tasks": {"qpi-ihc": ["baseline-linear"], "af-he-x4": ["baseline-mean"]}},
)


def _toml(value) -> str:
    """JSON-like ``value`` as a TOML value: quoted keys, inline tables (None left out: TOML has none)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value if v is not None) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return json.dumps(value, ensure_ascii=False)


@st.composite
def _suite_files(draw, context):
    doc = draw(hostile) if not draw(st.integers(0, 4)) else draw(mutated_json(draw(st.sampled_from(SUITES)), (0, 2)))
    doc = doc if isinstance(doc, dict) else {"suite": doc}  # not a table: an unknown key
    text = "\n".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in doc.items() if v is not None)
    return draw(mutated_bytes(text.encode("utf-8", "surrogatepass")))


def _read_suite(context, path: Path, scratch: Path):
    from vbench.plugins import load_plugins
    from vbench.run import load_suite, plan_suite

    if "plugins" not in context:
        context["plugins"] = load_plugins()
    suite = load_suite(str(path))
    return suite, plan_suite(context["plugins"], suite)


def _check_suite(context, result, scratch: Path) -> None:
    suite, specs = result
    assert specs and all(0 <= s < 2**32 and type(s) is int for s in suite.seeds), suite
    assert all(lines(n) == n and "\n" not in n for n in suite.stainers + suite.datasets + suite.metrics), suite


# --- a user dataset's CSV (the csv layout) --------------------------------------------------------

CSV_ROWS = [["input", "target", "split"], ["in/a0.png", "out/a0.png", "train"], ["in/a1.png", "out/a1.png", "test"]]


def _prepare_csv(folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    for side in ("in", "out"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    for i in range(2):
        Image.fromarray(np.full((8, 8), i, np.uint8), "L").save(folder / "in" / f"a{i}.png")
        Image.fromarray(np.full((8, 8, 3), i, np.uint8), "RGB").save(folder / "out" / f"a{i}.png")
    return folder


@st.composite
def _csv_files(draw, folder):
    import csv
    import io

    cell = st.sampled_from(["in/a0.png", "./in/a1.png", "in/x/../a0.png", "../a.png", "/in/a0.png", "a.txt", ""])
    split = st.sampled_from(["train", "val", " test ", "tset"])
    generated = st.lists(st.tuples(cell | texts, cell | texts, split | texts).map(list), max_size=4)
    rows = draw(mutated_json(CSV_ROWS, times=(0, 3)) | generated.map(lambda rs: [CSV_ROWS[0], *rs]))
    text = io.StringIO()
    for row in rows if isinstance(rows, list) else [rows]:
        csv.writer(text).writerow([str(c) for c in row] if isinstance(row, list) else [str(row)])
    return draw(mutated_bytes(text.getvalue().encode("utf-8", "surrogatepass")))


def _read_csv(folder: Path, path: Path, scratch: Path):
    from vbench_datasets.folder.csv_index import index_csv

    shutil.copy(path, folder / "pairs.csv")  # beside the images it lists
    return index_csv(folder / "pairs.csv", "paired", "dataset 'fuzz'")


def _check_csv(folder: Path, index, scratch: Path) -> None:
    entries = [e for split in index.values() for e in split]
    assert len({e.id for e in entries}) == len(entries), "a tile listed twice"
    for e in entries:
        assert e.input.resolve().is_relative_to(folder.resolve()) and e.input.is_file(), e.input


READERS: dict[str, Reader] = {
    "import": Reader(".jsonl", _prepare_import, _import_files, _read_import, _check_import),
    "from-json": Reader(".json", _prepare_board_file, _board_files, _read_board_file, _check_board_file),
    "suite": Reader(".toml", lambda folder: {}, _suite_files, _read_suite, _check_suite),
    "csv": Reader(".csv", _prepare_csv, _csv_files, _read_csv, _check_csv),
}


def fuzz(name: str, folder: Path, examples: int, seed: int | None = None) -> Counter:
    """Runs ``examples`` files through reader ``name`` (in ``folder``); with ``seed``, the same
    files every time. Returns how many were accepted and refused; raises on a broken promise."""
    return run_reader(READERS[name], folder, examples, seed, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="files per reader (default 2000)")
    parser.add_argument("--reader", action="append", choices=sorted(READERS), help="only these (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="the same files every time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.reader or list(READERS):
            start = time.perf_counter()
            counts = fuzz(name, Path(tmp) / name, args.examples, args.seed)
            took, total = time.perf_counter() - start, sum(counts.values())
            print(
                f"{name:>10}: {total} files, {counts['accepted']} accepted, {counts['refused']} refused, "
                f"no other outcome; {took:.1f} s ({math.ceil(took * 1000 / max(1, total))} ms/file)"
            )


if __name__ == "__main__":
    main()
