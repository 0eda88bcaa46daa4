"""`vbench publish --from-json` reads a leaderboard.json that may not come from vbench: every board
is checked, and a bad one is a one-line error naming the file, the board and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbench.cli import main
from vbench.errors import ConfigError
from vbench.report.publish import load, render_files

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "leaderboard" / "leaderboard.json"


@pytest.fixture
def boards():
    return json.loads(COMMITTED.read_text())


def row(board):
    return board["rows"][0]


# (what, change of the first board, words the error must hold)
BAD = [
    ("a string where a number belongs", lambda b: row(b)["metrics"]["psnr"].update(mean="19.4"), "rows[0].metrics"),
    ("a row without metrics", lambda b: row(b).pop("metrics"), "rows[0].metrics: field required"),
    ("NaN mean", lambda b: row(b)["metrics"]["psnr"].update(mean=float("nan")), "finite number"),
    ("Infinity interval", lambda b: row(b)["metrics"]["psnr"].update(ci_high=float("inf")), "finite number"),
    ("a seed as text", lambda b: row(b).update(seeds=["0"]), "rows[0].seeds[0]"),
    ("a rank as text", lambda b: row(b).update(rank="1"), "rows[0].rank"),
    ("a rank of 0", lambda b: row(b).update(rank=0), "rows[0].rank"),
    ("runtime as text", lambda b: row(b).update(train_seconds="fast"), "rows[0].train_seconds"),
    ("escape in a label", lambda b: row(b).update(label="\x1b[31mred\u202egnp.exe"), "rows[0].label"),
    ("a 200,000-char dataset", lambda b: b.update(dataset="d" * 200_000), "at most 1000 characters"),
    ("a javascript: sample", lambda b: row(b).update(samples={"0": "javascript:alert(1)"}), "rows[0].samples"),
    ("an absolute figure", lambda b: b["figures"][0].update(path="/etc/passwd"), "figures[0].path"),
    ("a figure climbing out", lambda b: b["figures"][0].update(svg="../x.svg"), "figures[0].svg"),
    ("an unknown figure", lambda b: b["figures"][0].update(kind="evil"), "figures[0].kind"),
    ("an unknown key", lambda b: row(b).update(foo=1), "field 'rows[0].foo' is not known to vbench"),
    ("primary not a column", lambda b: b.update(primary_metric="nope"), "primary_metric 'nope' is not one"),
    ("metric info lacking", lambda b: b["metrics"]["psnr"].pop("higher_is_better"), "metrics.psnr.higher_is_better"),
    ("rows not a list", lambda b: b.update(rows={"a": 1}), "rows: input should be a valid list"),
    ("params with NaN", lambda b: row(b).update(params={"lr": float("nan")}), "rows[0].params"),
    ("a note with a control char", lambda b: b.update(note="a\x00b"), "note"),
]


@pytest.mark.parametrize("what, change, words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_board_is_a_one_line_error_naming_file_board_and_field(boards, tmp_path, what, change, words):
    change(boards[0])
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(boards))
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert f"{path}, board 1: " in message and words in message, message
    assert len(message.splitlines()) == 1 and len(message) < 600, message
    assert "\x1b" not in message and "\x00" not in message


def test_the_cli_exits_2_and_writes_nothing(boards, tmp_path, capsys):
    row(boards[0]).pop("metrics")
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(boards))
    code = main(["publish", str(tmp_path / "site"), "--from-json", str(path)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "board 1: rows[0].metrics: field required" in err and "Traceback" not in err
    assert not (tmp_path / "site" / "index.html").exists()


def test_a_published_json_is_read_as_written():
    """What vbench wrote passes and renders exactly as the raw JSON does."""
    raw = json.loads(COMMITTED.read_text())
    checked = load(COMMITTED)
    assert checked == raw
    assert render_files(checked) == render_files(raw)


def test_what_publish_writes_from_long_parameters_renders_again(tmp_path, capsys):
    """Two rows of one preset are told apart by their parameters in the label: with parameters as
    long as an import accepts (100,000 characters of JSON), the published JSON still renders."""
    from vbench.store import Store

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    params = {f"k{i}": "v" * 990 for i in range(95)}
    for i, p in enumerate([params, dict(params, k0="w")]):
        run_id = store.create_run(stainer="a", run_key=f"k{i}", vbench_version="0", dataset="d", seed=0, params=p)
        store.finish_run(run_id, [("m", f"t{j}", 1.0 + j + i) for j in range(3)], [dict(metric="m", n=3, mean=2.0)])
    assert main(["publish", str(tmp_path / "site"), "--db", store.url, "--no-figures"]) == 0
    boards = load(tmp_path / "site" / "leaderboard.json")
    assert len(boards[0]["rows"][0]["label"]) > 90_000
    assert main(["publish", str(tmp_path / "again"), "--from-json", str(tmp_path / "site" / "leaderboard.json")]) == 0
