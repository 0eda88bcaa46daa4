"""Suites with tasks (each dataset its own stainers), presets with changed parameters as labels show
them, the default suite covering every bundled method on its own task, and the sweep display's
phases and ETA."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vbench.errors import ConfigError, UnknownNameError
from vbench.plugins import load_plugins
from vbench.run import load_suite, plan_suite
from vbench.run.progress import ForwardingReporter, SweepDisplay, expected_seconds

# Each bundled method and the datasets of its task.
OWN_TASK = {
    "phasestain": {"qpi-he"},
    "bbdm": {"af-he-x4"},
    "cyclegan": {"unstained-he-unpaired"},
    "distill": {"unstained-he-misaligned", "unstained-he-unpaired"},
}


def test_the_default_suite_runs_every_bundled_method_on_its_own_task():
    plugins = load_plugins()
    specs = plan_suite(plugins, load_suite("default"))
    planned = {(s.stainer, s.dataset) for s in specs}
    for method, datasets in OWN_TASK.items():
        assert any((method, d) in planned for d in datasets), method
    for method, dataset in planned:
        assert method not in OWN_TASK or dataset in OWN_TASK[method], (method, dataset)
    assert {"baseline-mean", "baseline-linear", "baseline-colormap"} <= {s for s, _ in planned}
    # only the tasks' pairs, not every stainer on every dataset
    assert ("cyclegan", "qpi-he") not in planned and ("phasestain", "af-he-x4") not in planned
    assert all(s.suite == "default" and s.seed == 0 for s in specs)
    budgets = {s.stainer: s.params.get("steps") for s in specs if s.preset}
    assert all(isinstance(v, int) and v > 0 for k, v in budgets.items() if k in OWN_TASK), budgets


def test_a_tasks_suite_file_and_its_errors(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('seeds = [1, 2]\n[tasks]\nqpi-ihc = ["baseline-mean", "baseline-linear:[x=1]"]\n')
    with pytest.raises(ConfigError, match="baseline-linear has no parameter 'x'"):
        plan_suite(load_plugins(), load_suite(str(path)))
    path.write_text('seeds = [1, 2]\n[tasks]\nqpi-ihc = ["baseline-mean", "phasestain:quick[steps=3,width=4]"]\n')
    suite = load_suite(str(path))
    specs = plan_suite(load_plugins(), suite)
    assert [(s.stainer, s.seed) for s in specs] == [
        ("baseline-mean", 1),
        ("baseline-mean", 2),
        ("phasestain", 1),
        ("phasestain", 2),
    ]
    ps = specs[-1]
    assert ps.params["steps"] == 3 and ps.params["width"] == 4 and ps.preset_label == "quick[steps=3,width=4]"
    assert ps.label == "phasestain:quick[steps=3,width=4] on qpi-ihc seed 2"
    path.write_text("[tasks]\nqpi-ihc = []\n")
    with pytest.raises(ConfigError, match="tasks.qpi-ihc: list should have at least 1 item.*Expected a table mapping"):
        load_suite(str(path))
    path.write_text("seeds = [0]\n")
    with pytest.raises(ConfigError, match="has no 'stainers' list \\(or a tasks table\\)"):
        load_suite(str(path))
    path.write_text('[tasks]\nqpi-ihc = ["phasestain:quick[steps=3"]\n')
    with pytest.raises(ConfigError, match=r"write NAME\[KEY=VALUE,...\]"):
        plan_suite(load_plugins(), load_suite(str(path)))


def spec(stainer, preset="quick", dataset="d", steps=None):
    return SimpleNamespace(
        stainer=stainer, preset_label=preset, dataset=dataset, params={"steps": steps} if steps else {}
    )


def test_expected_seconds_come_from_earlier_runs_of_the_same_preset():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1)

    def run(stainer, preset, dataset, seconds):
        return SimpleNamespace(
            stainer=stainer, preset=preset, dataset=dataset, started_at=t0, ended_at=t0 + timedelta(seconds=seconds)
        )

    history = [
        run("a", "quick", "d", 100),
        run("a", "quick", "d", 120),
        run("a", "quick", "e", 999),
        run("b", "quick", "e", 40),
    ]
    assert expected_seconds(history, spec("a")) == 120
    assert expected_seconds(history, spec("b")) == 40  # same preset, other dataset
    assert expected_seconds(history, spec("c", steps=100)) == pytest.approx(55.0)  # a guess from the budget
    assert expected_seconds(history, spec("c")) == pytest.approx(15.0)


def test_sweep_display_follows_phases_and_scales_its_eta():
    display = SweepDisplay(["a on d seed 0", "b on d seed 0"], [10.0, 90.0])
    with display:
        display.start_run(0)
        reporter = ForwardingReporter(display.on_message)
        with reporter.task("fit a on d seed 0", 4) as advance:
            advance(2)
        assert display.phase == "fit" and display.fraction() == pytest.approx(0.4)
        with reporter.task("predict a on d seed 0", 2) as advance:
            advance(2)
        assert display.fraction() == pytest.approx(0.9)
        display.end_run()
        display.start_run(1)
        assert display.fraction() == 0.0 and display.done == 10.0
        assert 90.0 * 0.3 <= display.eta() <= 90.0 * 5  # what is left, scaled by how this sweep went
        text = display.progress.tasks[1].description
        assert text.startswith("run 2/2 b on d seed 0: starting")
        display.end_run()
    assert display.eta() == 0.0


# -- a suite file is checked against one schema: one-line errors naming the file, the key and what it expects ----


def run_suite(capsys, path, db):
    from vbench.cli import main

    code = main(["run", "--suite", str(path), "--db", db, "--no-isolate", "-q"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = ["zero"]\n',
            "seeds[0]: input should be a valid integer, got 'zero'",
        ),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = 3\n',
            "seeds: input should be a valid list, got 3",
        ),
        ('stainers = [1, 2]\ndatasets = ["qpi-ihc"]\n', "stainers[0]: input should be a valid string, got 1"),
        (
            'stainers = "baseline-mean"\ndatasets = ["qpi-ihc"]\n',
            "stainers: input should be a valid list, got 'baseline-mean'",
        ),
        ('stainers = ["baseline-mean"\ndatasets = ["qpi-ihc"]\n', "is not valid TOML: "),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [-1]\n',
            "seeds[0]: input should be greater than or equal to 0",
        ),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [4294967296]\n',
            "seeds[0]: input should be less than 4294967296",
        ),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [true]\n',
            "seeds[0]: input should be a valid integer, got True",
        ),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [0.5]\n',
            "seeds[0]: input should be a valid integer",
        ),
        ('stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [1, 1]\n', "seeds lists 1 twice"),
        (
            'stainers = ["baseline-\\u001b[31mmean"]\ndatasets = ["qpi-ihc"]\n',
            "stainers[0]: control character \\x1b in the text",
        ),
        (
            'stainers = ["baseline-\\u202emean"]\ndatasets = ["qpi-ihc"]\n',
            "stainers[0]: control character \\u202e in the text",
        ),
        ('stainers = []\ndatasets = ["qpi-ihc"]\n', "stainers: list should have at least 1 item"),
        ('stainers = ["baseline-mean"]\n', "has no 'datasets' list (or a tasks table)"),
        (
            'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\n[tasks]\nqpi-ihc = ["baseline-mean"]\n',
            "either stainers and datasets, or a tasks table, not both",
        ),
        ('[tasks]\nqpi-ihc = "baseline-mean"\n', "tasks.qpi-ihc: input should be a valid list"),
        (
            '[mine]\nstainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\n',
            "unknown table [mine]. A suite file holds one suite's keys at its top level",
        ),
    ],
)
def test_a_bad_suite_file_is_one_line_naming_the_file_and_key(capsys, tmp_path, text, expected):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    db = tmp_path / "r.db"
    code, err = run_suite(capsys, path, f"sqlite:///{db}")
    flat = " ".join(err.split())
    assert code == 2 and expected in flat and "mine.toml" in flat, err
    assert err.count("error:") == 1 and "Traceback" not in err and "\x1b" not in err and "\u202e" not in err
    assert not db.exists()  # checked before the database is opened: nothing created


@pytest.mark.parametrize(
    "key, hint",
    [
        ("seed = [7]", "unknown key 'seed'. Did you mean 'seeds'?"),
        ('metric = ["psnr"]', "unknown key 'metric'. Did you mean 'metrics'?"),
    ],
)
def test_unknown_keys_are_errors_with_a_did_you_mean(capsys, tmp_path, key, hint):
    """Today's silent sweep: `seed = [7]` ran seed 0 and `metric = [...]` the default metrics."""
    path = tmp_path / "mine.toml"
    path.write_text(f'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\n{key}\n')
    code, err = run_suite(capsys, path, f"sqlite:///{tmp_path / 'r.db'}")
    assert (
        code == 2 and hint in err and "Known keys: stainers, datasets, seeds, metrics, tasks" in " ".join(err.split())
    )


