"""`vbench run --set key=value`: preset parameters overridden, and grids of them."""

from __future__ import annotations

import json

import pytest

from vbench.cli import main
from vbench.errors import ConfigError
from vbench.run.overrides import parse
from vbench.store import Store


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_values_are_read_as_json_where_they_parse_and_lists_stay_whole():
    assert parse(["lr=1e-4,2e-4", "name=abc", "flag=true", "mult=[1,2],[1,2,4]"]) == {
        "lr": [0.0001, 0.0002],
        "name": ["abc"],
        "flag": [True],
        "mult": [[1, 2], [1, 2, 4]],
    }
    for bad in (["lr"], ["=3"], ["lr="], ["lr=1", "lr=2"]):
        with pytest.raises(ConfigError, match="--set"):
            parse(bad)


def test_a_grid_runs_every_combination_once_each_its_own_row(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'grid.db'}"
    args = [
        "run",
        "-s",
        "baseline-colormap",
        "-d",
        "qpi-ihc",
        "-m",
        "psnr",
        "--set",
        "prior=1.0,8.0",
        "--set",
        "max_bins=64,4096",
        "--db",
        db,
        "--no-isolate",
        "-q",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    runs = Store(db).runs()
    assert len(runs) == 4 and len({r.run_key for r in runs}) == 4
    assert sorted((r.params_dict["prior"], r.params_dict["max_bins"]) for r in runs) == [
        (1.0, 64),
        (1.0, 4096),
        (8.0, 64),
        (8.0, 4096),
    ]
    assert "baseline-colormap:default[max_bins=64,prior=1.0]" in [r.label for r in runs]
    code, out, _ = cli(capsys, "leaderboard", "--db", db, "-f", "json")
    (board,) = json.loads(out)
    assert len(board["rows"]) == 4 and len({r["label"] for r in board["rows"]}) == 4
    # re-running the same grid never duplicates a run
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 0 and err.count("skipped") == 4 and len(Store(db).runs()) == 4
    # the run without --set keeps the preset's identity (and its plain label)
    code, _, err = cli(
        capsys, "run", "-s", "baseline-colormap", "-d", "qpi-ihc", "-m", "psnr", "--db", db, "--no-isolate", "-q"
    )
    assert code == 0 and Store(db).runs()[-1].label == "baseline-colormap"


@pytest.mark.parametrize(
    "setting, message",
    [
        ("prio=2", "baseline-colormap has no parameter 'prio'. Did you mean 'prior'"),
        ("prior=abc", "baseline-colormap's prior is a number"),
        ("max_bins=2.5", "baseline-colormap's max_bins is a whole number"),
        ("steps=3", "no parameter 'steps'"),
    ],
)
def test_unknown_parameters_and_wrong_kinds_are_named(capsys, tmp_path, setting, message):
    code, _, err = cli(
        capsys,
        "run",
        "-s",
        "baseline-colormap",
        "-d",
        "qpi-ihc",
        "--set",
        setting,
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--no-isolate",
        "-q",
    )
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_a_stainer_without_presets_has_nothing_to_set(capsys, tmp_path):
    code, _, err = cli(
        capsys,
        "run",
        "-s",
        "baseline-mean",
        "-d",
        "qpi-ihc",
        "--set",
        "x=1",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--no-isolate",
        "-q",
    )
    assert code == 2 and "(none: it has no presets)" in err
