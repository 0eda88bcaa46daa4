"""How a run's worker process starts and stops: the start method, the modules a forkserver
preloads, the driver's environment, and the watch that stops a worker whose driver died.

``VBENCH_START_METHOD=forkserver`` (the default on Linux) forks each worker from a server process
that imported torch, vbench and the plugin modules once, so a run starts in well under a second
instead of importing them again (several seconds). The server only imports, never computes: a
process that has run torch's OpenMP thread pool cannot be forked safely. ``spawn`` (the default
elsewhere) starts a fresh interpreter per run. Either way a run has a process of its own: a crash
fails only that run. Workers (and the forkserver) never take Ctrl-C themselves: the driver passes
an interruption on as SIGTERM (:func:`start_worker`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time

from .. import liveness
from ..errors import ConfigError

START_ENV = "VBENCH_START_METHOD"
METHODS = ("spawn", "forkserver")
# Imported by the forkserver, in this order, before it forks any worker: what a spawned worker has
# imported by the time it measures its peak memory (with the plugin modules of the sweep and, when
# the driver is the `vbench` command, its CLI: a worker imports the driver's main script), then
# the marker vbench.run.preloaded, then what every run imports later (FLOP counting, the sample grid).
PRELOAD = (
    "torch",
    "scipy.stats",
    "safetensors.torch",
    "vbench.run",
    "vbench.run.execute",
    "vbench.scoring",
    "vbench.stats",
    "vbench.run.checkpoint",
)
PRELOAD_LATER = (
    "vbench.run.preloaded",
    "PIL.Image",
    "vbench.run.sample_grid",
    "torch.utils.flop_counter",
    "torch._dynamo",
)

_server: tuple | None = None  # what the running forkserver was started with (environment, path, modules)
_offset_mb = 0.0  # see memory_offset_mb


def start_method() -> str:
    """``VBENCH_START_METHOD`` (spawn | forkserver); default forkserver on Linux, else spawn."""
    raw = os.environ.get(START_ENV, "").strip().lower()
    available = mp.get_all_start_methods()
    if not raw:
        return "forkserver" if sys.platform.startswith("linux") and "forkserver" in available else "spawn"
    if raw not in METHODS:
        raise ConfigError(f"{START_ENV}={raw!r} is not a start method vbench uses: choose spawn or forkserver")
    if raw not in available:
        raise ConfigError(f"{START_ENV}={raw}: this platform has no {raw} start method; use spawn")
    return raw


def context(modules: list[str] = ()):
    """The multiprocessing context a run's worker starts in. Under forkserver the server is
    started (once, in the background) with :data:`PRELOAD` and ``modules`` imported; it is
    started again when this process's environment or import path changed since, because the
    modules it imported may have read them."""
    global _server
    method = start_method()
    ctx = mp.get_context(method)
    if method == "forkserver":
        from multiprocessing import forkserver

        cli = ["vbench.cli"] if "vbench.cli" in sys.modules else []
        preload = list(dict.fromkeys([*PRELOAD, *cli, *modules, *PRELOAD_LATER]))
        state = (tuple(sorted(os.environ.items())), tuple(sys.path), tuple(preload))
        if state != _server:
            if _server is not None and hasattr(forkserver._forkserver, "_stop"):
                forkserver._forkserver._stop()
            ctx.set_forkserver_preload(preload)
            with interrupts_held():  # the server and its workers never take Ctrl-C (see start_worker)
                forkserver.ensure_running()  # imports in the background while the driver goes on
            _server = state
    return ctx


@contextlib.contextmanager
def interrupts_held():
    """Blocks SIGINT in this thread while a worker (or the forkserver) starts: a process inherits
    the block, and keeps it. CPython starts its resource tracker the same way. Other threads of
    this process still take the signal, so this process sees a Ctrl-C as before."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # starting it unblocks SIGINT: before the block, not inside it
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start_worker(ctx, proc) -> None:
    """Starts a run's worker with SIGINT blocked. A worker never takes Ctrl-C itself: its driver
    passes an interruption on once, as SIGTERM, which the worker records as interrupted. So a
    Ctrl-C during a worker's imports prints no KeyboardInterrupt traceback, and a worker never
    gets two interruptions at once. Forkserver workers inherit the block from the server (started
    blocked by :func:`context`), spawned ones from this thread, blocked while one starts; under
    forkserver this thread stays open to Ctrl-C while it waits for the server to fork."""
    if ctx.get_start_method() == "spawn":
        with interrupts_held():
            proc.start()
    else:
        proc.start()


def plugin_modules(plugins) -> list[str]:
    """The modules of the plugins that loaded (entry points and explicit ones), for preloading:
    a plugin that failed to import is not imported again in the server."""
    return [info.module.partition(":")[0] for info in plugins.infos.values() if info.status == "ok" and info.module]


def adopt_environment(env: dict[str, str] | None) -> None:
    """Makes a worker's environment the driver's at the time the run started (a forkserver's
    children otherwise inherit the server's, from when it started)."""
    if env is not None and env != dict(os.environ):
        os.environ.clear()
        os.environ.update(env)


def note_fork(driver: int) -> None:
    """Called first thing in a worker. A worker forked from the forkserver (its parent is not the
    driver) starts with the server's memory image, which holds more than a spawned worker's would
    when it measures its peak (modules imported for later steps), and it counts the libraries'
    file-backed pages only once it touches them. So it records ``server RSS at the marker - own
    RSS now`` as the offset :func:`memory_offset_mb` adds to its peak."""
    global _offset_mb
    mark = sys.modules.get("vbench.run.preloaded")
    if os.getppid() == driver or mark is None or mark.RSS_MB is None:
        return  # spawned (it imports its libraries itself), or a server started without the marker
    now = mark.resident_mb()
    if now is not None:
        _offset_mb = mark.RSS_MB - now


def memory_offset_mb() -> float:
    """What a worker forked from the forkserver adds to its ``VmHWM`` so that its peak memory is
    comparable with a spawned worker's: its peak is then the run's own growth over the forked
    image plus the server's resident memory once it had imported what a spawned worker imports
    before measuring (the interpreter, torch, vbench, the plugins). Library pages the run touches
    again can count twice: for the baselines on CPU the figure came within 5% of spawn's. 0 in a
    spawned worker and outside workers."""
    return _offset_mb


def watch_driver(driver: int, interval: float = 0.5) -> None:
    """Stops this worker (``os._exit(1)``) once its driver process is gone, killed with SIGKILL
    included, instead of training on orphaned; a resumed sweep then takes its run over at once (the
    lease's owner is gone). The driver is watched by pid and start time, not as the parent process: under
    forkserver the parent is the server."""
    born = liveness.start_time(driver)

    def watch():
        while liveness.running(driver, born):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="vbench-driver-watch").start()
