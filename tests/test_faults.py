"""Faults through the real CLI: a run's worker killed with SIGKILL during fit or scoring, the driver
killed inside the final database write (VBENCH_FAULT, vbench.run.faults) or from outside. Nothing
completed is lost, nothing half-written shows as completed, and `vbench run --resume` finishes the
sweep with the same results as an uninterrupted one."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vbench.report import build_leaderboard
from vbench.store import Store

LEASE = 3  # VBENCH_LEASE_SECONDS of the sweeps that are killed: they renew their leases every LEASE / 4 s
# The resumed sweeps hold leases of 10 minutes: a run they take over at once was taken because its
# owner's process is gone (vbench.store.leases), not because its lease expired.
LONG_LEASE = 600
GONE = re.compile(r"owner gone: its owner, pid (\d+) on this host, is gone")
SWEEP = [
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
    "-m",
    "psnr",
    "-q",
]
EXE = str(Path(sys.executable).with_name("vbench"))

pytestmark = pytest.mark.slow


def _env(db: Path, fault: str | None = None, lease: float = LEASE, **extra) -> dict:
    env = dict(os.environ, VBENCH_DB=f"sqlite:///{db}", VBENCH_LEASE_SECONDS=str(lease), **extra)
    env.pop("VBENCH_FAULT", None)
    if fault:
        env["VBENCH_FAULT"] = fault
    return env


def vbench(cwd: Path, db: Path, *args: str, fault: str | None = None, lease: float = LEASE):
    env = _env(db, fault, lease)
    return subprocess.run([EXE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


def runs(db: Path) -> dict[int, tuple[str, str, int, int]]:
    """run id -> (status, error, score rows, summary rows), read with plain sqlite3."""
    con = sqlite3.connect(db)
    try:
        return {
            rid: (
                status,
                error or "",
                con.execute("select count(*) from scores where run_id = ?", (rid,)).fetchone()[0],
                con.execute("select count(*) from summaries where run_id = ?", (rid,)).fetchone()[0],
            )
            for rid, status, error in con.execute("select id, status, error from runs order by id")
        }
    finally:
        con.close()


def results(db: Path) -> tuple[dict, list]:
    """Per-tile scores of each completed run by (stainer, preset, seed), and the leaderboard's
    ranks and quality columns (timings differ between any two sweeps)."""
    store = Store(f"sqlite:///{db}")
    done = store.runs(status="completed")
    keys = [(r.stainer, r.preset, r.seed) for r in done]
    assert len(set(keys)) == len(keys), f"a run completed twice: {keys}"
    tiles = store.tile_scores([r.id for r in done])
    scores = {(r.stainer, r.preset, r.seed): {m: v for (rid, m), v in tiles.items() if rid == r.id} for r in done}
    (board,) = build_leaderboard(store)
    rows = [(r["label"], r["rank"], r["tied"], r["metrics"], r["n_params"]) for r in board.rows]
    store.engine.dispose()
    return scores, rows


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same sweep, uninterrupted."""
    folder = tmp_path_factory.mktemp("reference")
    db = folder / "reference.db"
    done = subprocess.run(
        [EXE, *SWEEP, "--no-isolate"],
        env=dict(_env(db), VBENCH_HOME=str(folder / "home")),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return results(db)


def _check_complete(db: Path, reference) -> None:
    for rid, (status, _error, n_scores, n_summaries) in runs(db).items():
        if status == "completed":
            assert n_scores == 2 and n_summaries == 1, (rid, n_scores, n_summaries)  # 2 test tiles, psnr
        else:
            assert n_scores == 0 and n_summaries == 0, f"run {rid} ({status}) kept results"
    assert results(db) == reference


@pytest.mark.parametrize("point", ["fit", "score"])
def test_a_worker_killed_during_fit_or_scoring_fails_only_its_run_and_resume_finishes(point, tmp_path, reference):
    db = tmp_path / "f.db"
    first = vbench(tmp_path, db, *SWEEP, fault=f"{point}:2")  # the worker of run 2 kills itself
    assert first.returncode == 1, first.stderr  # one run failed, the sweep went on
    before = runs(db)
    assert [s for s, *_ in before.values()] == ["completed", "failed", "completed"], before
    assert "worker process died (killed by signal 9)" in before[2][1]
    assert before[2][2:] == (0, 0)  # nothing of the killed run stored

    again = vbench(tmp_path, db, *SWEEP, "--resume")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("skipped") == 2 and again.stderr.count("completed run 4") == 1
    after = runs(db)
    assert {rid: after[rid] for rid in before} == before  # completed runs kept, untouched
    _check_complete(db, reference)


def test_the_driver_killed_inside_the_final_write_stores_nothing_of_that_run(tmp_path, reference):
    """--no-isolate: the driver writes the results itself and dies with the transaction open,
    scores, summaries and the completed status inserted but not committed."""
    db = tmp_path / "f.db"
    first = vbench(tmp_path, db, *SWEEP, "--no-isolate", fault="final-write:2")
    assert first.returncode == -signal.SIGKILL, first.stderr
    before = runs(db)
    assert before == {1: ("completed", "", 2, 1), 2: ("running", "", 0, 0)}  # run 3 never started

    again = vbench(tmp_path, db, *SWEEP, "--no-isolate", "--resume", lease=LONG_LEASE)  # at once
    assert again.returncode == 0, again.stderr
    after = runs(db)
    assert after[1] == before[1] and after[2][0] == "failed" and GONE.search(after[2][1]), after[2]
    assert after[2][2:] == (0, 0)
    _check_complete(db, reference)


HOLD = '''
import os
import time
import vbench

class Hold(vbench.Stainer):
    """Trains until the file VBTEST_HOLD is removed; says it started in VBTEST_STARTED."""
    name = "hold"
    pairings = {"paired"}
    def fit(self, train, ctx):
        open(os.environ["VBTEST_STARTED"], "w").close()
        while os.path.exists(os.environ["VBTEST_HOLD"]):
            time.sleep(0.1)
        ctx.step(samples=1)
    def predict(self, inputs):
        n, _, h, w = inputs.shape
        s = self.ctx.scale
        return inputs.new_full((n, 3, h * s, w * s), 0.5)

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Hold)
'''


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_killed_driver_leaves_no_process_behind_and_resume_takes_its_run_over(method, tmp_path, installed_plugin):
    import psutil

    site = installed_plugin("vbtest_hold", HOLD)
    db, hold, started = tmp_path / "k.db", tmp_path / "hold", tmp_path / "started"
    hold.touch()
    env = _env(db, PYTHONPATH=str(site), VBTEST_HOLD=str(hold), VBTEST_STARTED=str(started), VBENCH_START_METHOD=method)
    args = [EXE, "run", "-s", "hold", "-d", "qpi-ihc", "-m", "psnr", "-q"]
    driver = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.time() + 300
    while not started.exists() and driver.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert started.exists(), driver.communicate(timeout=60)[1]
    left = psutil.Process(driver.pid).children(recursive=True)  # the worker (and the forkserver)
    assert left and (method != "forkserver" or any("forkserver" in " ".join(p.cmdline()) for p in left))
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    gone, alive = psutil.wait_procs(left, timeout=10)
    assert not alive, f"still running after the driver was killed: {[p.cmdline() for p in alive]}"
    assert [s for s, *_ in runs(db).values()] == ["running"]  # nobody recorded an end

    hold.unlink()
    resume = dict(env, VBENCH_LEASE_SECONDS=str(LONG_LEASE))  # at once: the lease has not expired
    again = subprocess.run([*args, "--resume"], env=resume, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    after = runs(db)
    assert after[1][0] == "failed" and after[1][2:] == (0, 0)
    assert GONE.search(after[1][1]) and GONE.search(after[1][1])[1] == str(driver.pid), after[1][1]
    assert after[2][0] == "completed" and after[2][2:] == (2, 1)


def _start(args: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def test_a_live_owner_keeps_its_run_resume_says_until_when_and_wait_takes_it_over(tmp_path, installed_plugin):
    """A sweep holds its run in fit. `--resume` leaves the run to it: exit 3, naming the run, its
    owner and when its lease expires. `--resume --wait` waits; once the holder is killed it takes the
    run over at its next look (the owner is gone, its lease not yet expired) and completes it."""
    site = installed_plugin("vbtest_hold", HOLD)
    db, hold, started = tmp_path / "w.db", tmp_path / "hold", tmp_path / "started"
    hold.touch()
    env = _env(db, PYTHONPATH=str(site), VBTEST_HOLD=str(hold), VBTEST_STARTED=str(started), lease=8)
    args = [EXE, "run", "-s", "hold", "-d", "qpi-ihc", "-m", "psnr", "-q", "--no-isolate"]  # no worker startups
    holder = _start(args, env, tmp_path)
    deadline = time.time() + 300
    while not started.exists() and holder.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert started.exists(), holder.communicate(timeout=60)[1]

    waiter = _start([*args, "--resume", "--wait"], env, tmp_path)  # looks every 2 s (a quarter lease)
    left = subprocess.run([*args, "--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    said = " ".join(left.stderr.split())
    assert left.returncode == 3, left.stderr
    assert "held run 1 hold on qpi-ihc seed 0: running elsewhere (run 1, owner " in said, said
    assert f"a live process on this host (pid {holder.pid})" in said
    assert re.search(r"its lease expires at \d\d:\d\d:\d\d UTC, database clock", said), said
    assert "1 run(s) left to live owners elsewhere" in said and "add --wait" in said
    assert [s for s, *_ in runs(db).values()] == ["running"]  # left alone

    said_by_waiter = []  # its stderr lines, read as they come
    reader = threading.Thread(target=lambda: said_by_waiter.extend(iter(waiter.stderr.readline, "")), daemon=True)
    reader.start()
    while not any("waiting" in line for line in said_by_waiter) and waiter.poll() is None and time.time() < deadline:
        time.sleep(0.1)  # the waiter looked while the holder was alive
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=60)
    hold.unlink()
    waiter.wait(timeout=300)
    reader.join(timeout=60)
    err = "".join(said_by_waiter)
    assert waiter.returncode == 0, err
    assert "waiting for 1 run(s) held elsewhere" in " ".join(err.split()), err
    after = runs(db)
    assert after[1][0] == "failed" and GONE.search(after[1][1])[1] == str(holder.pid), after[1]
    assert after[2][0] == "completed" and after[2][2:] == (2, 1)