def test_a_suite_file_that_is_not_utf8_or_not_readable(capsys, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_bytes(b'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc\xff"]\n')
    with pytest.raises(ConfigError, match=r"mine.toml is not UTF-8 text: byte 0xff on line 2; save it as UTF-8"):
        load_suite(str(path))
    path.write_text('stainers = ["baseline-mean"]\ndatasets = [\n')
    with pytest.raises(ConfigError, match=r"mine.toml is not valid TOML: .*line 3"):
        load_suite(str(path))
    path.write_text('stainers = ["a"]\nstainers = ["b"]\n')
    with pytest.raises(ConfigError, match=r"mine.toml is not valid TOML: .*\(at line 2, column"):
        load_suite(str(path))
    with pytest.raises(ConfigError, match="suite file .*nothere.toml does not exist"):
        load_suite(str(tmp_path / "nothere.toml"))
    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(ConfigError, match="folder.toml does not exist"):
        load_suite(str(tmp_path / "folder.toml"))


def test_a_valid_suite_file_keeps_its_seeds_and_metrics(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nseeds = [7, 4294967295]\nmetrics = ["psnr"]\n'
    )
    suite = load_suite(str(path))
    assert (suite.name, suite.seeds, suite.metrics) == ("mine", [7, 4294967295], ["psnr"])
    specs = plan_suite(load_plugins(), suite)
    assert [s.seed for s in specs] == [7, 4294967295] and all(s.metrics == ["psnr"] for s in specs)


def test_every_named_suite_validates_against_the_same_schema():
    from vbench.run.suites import SuiteFile, named_suites

    named = named_suites()
    assert {"default", "baselines"} <= set(named)
    for name, table in named.items():
        SuiteFile.model_validate(table)  # raises on any problem
        suite = load_suite(name)
        assert suite.name == name and suite.seeds and (suite.tasks or (suite.stainers and suite.datasets))
    with pytest.raises(UnknownNameError, match="unknown suite 'baseline'. Did you mean 'baselines'"):
        load_suite("baseline")
