"""Suites with tasks (each dataset its own stainers), presets with changed parameters as labels show
them, the default suite covering every bundled method on its own task, and the sweep display's
phases and ETA."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vbench.errors import ConfigError
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
    with pytest.raises(ConfigError, match="tasks must map each dataset to a list of stainers"):
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
