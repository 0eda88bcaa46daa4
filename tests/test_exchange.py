"""`vbench export` / `vbench import`: results move between databases, idempotently."""

from __future__ import annotations

import gzip
import json

import pytest

from vbench.cli import main
from vbench.store import Store


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def source(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'a.db'}"
    code, _, err = cli(
        capsys,
        "run",
        "-s",
        "baseline-mean",
        "-s",
        "baseline-linear",
        "-d",
        "qpi-ihc",
        "-m",
        "psnr",
        "-m",
        "ssim",
        "--db",
        db,
        "--no-isolate",
        "-q",
    )
    assert code == 0, err
    return db


@pytest.mark.parametrize("name", ["results.jsonl", "results.jsonl.gz"])
def test_export_then_import_reproduces_the_leaderboard_and_is_idempotent(capsys, source, tmp_path, name):
    path = tmp_path / name
    code, out, err = cli(capsys, "export", "--db", source, "-o", path)
    assert code == 0 and "exported 2 completed run(s)" in out, err
    if name.endswith(".gz"):
        assert gzip.open(path, "rt").readline().startswith('{"format": "vbench-results"')
    target = f"sqlite:///{tmp_path / 'b.db'}"
    code, out, err = cli(capsys, "import", path, "--db", target)
    assert code == 0 and "imported 2 run(s)" in out and "0 already present" in out, err
    code, out, _ = cli(capsys, "import", path, "--db", target)
    assert code == 0 and "imported 0 run(s)" in out and "2 already present" in out
    assert len(Store(target).runs()) == 2

    boards = [json.loads(cli(capsys, "leaderboard", "--db", db, "-f", "json")[1]) for db in (source, target)]
    strip = lambda b: [{k: v for k, v in r.items() if k != "run_ids"} for board in b for r in board["rows"]]  # noqa: E731
    assert strip(boards[0]) == strip(boards[1])
    a, b = Store(source), Store(target)
    for ra, rb in zip(a.runs(), b.runs()):
        assert (ra.run_key, ra.params_dict, ra.manifest_hash) == (rb.run_key, rb.params_dict, rb.manifest_hash)
        assert a.scores(ra.id, "psnr") == b.scores(rb.id, "psnr")


def test_a_different_result_for_the_same_run_is_kept_beside_it(capsys, source, tmp_path):
    path = tmp_path / "r.jsonl"
    assert cli(capsys, "export", "--db", source, "-o", path)[0] == 0
    target = f"sqlite:///{tmp_path / 'b.db'}"
    assert cli(capsys, "import", path, "--db", target)[0] == 0
    # the same runs computed elsewhere with another result: re-export after changing a score in a copy
    other = tmp_path / "other.db"
    import sqlite3

    # a copy through SQLite's backup API: the file alone lacks what its write-ahead log still holds
    with sqlite3.connect(tmp_path / "a.db") as src, sqlite3.connect(other) as dst:
        src.backup(dst)
    con = sqlite3.connect(other)
    con.execute("update scores set value = value + 1 where run_id = 1 and metric = 'psnr'")
    con.commit()
    con.close()
    path2 = tmp_path / "other.jsonl"
    assert cli(capsys, "export", "--db", f"sqlite:///{other}", "-o", path2)[0] == 0
    code, out, err = cli(capsys, "import", path2, "--db", target)
    assert code == 0 and "imported 1 run(s)" in out and "1 already present" in out
    assert "kept both" in err and "but a different result" in " ".join(err.split())
    assert len(Store(target).runs()) == 3


def test_bad_files_are_clear_errors(capsys, source, tmp_path):
    target = f"sqlite:///{tmp_path / 'b.db'}"
    code, _, err = cli(capsys, "import", tmp_path / "missing.jsonl", "--db", target)
    assert code == 2 and "does not exist" in err
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n')
    code, _, err = cli(capsys, "import", tmp_path / "notes.jsonl", "--db", target)
    assert code == 2 and "is not a vbench results file" in " ".join(err.split())
    path = tmp_path / "r.jsonl"
    assert cli(capsys, "export", "--db", source, "-o", path)[0] == 0
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["scores"][0][2] = 99.0  # edited by hand after export
    path.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    code, _, err = cli(capsys, "import", path, "--db", target)
    assert code == 2 and "content hash does not match" in " ".join(err.split()) and "line 2" in err
    path.write_text(lines[0] + "\n" + lines[1][:40] + "\n")
    code, _, err = cli(capsys, "import", path, "--db", target)
    assert code == 2 and "truncated" in err
    assert Store(target).runs() == []  # nothing half-imported from the bad files
    code, _, err = cli(capsys, "export", "--db", source, "-o", tmp_path / "no" / "such" / "dir" / "r.jsonl")
    assert code == 2 and "cannot write" in err
