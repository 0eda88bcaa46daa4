"""The MeanColor example of docs/plugins.md, unchanged but for its name, installed as a real separate
distribution and driven through the CLI: plugins -> run -> leaderboard -> checkpoint restore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
