"""How run workers start (vbench.run.processes): the start method, one forkserver reused while the
driver's environment stays the same, and peak memory comparable between spawn and forkserver."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from vbench import liveness
from vbench.errors import ConfigError
from vbench.run import processes


def test_the_start_method_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("VBENCH_START_METHOD", raising=False)
    assert processes.start_method() == ("forkserver" if sys.platform.startswith("linux") else "spawn")
    monkeypatch.setenv("VBENCH_START_METHOD", "Spawn")
    assert processes.start_method() == "spawn"
    monkeypatch.setenv("VBENCH_START_METHOD", "fork")
    with pytest.raises(ConfigError, match="spawn or forkserver"):
        processes.start_method()


def test_a_worker_stops_when_its_driver_is_gone():
    """The watch is on the driver's pid and start time: a pid that no longer exists is a dead driver."""
    assert liveness.running(os.getpid(), liveness.start_time(os.getpid()))
    assert not liveness.running(2**22 + 1, liveness.start_time(2**22 + 1))  # above Linux's pid_max


REPORT = """
import os

def report(queue):
    queue.put((os.getppid(), os.environ.get("VBTEST_X")))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver is the default on Linux only")
def test_workers_fork_from_one_server_until_the_environment_changes(monkeypatch, plugin_module):
    monkeypatch.setenv("VBENCH_START_METHOD", "forkserver")
    report = importlib.import_module(plugin_module(REPORT)).report

    def start(value):
        monkeypatch.setenv("VBTEST_X", value)
        ctx = processes.context([report.__module__])
        queue = ctx.Queue()
        proc = ctx.Process(target=report, args=(queue,))
        proc.start()
        got = queue.get(timeout=300)
        proc.join()
        return got

    (server, x), (again, x2) = start("1"), start("1")
    assert server == again != os.getpid() and x == x2 == "1"  # the same server, not this process
    (other, x3) = start("2")
    assert other != server and x3 == "2"  # started again: its imports may have read the environment


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc")
def test_peak_memory_is_comparable_between_start_methods(monkeypatch, db_url):
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins, store = load_plugins(), Store(db_url)
    plugins.datasets.get("qpi-ihc").samples("test")  # built (and cached) before: both workers load it
    peaks = {}
    for method in ("spawn", "forkserver"):
        monkeypatch.setenv("VBENCH_START_METHOD", method)
        specs = plan(plugins, ["baseline-mean"], ["qpi-ihc"], [0], metrics=["psnr"])
        (outcome,) = run_sweep(specs, store, plugins, isolate=True, progress=False)
        assert outcome.status == "completed", outcome.message
        peaks[method] = store.get_run(outcome.run_id).peak_mem_mb
    assert abs(peaks["forkserver"] - peaks["spawn"]) < 0.1 * peaks["spawn"], peaks
