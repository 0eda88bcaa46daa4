"""The CLI end to end: run, leaderboard formats, runs, plugins, datasets, and user errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from vbench.cli import main


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_run_then_leaderboard_in_every_format(capsys, db):
    two = ["-s", "baseline-linear", "-s", "baseline-mean"]
    code, _, err = cli(capsys, "run", *two, "-d", "qpi-ihc", "--db", db, "--no-isolate", "-q")
    assert code == 0, err
    assert "completed run 1" in err and "completed run 2" in err
    code, out, _ = cli(capsys, "leaderboard", "--db", db, "--format", "json")
    (board,) = json.loads(out)
    assert board["dataset"] == "qpi-ihc" and board["primary_metric"] == "psnr"
    assert [r["stainer"] for r in board["rows"]] == ["baseline-linear", "baseline-mean"]
    assert "simulated from real stained tissue" in board["note"]
    code, out, _ = cli(capsys, "leaderboard", "--db", db, "--format", "md")
    assert "## qpi-ihc" in out and "| rank |" in out and "psnr ↑" in out and "rounded to 8 bit" in out
    code, out, _ = cli(capsys, "leaderboard", "--db", db, "--format", "csv")
    header, *rows = out.strip().splitlines()
    assert "psnr_mean" in header and len(rows) == 2
    code, out, _ = cli(capsys, "leaderboard", "--db", db)
    assert code == 0 and "baseline-linear" in out

    code, out, _ = cli(capsys, "runs", "--db", db)
    assert code == 0 and "completed" in out
    code, out, _ = cli(capsys, "runs", "1", "--db", db, "--json")
    run = json.loads(out)
    assert run["status"] == "completed" and run["threads"] >= 1 and run["manifest_hash"]
    assert {"psnr", "ssim"} <= {s["metric"] for s in run["summaries"]}  # plus the rest of the paired default set

    code, _, err = cli(capsys, "run", *two, "-d", "qpi-ihc", "--db", db, "--no-isolate", "-q", "--resume")
    assert code == 0 and err.count("skipped") == 2


def test_plugins_and_metrics_listing(capsys):
    code, out, _ = cli(capsys, "plugins")
    assert code == 0 and "baseline-mean" in out and "stainer" in out and "vbench" in out
    code, out, _ = cli(capsys, "metrics", "list")
    assert code == 0 and "psnr" in out and "higher" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--stainer", "baseline-mena", "--dataset", "qpi-ihc"], "Did you mean 'baseline-mean'"),
        (["run", "--stainer", "baseline-mean", "--dataset", "ihc-dmeo"], "unknown dataset 'ihc-dmeo'"),
        (["run", "--metric", "psnrr"], "unknown metric 'psnrr'"),
        (["run", "--stainer", "baseline-mean:fast"], "unknown preset of baseline-mean 'fast'"),
        (["run", "--suite", "nightly"], "unknown suite 'nightly'"),
        (["leaderboard", "--format", "xml"], "unknown format 'xml'"),
        (["run", "-s", "baseline-linear:x"], "unknown preset of baseline-linear 'x'"),
        (["runs", "42"], "no run 42"),
    ],
)
def test_user_errors_are_one_message_without_traceback(capsys, db, args, message):
    code, out, err = cli(capsys, *args, "--db", db)
    assert code != 0
    assert message in " ".join(err.split()) and "Traceback" not in err + out


def test_database_from_a_newer_schema_is_refused(capsys, tmp_path):
    path = tmp_path / "future.db"
    db = f"sqlite:///{path}"
    assert cli(capsys, "runs", "--db", db)[0] == 0
    con = sqlite3.connect(path)
    con.execute("update vbench_meta set value='99' where key='schema_version'")
    con.commit()
    con.close()
    code, _, err = cli(capsys, "run", "--db", db, "--no-isolate")
    assert code == 2 and "newer vbench" in err and "Traceback" not in err


def test_unwritable_database_location(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    code, _, err = cli(capsys, "run", "--db", f"sqlite:///{tmp_path / 'file' / 'x.db'}")
    assert code == 2 and "is a file, not a folder" in " ".join(err.split())


def test_datasets_add_then_run_on_user_data(capsys, tmp_path, db):
    root = tmp_path / "mydata"
    for split, n in (("train", 3), ("test", 2)):
        for side in "AB":
            (root / side / split).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (16, 16), 40 * i).save(root / "A" / split / f"t{i}.png")
            Image.new("RGB", (16, 16), (200, 40 * i, 90)).save(root / "B" / split / f"t{i}.png")
    code, out, err = cli(capsys, "datasets", "add", "mine", str(root))
    assert code == 0, err
    assert "registered dataset mine" in " ".join(out.split())
    code, out, _ = cli(capsys, "datasets", "list")
    assert "mine" in out
    code, _, err = cli(capsys, "datasets", "add", "qpi-ihc", str(root))
    assert code == 2 and "already exists" in err
    code, _, err = cli(capsys, "run", "--db", db, "-s", "baseline-linear", "-d", "mine", "--no-isolate", "-q")
    assert code == 0, err
    (board,) = json.loads(cli(capsys, "leaderboard", "--db", db, "-d", "mine", "-f", "json")[1])
    assert board["rows"][0]["stainer"] == "baseline-linear"


def test_datasets_add_reports_a_missing_pair(capsys, tmp_path):
    root = tmp_path / "broken"
    for side in "AB":
        for split in ("train", "test"):
            (root / side / split).mkdir(parents=True)
    Image.new("L", (8, 8)).save(root / "A" / "train" / "lonely.png")
    code, _, err = cli(capsys, "datasets", "add", "broken", str(root))
    assert code == 2 and "lonely" in err and "Traceback" not in err


SLOW_PLUGIN = """
import os
import time
import torch
import vbench

