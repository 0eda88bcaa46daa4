"""The MeanColor example of docs/plugins.md, unchanged but for its name, installed as a real separate
distribution and driven through the CLI: plugins -> run -> leaderboard -> checkpoint restore; and a
third-party metric with its own unit and display name, shown in every format and kept with the
board where the plugin is gone."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from vbench.report import build_leaderboard, render
from vbench.report.figures import axis_label, quality_metric
from vbench.report.publish import README_NAME, TEX_NAME
from vbench.report.terminal import rich_tables

EXAMPLE = '''
import torch
import vbench

class MeanColor(vbench.Stainer):
    """Predicts the mean target colour everywhere: the floor every method must beat."""
    name = "mean-color-ext"
    pairings = {"paired", "misaligned", "unpaired"}

    def fit(self, train, ctx):
        # train: iterable of vbench.Sample (.input, .target: float32 CxHxW tensors in [0, 1])
        self.color = torch.stack([s.target.mean(dim=(1, 2)) for s in train]).mean(dim=0)

    def predict(self, inputs):
        # inputs: N x C_in x h x w in [0, 1]; returns N x 3 x (h*scale) x (w*scale) in [0, 1]
        n, _, h, w = inputs.shape
        s = self.ctx.scale
        return self.color.view(1, 3, 1, 1).expand(n, 3, h * s, w * s).clone()

@vbench.hookimpl
def vbench_register_stainers(register):
    register(MeanColor)
'''

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "my-stain-ext"
version = "0.3.1"

[project.entry-points.vbench]
mean-color-ext = "my_stain_ext"
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("third-party")
    pkg = root / "pkg"
    (pkg / "my_stain_ext").mkdir(parents=True)
    (pkg / "my_stain_ext" / "__init__.py").write_text(textwrap.dedent(EXAMPLE))
    (pkg / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(pkg),
        ],
        check=True,
    )
    env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{root / 'results.db'}", COLUMNS="200")
    return root, env


def vbench(env, *args, cwd):
    exe = Path(sys.executable).with_name("vbench")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_separately_installed_plugin_runs_through_the_cli(installed):
    root, env = installed
    listed = vbench(env, "plugins", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert "mean-color-ext" in listed.stdout and "my-stain-ext" in listed.stdout and "0.3.1" in listed.stdout

    ran = vbench(env, "run", "--stainer", "mean-color-ext", "--dataset", "qpi-ihc", "-q", cwd=root)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    board = vbench(env, "leaderboard", "--format", "json", cwd=root)
    assert board.returncode == 0, board.stderr
    (ihc,) = [b for b in json.loads(board.stdout) if b["dataset"] == "qpi-ihc"]
    (row,) = [r for r in ihc["rows"] if r["stainer"] == "mean-color-ext"]
    assert row["rank"] == 1 and {"psnr", "ssim"} <= set(row["metrics"])

    shown = json.loads(vbench(env, "runs", "1", "--json", cwd=root).stdout)
    assert shown["plugin_dist"] == "my-stain-ext" and shown["plugin_version"] == "0.3.1"

    # The base class checkpoints even this example (its tensor attribute) as safetensors.
    weights = Path(shown["artifacts"]) / "model.safetensors"
    code = textwrap.dedent(f"""
        import torch
        from vbench.run.checkpoint import load
        from my_stain_ext import MeanColor
        m = load(MeanColor(), {str(weights.parent)!r})
        print(m.color.tolist())
    """)
    restored = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    color = json.loads(restored.stdout)
    assert len(color) == 3 and all(0 < c < 1 for c in color)


@pytest.mark.slow
def test_a_new_plugin_version_is_a_new_run_under_resume(installed_plugin, tmp_path):
    """Run identity covers the stainer's plugin version: after an upgrade, `--resume` runs the
    stainer again (its old row stays), and skips it on the next resume."""
    site = installed_plugin("mean_color_ver", EXAMPLE.replace("mean-color-ext", "mean-color-ver"))
    env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{tmp_path / 'r.db'}")
    args = ("run", "-s", "mean-color-ver", "-d", "qpi-ihc", "-m", "psnr", "--resume", "--no-isolate", "-q")

    def run_and_list():
        ran = vbench(env, *args, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        from vbench.store import Store

        store = Store(env["VBENCH_DB"])
        runs = [(r.plugin_version, r.status) for r in store.runs()]
        store.engine.dispose()
        return ran.stderr + ran.stdout, runs

    assert run_and_list()[1] == [("1.0", "completed")]
    assert "already completed" in run_and_list()[0]
    metadata = site / "mean_color_ver-1.0.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace("Version: 1.0", "Version: 1.1"))
    assert run_and_list()[1] == [("1.0", "completed"), ("1.1", "completed")]
    out, runs = run_and_list()
    assert "already completed" in out and len(runs) == 2


FURLONGS = '''
import vbench

class FurlongGap(vbench.ImageMetric):
    """Mean absolute difference, told in furlongs: a metric from outside vbench with a unit."""
    name = "furlong-gap"
    kind = "full-reference"
    higher_is_better = False
    unit = "furlongs"
    display_name = "Furlong gap"
    rank_priority = -1  # preferred over every bundled metric
    pipeline = "RGB in [0,1], mean absolute difference x 8"

    def score(self, pred, ref):
        return (pred - ref).abs().mean(dim=(1, 2, 3)) * 8

@vbench.hookimpl
def vbench_register_metrics(register):
    register(FurlongGap)
'''


@pytest.fixture
def furlong_run(plugin_module, tiny_dataset, db_url):
    """A real run of baseline-linear on the toy dataset scored with the third-party metric and psnr."""
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins = load_plugins(extra=[tiny_dataset, plugin_module(FURLONGS)])
    store = Store(db_url)
    specs = plan(plugins, ["baseline-linear", "baseline-mean"], ["tiny"], [0], metrics=["psnr", "furlong-gap"])
    outcomes = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert all(o.status == "completed" for o in outcomes), [o.message for o in outcomes]
    return store, plugins


def test_a_third_party_metrics_unit_and_name_reach_every_format(furlong_run):
    """Terminal table, Markdown, LaTeX, HTML, JSON, CSV (a unit column per metric) and figure labels."""
    store, plugins = furlong_run
    (board,) = build_leaderboard(store, plugins=plugins)
    info = board.metrics["furlong-gap"]
    assert (info["unit"], info["display_name"], info["rank_priority"]) == ("furlongs", "Furlong gap", -1)
    assert board.primary == "furlong-gap"  # its rank priority is below psnr's

    heading = "Furlong gap (furlongs) ↓"
    assert heading in render([board], "md")
    assert r"Furlong gap (furlongs) \ensuremath{\downarrow}" in render([board], "latex")
    assert heading in render([board], "html")
    data = json.loads(render([board], "json"))[0]
    assert data["metrics"]["furlong-gap"]["unit"] == "furlongs"
    assert data["metrics"]["furlong-gap"]["display_name"] == "Furlong gap"
    assert data["metrics"]["psnr"]["unit"] == "dB"
    text = render([board], "csv")
    assert "furlong-gap_unit" in text.splitlines()[0] and "psnr_unit" in text.splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["furlong-gap_unit"] for r in rows} == {"furlongs"} and {r["psnr_unit"] for r in rows} == {"dB"}

    console = Console(file=io.StringIO(), width=120, markup=False)
    for table in rich_tables([board]):
        console.print(table)
    printed = console.file.getvalue()
    assert "Furlong gap" in printed and "furlongs ↓" in printed and "psnr dB ↑" in printed
    assert "ranked by Furlong gap" in printed

    assert quality_metric(board) == "furlong-gap"
    assert axis_label(board, "furlong-gap", " lower is better") == "Furlong gap (furlongs) lower is better"
    assert axis_label(board, "psnr") == "psnr (dB)"


def test_the_board_keeps_the_presentation_where_the_plugin_is_gone(furlong_run, capsys, tmp_path):
    """Built without the plugin, the metric is unitless under its name and psnr ranks; published
    with it, the JSON carries its unit and name to a process that lacks it."""
    from vbench.cli import main
    from vbench.plugins import load_plugins
    from vbench.report.publish import publish

    store, plugins = furlong_run
    published = tmp_path / "site"
    publish(store, published, figures=False)  # the installed plugins: the test metric is not among them
    (board,) = json.loads((published / "leaderboard.json").read_text())
    assert board["metrics"]["furlong-gap"]["unit"] == "" and board["primary_metric"] == "psnr"
    assert board["metrics"]["psnr"]["unit"] == "dB"  # the bundled metrics are installed

    # Published with the plugin, rendered again from the JSON by a process that lacks it.
    (with_plugin,) = build_leaderboard(store, plugins=plugins)
    (tmp_path / "lb.json").write_text(render([with_plugin], "json"))
    assert main(["publish", str(tmp_path / "again"), "--from-json", str(tmp_path / "lb.json")]) == 0
    capsys.readouterr()
    assert "furlong-gap" not in load_plugins().metrics
    assert "Furlong gap (furlongs) ↓" in (tmp_path / "again" / README_NAME).read_text()
    assert "Furlong gap (furlongs)" in (tmp_path / "again" / TEX_NAME).read_text()


@pytest.mark.slow
def test_a_third_party_metric_declares_its_unit_and_name_through_the_cli(installed_plugin, tiny_dataset, tmp_path):
    """A metric from a separately installed plugin, with its own unit and display name, run and
    ranked through the CLI: the table printed at the end of the run (80 columns), the terminal
    leaderboard and the JSON show them."""
    import importlib.util

    tiny = Path(importlib.util.find_spec(tiny_dataset).origin).read_text()
    site = installed_plugin("furlong_metric", tiny + FURLONGS.replace("import vbench\n", "", 1))
    env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{tmp_path / 'r.db'}", COLUMNS="80")
    ran = vbench(
        env, "run", "-s", "baseline-linear", "-d", "tiny", "-m", "psnr,furlong-gap", "--no-isolate", "-q", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert "tiny — ranked by Furlong gap" in ran.stdout and "furlongs ↓" in ran.stdout and "psnr dB ↑" in ran.stdout
    assert max(len(line) for line in ran.stdout.splitlines()) <= 80
    shown = vbench(env, "leaderboard", cwd=tmp_path)  # found through its entry point, as the run found it
    assert shown.returncode == 0 and "Furlong gap" in shown.stdout and "furlongs ↓" in shown.stdout, shown.stderr
    board = json.loads(vbench(env, "leaderboard", "-f", "json", cwd=tmp_path).stdout)[0]
    assert board["primary_metric"] == "furlong-gap"
    assert board["metrics"]["furlong-gap"] | {"pipeline": ""} == {
        "higher_is_better": False,
        "pipeline": "",
        "unit": "furlongs",
        "display_name": "Furlong gap",
        "rank_priority": -1,
    }
