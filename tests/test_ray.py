"""`vbench run --executor ray`: runs as Ray tasks on a local Ray, results stored by the driver alone."""

from __future__ import annotations

import _thread
import logging
import sqlite3
import sys
import threading
import time

import pytest

from vbench.cli import main

pytestmark = pytest.mark.slow  # starts Ray

PLUGIN = """
import os
import time
import torch
import vbench

class Raises(vbench.Stainer):
    name = "ray-raises"
    pairings = {"paired"}
    def fit(self, train, ctx):
        raise ValueError("learning rate 1e9 diverged")
    def predict(self, inputs):
        n, _, h, w = inputs.shape
        return torch.full((n, 3, h, w), 0.5)

class Dies(Raises):
    name = "ray-dies"
    def fit(self, train, ctx):
        os._exit(1)  # the worker process dies: no exception, no result

class Sleeps(Raises):
    name = "ray-sleeps"
    def fit(self, train, ctx):
        time.sleep(120)

@vbench.hookimpl
def vbench_register_stainers(register):
    for cls in (Raises, Dies, Sleeps):
        register(cls)
"""


@pytest.fixture(scope="module")
def ray_local(prerequisite):
    """One local Ray for the module (starting one takes seconds); the executor uses it as it is."""
    try:
        import ray
    except ImportError:
        prerequisite("ray is not installed: pip install 'vbench[ray]'")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture
def test_plugin(monkeypatch, plugin_module):
    """The CLI loads the bundled plugins and PLUGIN (an explicit module, which reaches the Ray
    workers through its folder)."""
    import vbench.cli.results as results
    from vbench.plugins import load_plugins

    name = plugin_module(PLUGIN)
    monkeypatch.setattr(results, "loaded_plugins", lambda: load_plugins(extra=[name]))


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_a_ray_sweep_scores_as_the_local_executor_and_stores_each_row_once(ray_local, capsys, tmp_path):
    import torch

    sweep = ["run", "-s", "baseline-mean", "-s", "baseline-linear", "-d", "qpi-ihc", "-m", "psnr", "-q"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the local run's thread count, as --cpus-per-run 1 gives each Ray task
    try:
        code, _, err = cli(capsys, *sweep, "--db", f"sqlite:///{tmp_path / 'local.db'}", "--no-isolate")
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err
    code, _, err = cli(
        capsys, *sweep, "--db", f"sqlite:///{tmp_path / 'ray.db'}", "--executor", "ray", "--cpus-per-run", "1"
    )
    assert code == 0, err
    assert err.count("completed run") == 2

    def per_tile(name):
        path = tmp_path / f"{name}.db"
        runs = rows(path, "select id, run_key, status, n_test_tiles, threads, artifacts from runs")
        scores = rows(path, "select run_id, tile, value from scores where metric = 'psnr'")
        return (
            {
                key: (status, n, t, art, {tile: v for r, tile, v in scores if r == rid})
                for rid, key, status, n, t, art in runs
            },
            len(scores),
            runs,
        )

    local, n_local, _ = per_tile("local")
    remote, n_remote, runs = per_tile("ray")
    assert len(runs) == 2 and set(remote) == set(local)  # one run each, the same run identities
    assert n_remote == n_local == sum(r[3] for r in runs)  # every tile's score stored once
    for key, (status, n, t, art, tiles) in remote.items():
        assert status == "completed" and t == 1 and len(tiles) == n
        assert tiles == local[key][4]  # the same per-tile scores
        assert (tmp_path / "ray-artifacts").as_posix() in art
    assert rows(tmp_path / "ray.db", "select count(*) from summaries") == [(2,)]
    assert all((tmp_path / "ray-artifacts" / f"run-{r[0]}" / "samples.png").exists() for r in runs)


def test_a_task_that_raises_or_a_worker_that_dies_fails_its_run_and_the_sweep_completes(
    ray_local, capsys, tmp_path, test_plugin
):
    base = ["run", "-d", "qpi-ihc", "-m", "psnr", "-q"]
    local_code, _, _ = cli(capsys, *base, "-s", "ray-raises", "--no-isolate", "--db", f"sqlite:///{tmp_path / 'l.db'}")
    db = tmp_path / "ray.db"
    code, _, err = cli(
        capsys,
        *base,
        "-s",
        "ray-raises",
        "-s",
        "ray-dies",
        "-s",
        "baseline-mean",
        "--executor",
        "ray",
        "--db",
        f"sqlite:///{db}",
    )
    assert code == local_code == 1, err
    assert "2 run(s) failed" in err and "Traceback" not in err
    stored = {s: (status, error) for s, status, error in rows(db, "select stainer, status, error from runs")}
    assert stored["baseline-mean"] == ("completed", None)
    status, error = stored["ray-raises"]
    assert status == "failed" and error.startswith("stainer 'ray-raises' raised in fit: ValueError: learning rate 1e9")
    assert "Traceback" in error
    status, error = stored["ray-dies"]
    assert status == "failed" and error.startswith("the run's Ray worker died (WorkerCrashedError")
    assert "failed run 2 ray-dies on qpi-ihc seed 0: the run's Ray worker died (WorkerCrashedError" in err


def test_ctrl_c_cancels_the_tasks_and_marks_the_runs_in_flight_interrupted(ray_local, tmp_path, plugin_module):
    from vbench.errors import RunInterrupted
    from vbench.plugins import load_plugins
    from vbench.run import INTERRUPTED, plan, run_sweep
    from vbench.run.ray_executor import RayExecutor
    from vbench.store import Store

    plugins = load_plugins(extra=[plugin_module(PLUGIN)])
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    specs = plan(plugins, ["ray-sleeps"], ["qpi-ihc"], [0, 1], metrics=["psnr"])

    def interrupt_when_running():
        deadline = time.time() + 60
        while time.time() < deadline and len(store.runs(status="running")) < 2:
            time.sleep(0.2)
        time.sleep(1)
        _thread.interrupt_main()  # what Ctrl-C does to the driver

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(
        RunInterrupted, match=r"interrupted during run 1, 2 .* Continue with `vbench run \.\.\. --resume`"
    ):
        run_sweep(specs, store, plugins, executor=RayExecutor(cpus_per_run=1))
    assert [(r.status, r.error) for r in store.runs()] == [("interrupted", INTERRUPTED)] * 2
    deadline = time.time() + 30  # the cancelled tasks give their CPUs back
    while ray_local.available_resources().get("CPU", 0) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert ray_local.available_resources().get("CPU", 0) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--executor", "ray"],
            "error: --executor ray needs Ray, which is not installed here: pip install 'vbench[ray]'",
        ),
        (["--cpus-per-run", "2"], "error: --cpus-per-run applies to --executor ray only"),
        (["--executor", "dask"], "error: unknown executor 'dask'; use one of local, ray"),
    ],
)
def test_without_ray_or_with_ray_options_alone_the_cli_says_what_to_do(capsys, monkeypatch, tmp_path, args, message):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    code, out, err = cli(
        capsys, "run", "-s", "baseline-mean", "-d", "qpi-ihc", "--db", f"sqlite:///{tmp_path / 'x.db'}", *args
    )
    assert code == 2 and err == message, err
    assert not (tmp_path / "x.db").exists()  # refused before anything was planned or stored