class Slow(vbench.Stainer):
    name = "slow"
    pairings = {"paired"}
    def fit(self, train, ctx):
        self.color = torch.full((3,), 0.5)
        if os.environ.get("VBTEST_IN_FIT"):  # tells the test that training has started
            open(os.environ["VBTEST_IN_FIT"], "w").close()
        while ctx.step():
            time.sleep(0.05)
    def predict(self, inputs):
        n, _, h, w = inputs.shape
        return self.color.view(1, 3, 1, 1).expand(n, 3, h, w).clone()

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Slow)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_marks_the_run_interrupted_and_keeps_completed_runs(tmp_path, how, installed_plugin):
    site = installed_plugin("vbtest_slow", SLOW_PLUGIN)
    path, in_fit = tmp_path / "int.db", tmp_path / "in-fit"
    env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{path}", VBTEST_IN_FIT=str(in_fit))
    exe = Path(sys.executable).with_name("vbench")
    proc = subprocess.Popen(
        [str(exe), "run", "-s", "baseline-mean", "-s", "slow", "-d", "qpi-ihc", "-q"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.1)
        if path.exists():
            con = sqlite3.connect(path)
            try:
                rows = con.execute("select stainer, status from runs").fetchall()
            except sqlite3.OperationalError:
                rows = []
            con.close()
            if ("slow", "running") in rows:
                break
    while not in_fit.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)  # the worker reached fit (it says so by creating the file)
    assert in_fit.exists(), proc.communicate(timeout=60)[1]
    time.sleep(0.5)  # and is inside its training loop
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    else:
        proc.send_signal(signal.SIGTERM)  # what a batch scheduler or `kill` does: the main process only
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    con = sqlite3.connect(path)
    rows = con.execute("select stainer, status from runs order by id").fetchall()
    n_scores = con.execute("select count(*) from scores where run_id=1").fetchone()[0]
    assert rows == [("baseline-mean", "completed"), ("slow", "interrupted")]
    assert n_scores > 0


@pytest.mark.slow
def test_an_early_ctrl_c_prints_no_traceback_from_a_starting_worker(tmp_path, installed_plugin):
    """Ctrl-C moments after the first run is claimed, while the forkserver (or a spawned worker)
    is still importing torch: the sweep ends on the interrupted path and no process prints a
    KeyboardInterrupt traceback. The three sweeps run at once, each interrupted on its own clock."""
    site = installed_plugin("vbtest_slow", SLOW_PLUGIN)
    exe = Path(sys.executable).with_name("vbench")
    sweeps = []
    for method, delay in (("forkserver", 0.5), ("forkserver", 1.5), ("spawn", 1.0)):
        path = tmp_path / f"{method}-{delay}.db"
        env = dict(os.environ, PYTHONPATH=str(site), VBENCH_DB=f"sqlite:///{path}", VBENCH_START_METHOD=method)
        proc = subprocess.Popen(
            [str(exe), "run", "-s", "baseline-mean", "-s", "slow", "-d", "qpi-ihc", "-m", "psnr", "-q"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        sweeps.append([proc, path, delay, None])
    deadline = time.time() + 120
    while any(s[3] is None for s in sweeps) and time.time() < deadline:
        time.sleep(0.05)
        for s in sweeps:
            proc, path, delay, claimed = s
            if claimed is None and path.exists():
                con = sqlite3.connect(path)
                try:
                    s[3] = time.time() if con.execute("select count(*) from runs").fetchone()[0] else None
                except sqlite3.OperationalError:
                    pass
                con.close()
            elif claimed is not None and delay is not None and time.time() >= claimed + delay:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
                s[2] = None
    for proc, path, delay, claimed in sweeps:
        if delay is not None:  # not interrupted yet (the deadline passed)
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and claimed is not None, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert "Continue with `vbench run ... --resume`" in " ".join(err.split()), err
        con = sqlite3.connect(path)
        statuses = [s for (s,) in con.execute("select status from runs order by id")]
        con.close()
        # The interruption may land while a run executes (stored interrupted) or between two runs,
        # after the fast first one completed and before the next is claimed: never a run left running.
        assert statuses and set(statuses) <= {"completed", "interrupted"}, statuses


def test_two_databases_in_one_folder_keep_their_own_checkpoints(capsys, tmp_path):
    from vbench.run.artifacts import artifacts_root
    from vbench.store import Store

    folder = {}
    for name, stainer in (("a", "baseline-linear"), ("b", "baseline-colormap")):
        db = f"sqlite:///{tmp_path / name}.db"
        code, _, err = cli(
            capsys, "run", "-s", stainer, "-d", "qpi-ihc", "-m", "psnr", "--db", db, "--no-isolate", "-q"
        )
        assert code == 0, err
        run = Store(db).get_run(1)  # run ids restart at 1 in every database
        folder[name] = Path(run.artifacts)
        assert folder[name].parent == Path(artifacts_root(Store(db)))
    assert folder["a"] != folder["b"]
    assert folder["a"].parent.name == "a-artifacts" and (folder["a"] / "model.safetensors").is_file()
    config = json.loads((folder["a"] / "config.json").read_text())
    assert config["stainer"] == "baseline-linear"  # not overwritten by database b's run 1
    assert Path(artifacts_root(Store(f"sqlite:///{tmp_path / 'vbench.db'}"))).name == "vbench-artifacts"
