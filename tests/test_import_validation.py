"""`vbench import` reads another lab's file: every record is checked (one-line errors naming the
file, the line and the field), the import is one transaction (all or nothing, never a run left
`running`), and values that are not finite numbers are stored as not computed, on SQLite and
PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

import pytest
from sqlalchemy import text

from vbench.cli import main
from vbench.errors import ConfigError, StoreError
from vbench.report import build_leaderboard
from vbench.report.html import page
from vbench.report.latex import latex
from vbench.report.render import markdown, to_json
from vbench.store import Store
from vbench.store.transfer import content_hash, export_runs, import_runs


def make_source(url: str, seeds=(0, 1), stainers=("method-a", "method-b")) -> Store:
    """A small store written through the Store API (no training): per-tile scores and summaries."""
    store = Store(url)
    for stainer in stainers:
        for seed in seeds:
            run_id = store.create_run(
                stainer=stainer,
                run_key=f"{stainer}-{seed}",
                vbench_version="0.1.0",
                dataset="qpi-ihc",
                manifest_hash="m" * 64,
                seed=seed,
                params={"lr": 0.1, "widths": [8, 16]},
                hardware={"cpu": "test"},
                started_at=datetime(2024, 5, 1, 12, 0, 0),
            )
            values = [20.0 + i + seed + (stainer == "method-b") for i in range(4)]
            store.finish_run(
                run_id,
                [("psnr", f"t{i}", v) for i, v in enumerate(values)],
                [dict(metric="psnr", n=4, mean=sum(values) / 4, std=1.3, ci_low=20.5, ci_high=23.5, pipeline="p")],
                train_seconds=1.5,
            )
    return store


@pytest.fixture(scope="module")
def export_lines(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    store = make_source(f"sqlite:///{folder / 'source.db'}")
    export_runs(store, folder / "r.jsonl")
    store.engine.dispose()
    return (folder / "r.jsonl").read_text().splitlines()


@pytest.fixture
def exported(export_lines):
    """(header line, records) of a real export of a small store (a fresh copy for each test)."""
    return export_lines[0], [json.loads(line) for line in export_lines[1:]]


def write(path, header, records, rehash: bool = True):
    out = []
    for r in records:
        if isinstance(r, dict) and rehash and "content" in r:
            r = dict(r, content=content_hash(r))
        out.append(r if isinstance(r, str) else json.dumps(r))
    path.write_text("\n".join([header, *out]) + "\n")
    return path


def edited(record: dict, change) -> dict:
    record = json.loads(json.dumps(record))
    change(record)
    return record


HEADER = '{"format": "vbench-results", "version": 1}'
# (what, header, how the first record is changed or the record line itself, words the error must hold)
BAD = [
    ("header version as text", '{"format": "vbench-results", "version": "2"}', None, "line 1: version"),
    ("header version a list", '{"format": "vbench-results", "version": [2]}', None, "line 1: version"),
    ("first line a list", "[1,2]", None, "is not a vbench results file"),
    ("first line not JSON", "format,version", None, "is not a vbench results file"),
    ("a record [1,2,3]", HEADER, "[1,2,3]", "line 2: expected a run"),
    ("a record null", HEADER, "null", "line 2: expected a run"),
    ("no run", HEADER, lambda r: r.pop("run"), "line 2: run: field required"),
    ("run not an object", HEADER, lambda r: r.update(run=[1]), "line 2: run: input should be a valid dictionary"),
    ("run with an extra key", HEADER, lambda r: r["run"].update(foo=1), "field 'run.foo' is not known to vbench"),
    ("record with an unknown key", HEADER, lambda r: r.update(curves=[]), "field 'curves' is not known to vbench"),
    ("train_seconds fast", HEADER, lambda r: r["run"].update(train_seconds="fast"), "run.train_seconds"),
    ("started_at yesterday", HEADER, lambda r: r["run"].update(started_at="yesterday"), "ISO 8601"),
    ("started_at a number", HEADER, lambda r: r["run"].update(started_at=1714564800), "ISO 8601"),
    ("started_at out of range", HEADER, lambda r: r["run"].update(started_at="0001-01-01T00:00:00+01:00"), "ISO 8601"),
    ("score row of two", HEADER, lambda r: r.update(scores=[["psnr", "t1"]]), "line 2: scores[0][2]"),
    ("score row an object", HEADER, lambda r: r["scores"].__setitem__(0, {"v": 1}), "scores[0]"),
    ("seed as text", HEADER, lambda r: r["run"].update(seed="0"), "run.seed: input should be a valid integer"),
    ("seed 1.0", HEADER, lambda r: r["run"].update(seed=1.0), "run.seed: input should be a valid integer"),
    ("seed true", HEADER, lambda r: r["run"].update(seed=True), "run.seed"),
    ("seed -1", HEADER, lambda r: r["run"].update(seed=-1), "run.seed: input should be greater than or equal to 0"),
    ("seed 2^32", HEADER, lambda r: r["run"].update(seed=2**32), "run.seed: input should be less than 4294967296"),
    ("no seed", HEADER, lambda r: r["run"].pop("seed"), "run.seed: field required"),
    ("escape in a name", HEADER, lambda r: r["run"].update(stainer="\x1b[31mred\u202egnp.exe"), "run.stainer"),
    ("200,000-char name", HEADER, lambda r: r["run"].update(stainer="a" * 200_000), "at most 128 characters"),
    ("long tile id", HEADER, lambda r: r["scores"][0].__setitem__(1, "t" * 300), "at most 256 characters"),
    ("params with NaN", HEADER, lambda r: r["run"].update(params={"lr": float("nan")}), "run.params"),
    ("params a list", HEADER, lambda r: r["run"].update(params=[1]), "run.params"),
    ("metric as a number", HEADER, lambda r: r["summaries"][0].update(metric=5), "summaries[0].metric"),
    ("status unknown", HEADER, lambda r: r["summaries"][0].update(status="done"), "summaries[0].status"),
    ("n as text", HEADER, lambda r: r["summaries"][0].update(n="4"), "summaries[0].n"),
    ("summary twice", HEADER, lambda r: r["summaries"].append(r["summaries"][0]), "name metric 'psnr' twice"),
    ("tile twice", HEADER, lambda r: r["scores"].append(r["scores"][0]), "is scored twice"),
    ("score without summary", HEADER, lambda r: r["scores"].append(["ssim", "t0", 1.0]), "which no summary names"),
    ("nested too deep", HEADER, '{"run": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("not UTF-8", HEADER, b'{"run": "\xff"}', "line 2 cannot be read"),
]


@pytest.mark.parametrize("what, header, change, words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_record_is_a_one_line_error_naming_file_line_and_field(exported, tmp_path, what, header, change, words):
    _, records = exported
    path = tmp_path / "bad.jsonl"
    if isinstance(change, bytes):
        path.write_bytes(header.encode() + b"\n" + change + b"\n")
    else:
        first = change if isinstance(change, str) else edited(records[0], change) if change else records[0]
        write(path, header, [first, *records[1:]])
    store = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(ConfigError) as info:
        import_runs(store, path)
    message = str(info.value)
    assert words in message and str(path) in message, message
    assert len(message.splitlines()) == 1 and len(message) < 600, message
    assert "\x1b" not in message and "\u202e" not in message
    assert store.runs() == []  # nothing written, nothing left running


def test_the_cli_exits_2_with_the_message(exported, tmp_path, capsys):
    _, records = exported
    path = write(tmp_path / "bad.jsonl", HEADER, [edited(records[0], lambda r: r["run"].update(train_seconds="fast"))])
    code = main(["import", str(path), "--db", f"sqlite:///{tmp_path / 't.db'}"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "line 2: run.train_seconds: input should be a valid number, got 'fast'" in err
    assert "Traceback" not in err


def test_a_bad_record_anywhere_imports_nothing(exported, tmp_path):
    """The whole file is checked before anything is written: a bad summary or score on the last line
    leaves no run behind (before, earlier runs were imported and the bad one stayed `running`)."""
    header, records = exported
    target = Store(f"sqlite:///{tmp_path / 't.db'}")
    for change in (
        lambda r: r["summaries"][0].update(status="done"),
        lambda r: r.update(scores=[["psnr", "t1"]]),
        lambda r: r["summaries"][0].update(n=None),
    ):
        path = write(tmp_path / "r.jsonl", header, [*records[:-1], edited(records[-1], change)])
        with pytest.raises(ConfigError, match="line 5"):
            import_runs(target, path)
        assert target.runs() == []


def _refuse_metric(store: Store, metric: str) -> None:
    """Makes the database itself refuse a summary of ``metric``: a failure in the middle of the write."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON summaries WHEN NEW.metric = '{metric}' "
                f"BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )
        else:
            conn.exec_driver_sql(f"ALTER TABLE summaries ADD CONSTRAINT refuse CHECK (metric <> '{metric}')")


