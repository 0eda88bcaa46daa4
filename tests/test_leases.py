"""Run leases: an owner and a database-clock heartbeat per executing run, so resumed sweeps never
run a run twice, never steal a live one, and take over runs whose owner died."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vbench.store import Store
from vbench.store.leases import claim, renew

FIELDS = dict(stainer="s", vbench_version="0", dataset="d", seed=0)


def test_resume_skips_completed_and_live_runs_and_takes_over_expired_ones(db_url, monkeypatch):
    store = Store(db_url)
    first = claim(store, "k1", FIELDS, resume=True)
    assert first.run_id is not None and first.owner.endswith(":1")
    live = claim(store, "k1", FIELDS, resume=True)  # the owner is alive: its run is not taken
    assert live.run_id is None and live.existing == first.run_id and "running elsewhere" in live.reason
    monkeypatch.setenv("VBENCH_LEASE_SECONDS", "0")  # every lease has expired
    taken = claim(store, "k1", FIELDS, resume=True)
    assert taken.run_id not in (None, first.run_id) and taken.owner.endswith(":2")
    old = store.get_run(first.run_id)
    assert old.status == "failed" and "lease expired" in old.error and first.owner in old.error
    # the first owner lost its lease: it can neither renew nor finish
    assert not renew(store, first.run_id, first.owner)
    assert not store.end_run(first.run_id, "failed", "late", owner=first.owner)
    store.finish_run(taken.run_id, [("psnr", "t0", 20.0)], [dict(metric="psnr", n=1, mean=20.0)], owner=taken.owner)
    done = claim(store, "k1", FIELDS, resume=True)
    assert done.run_id is None and "already completed" in done.reason
    assert claim(store, "k1", FIELDS, resume=False).run_id is not None  # without --resume: run it again


def test_finishing_checks_the_owner(db_url):
    store = Store(db_url)
    c = claim(store, "k", FIELDS, resume=False)
    with pytest.raises(Exception, match="no longer running"):
        store.finish_run(c.run_id, [("psnr", "t0", 1.0)], [dict(metric="psnr", n=1, mean=1.0)], owner="elsewhere:1:1")
    assert store.scores(c.run_id, "psnr") == {}  # nothing written by the wrong owner
    assert renew(store, c.run_id, c.owner)


def _vbench(*args, env, cwd):
    exe = Path(sys.executable).with_name("vbench")
    return subprocess.Popen(
        [str(exe), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_two_resumed_sweeps_on_one_database_run_each_run_once(tmp_path):
    db = tmp_path / "shared.db"
    env = dict(os.environ, VBENCH_DB=f"sqlite:///{db}")
    sweep = [
        "run",
        "-s",
        "baseline-mean",
        "-s",
        "baseline-linear",
        "-s",
        "baseline-colormap",
        "-d",
        "qpi-ihc",
        "--seed",
        "0",
        "--seed",
        "1",
        "-m",
        "psnr",
        "--no-isolate",
        "-q",
        "--resume",
    ]
    procs = [_vbench(*sweep, env=env, cwd=tmp_path) for _ in range(2)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    con = sqlite3.connect(db)
    rows = con.execute("select run_key, status from runs").fetchall()
    con.close()
    assert len(rows) == 6 and len({k for k, _ in rows}) == 6 and {s for _, s in rows} == {"completed"}
    assert sum(e.count("completed run") for e in errs) == 6  # each executed by exactly one process


SLOW = """
import time
import vbench

class Slow(vbench.Stainer):
    name = "slow"
    pairings = {"paired"}
    def fit(self, train, ctx):
        while True:
            time.sleep(0.2)
    def predict(self, inputs):
        return inputs
@vbench.hookimpl
def vbench_register_stainers(register):
    register(Slow)
"""


@pytest.mark.slow
def test_a_worker_dies_with_its_killed_driver_and_resume_takes_its_run_over(tmp_path, monkeypatch, installed_plugin):
    import psutil

    site = installed_plugin("vbtest_slow_lease", SLOW)
    db = tmp_path / "k.db"
    env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{db}", VBENCH_LEASE_SECONDS="4")
    driver = _vbench("run", "-s", "slow", "-d", "qpi-ihc", "-q", env=env, cwd=tmp_path)
    deadline, workers = time.time() + 120, []
    while time.time() < deadline and not workers:
        time.sleep(0.5)
        workers = [c for c in psutil.Process(driver.pid).children(recursive=True) if "python" in c.name().lower()]
    assert workers, "the run's worker process never started"
    time.sleep(2)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, "the worker kept training after its driver was killed"
    con = sqlite3.connect(db)
    assert con.execute("select status from runs").fetchall() == [("running",)]  # nobody recorded the end
    con.close()
    time.sleep(4.5)  # the dead driver's lease expires
    monkeypatch.setenv("VBENCH_LEASE_SECONDS", "4")
    store = Store(f"sqlite:///{db}")
    from vbench.store.leases import claim as take

    run = store.runs()[0]
    taken = take(store, run.run_key, FIELDS, resume=True)
    assert taken.run_id is not None and store.get_run(run.id).status == "failed"
    assert "lease expired" in store.get_run(run.id).error
