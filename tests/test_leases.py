"""Run leases: an owner and a database-clock heartbeat per executing run, so resumed sweeps never
run a run twice, never steal a live one, and take over runs whose owner died."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from vbench import liveness
from vbench.cli import main
from vbench.store import Store
from vbench.store.leases import Owner, claim, owner_name, renew
from vbench.store.models import Run

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


def _held_by(store: Store, key: str, owner: str) -> int:
    """A running run of ``key`` whose lease ``owner`` renewed just now."""
    taken = claim(store, key, FIELDS, resume=False)
    with store.engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == taken.run_id).values(owner=owner))
    return taken.run_id


def _finished_process() -> tuple[int, str]:
    """The pid and start time of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    start = liveness.start_time(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, start


@pytest.mark.skipif(not liveness.process_table(), reason="needs /proc (Linux) to know a process's start time")
def test_a_run_whose_owner_here_is_gone_is_taken_over_at_once(db_url):
    """The owner names this host, its pid and start time: a claim sees the process is gone and takes
    the run over although its lease (120 s) has not expired."""
    store = Store(db_url)
    me = Owner.parse(owner_name(1))
    assert me.pid == os.getpid() and me.start == liveness.start_time(os.getpid()) and me.attempt == "1"
    pid, start = _finished_process()
    dead = f"{me.host}:{pid}@{start}/{me.table}:1"
    old = _held_by(store, "k", dead)
    taken = claim(store, "k", FIELDS, resume=True)
    assert taken.run_id not in (None, old)
    error = store.get_run(old).error
    assert store.get_run(old).status == "failed" and f"its owner, pid {pid} on this host, is gone" in error
    assert dead in error and taken.owner in error


@pytest.mark.skipif(not liveness.process_table(), reason="needs /proc (Linux) to know a process's start time")
def test_a_reused_pid_is_not_taken_for_the_owner():
    """The pid runs, but it is not the process that took the lease: a different start time."""
    me = Owner.parse(owner_name(1))
    assert not me.gone()
    assert Owner(me.host, me.pid, str(int(me.start) + 1), me.table, "1").gone()  # same pid, later process
    assert not Owner(me.host, me.pid, me.start, "0badf00d", "1").gone()  # another process table: cannot tell


def test_owners_this_host_cannot_check_wait_for_the_lease(db_url, monkeypatch):
    """Another host, an owner string of an older vbench (no start time), another process table
    (a container sharing the host name): the run stays with its owner until the lease expires."""
    store = Store(db_url)
    pid, start = _finished_process()
    host, table = socket.gethostname(), liveness.process_table()
    for i, owner in enumerate(
        [
            f"elsewhere.example:{pid}@{start}/{table}:1",  # a foreign host: its pids mean nothing here
            f"{host}:{pid}:1",  # older vbench: host:pid:attempt
            f"{host}:{pid}@{start}/0badf00d:1",
            "not an owner",
        ]
    ):
        old = _held_by(store, f"k{i}", owner)
        held = claim(store, f"k{i}", FIELDS, resume=True)
        assert held.run_id is None and held.existing == old and store.get_run(old).status == "running", owner
        assert held.expires is not None and 0 < held.expires_in <= 120 and "its lease expires at" in held.reason
    assert "on another host" in claim(store, "k0", FIELDS, resume=True).reason
    assert "cannot check" in claim(store, "k1", FIELDS, resume=True).reason
    monkeypatch.setenv("VBENCH_LEASE_SECONDS", "0")  # the leases expire: now they are taken over
    for i in range(4):
        taken = claim(store, f"k{i}", FIELDS, resume=True)
        assert taken.run_id is not None
    assert all("lease expired" in r.error for r in store.runs(status="failed"))


def test_wait_needs_resume(capsys, db_url):
    code = main(["run", "-s", "baseline-mean", "-d", "qpi-ihc", "--wait", "--db", db_url, "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--wait" in err and "add --resume" in err
    assert not Store(db_url).runs()


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


@pytest.mark.slow
def test_two_resumed_sweeps_on_one_database_run_each_run_once(tmp_path):
    """With --wait each also waits for the runs the other is executing (looking every second: a
    quarter of a 4 s lease), so both end with the whole sweep completed, and exit 0."""
    db = tmp_path / "shared.db"
    env = dict(os.environ, VBENCH_DB=f"sqlite:///{db}", VBENCH_LEASE_SECONDS="4")
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
        "--wait",
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
    monkeypatch.setenv("VBENCH_LEASE_SECONDS", "600")  # at once: the dead driver's lease has not expired
    store = Store(f"sqlite:///{db}")
    run = store.runs()[0]
    taken = claim(store, run.run_key, FIELDS, resume=True)
    assert taken.run_id is not None and store.get_run(run.id).status == "failed"
    assert f"its owner, pid {driver.pid} on this host, is gone" in store.get_run(run.id).error