def _target(request, tmp_path, name: str) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / f'{name}.db'}")
    from sqlalchemy import create_engine

    pg_url = request.getfixturevalue("pg_url")
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return Store(pg_url.rsplit("/", 1)[0] + f"/{name}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def target(request, tmp_path):
    store = _target(request, tmp_path, f"import_{request.node.name.split('[')[0][-20:]}".lower())
    yield store
    store.engine.dispose()


def test_a_write_that_fails_half_way_leaves_the_database_as_it_was(exported, tmp_path, target):
    header, records = exported
    late = edited(records[-1], lambda r: [s.update(metric="refused") for s in r["summaries"]])
    late["scores"] = [["refused", t, v] for _, t, v in late["scores"]]
    _refuse_metric(target, "refused")
    with pytest.raises(StoreError):
        import_runs(target, write(tmp_path / "r.jsonl", header, [*records[:-1], late]))
    assert target.runs() == []
    with target.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scores")).scalar() == 0


def test_values_that_are_not_finite_are_stored_as_not_computed(exported, tmp_path, target):
    """Infinity, NaN and "high" as scores import as None (with a note) and every rendering of the
    leaderboard and the published folder work, on SQLite and PostgreSQL alike."""
    header, records = exported

    def poison(r):
        r["scores"][0][2] = float("inf")
        r["scores"][1][2] = float("nan")
        r["scores"][2][2] = "high"
        r["summaries"][0]["ci_low"] = float("-inf")

    records[0] = edited(records[0], poison)
    records[1] = edited(records[1], lambda r: r["summaries"][0].update(mean="high"))
    path = write(tmp_path / "r.jsonl", header, records)
    report = import_runs(target, path)
    assert len(report.imported) == 4 and len(report.notes) == 3, report.notes
    assert any("3 per-tile psnr score(s) were not finite numbers" in n for n in report.notes)
    first, second = report.imported[:2]
    scores = target.scores(first, "psnr")
    assert sorted(v is None for v in scores.values()) == [False, True, True, True]
    (summary,) = target.summaries([second])
    assert summary.status == "not computed" and "'high' is not a finite number" in summary.reason
    assert [r.status for r in target.runs()] == ["completed"] * 4
    assert import_runs(target, path).skipped == 4  # idempotent: what was stored is what is compared

    boards = build_leaderboard(target)
    for render in (to_json, markdown, latex, lambda b: page(b, links={})):
        assert render(boards)
    code = main(["publish", str(tmp_path / "site"), "--db", target.url, "--no-figures"])
    assert code == 0


def test_an_old_file_still_imports(tmp_path):
    """A file from before modality, stain and tile sources existed, with columns local to its
    database (status, owner, id) that are ignored, imports as it did."""
    old = {
        "run": {
            "id": 7,
            "status": "completed",
            "owner": None,
            "stainer": "method-a",
            "preset": "",
            "params": {},
            "run_key": "k",
            "vbench_version": "0.0.9",
            "dataset": "qpi-ihc",
            "seed": 0,
            "started_at": "2024-05-01T12:00:00",
            "ended_at": "2024-05-01T12:01:00+02:00",
        },
        "summaries": [{"metric": "psnr", "status": "computed", "n": 1, "mean": 20, "std": 0, "reason": None}],
        "scores": [["psnr", "t0", 20]],
    }
    path = tmp_path / "old.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(HEADER + "\n" + json.dumps(dict(old, content=content_hash(old))) + "\n")
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    (run_id,) = import_runs(store, path).imported
    run = store.get_run(run_id)
    assert (run.status, run.seed, run.modality, run.ended_at) == ("completed", 0, "", datetime(2024, 5, 1, 10, 1))
    assert store.scores(run_id, "psnr") == {"t0": 20.0}


def test_a_damaged_gzip_file_is_a_clean_error(exported, tmp_path):
    header, records = exported
    plain = write(tmp_path / "r.jsonl", header, records).read_bytes()
    packed = gzip.compress(plain)
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2] + bytes(64) + packed[len(packed) // 2 :])
    with pytest.raises(ConfigError, match="cannot be read as vbench results"):
        import_runs(Store(f"sqlite:///{tmp_path / 't.db'}"), path)


def test_the_cli_names_each_value_stored_as_not_computed(exported, tmp_path, capsys):
    header, records = exported
    records[0] = edited(records[0], lambda r: r["scores"][0].__setitem__(2, "high"))
    path = write(tmp_path / "r.jsonl", header, records)
    code = main(["import", str(path), "--db", f"sqlite:///{tmp_path / 't.db'}"])
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert code == 0 and "imported 4 run(s)" in captured.out
    assert f"not computed: {path}, line 2 (run 1): 1 per-tile psnr score(s) were not finite numbers ('high')" in err


def test_the_largest_seed_is_stored_as_written(exported, tmp_path, target):
    """Seeds are in [0, 2^32): PostgreSQL's 32-bit INTEGER column refused 2^31 and up (schema 5
    stores seeds as BIGINT)."""
    header, records = exported
    records[0] = edited(records[0], lambda r: r["run"].update(seed=2**32 - 1))
    import_runs(target, write(tmp_path / "r.jsonl", header, records))
    assert max(r.seed for r in target.runs()) == 2**32 - 1


def test_an_imported_run_names_no_folder_of_this_machine(exported, tmp_path):
    """A run's artifacts folder is a path on the exporting machine: an imported run has none, so
    nothing (a checkpoint, a sample grid) is read from a folder another lab's file names."""
    header, records = exported
    records[0] = edited(records[0], lambda r: r["run"].update(artifacts="/etc"))
    target = Store(f"sqlite:///{tmp_path / 't.db'}")
    import_runs(target, write(tmp_path / "r.jsonl", header, records))
    assert [r.artifacts for r in target.runs()] == [None] * len(records)
