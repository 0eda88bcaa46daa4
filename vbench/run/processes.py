"""How a run's worker process starts and stops: the start method, the modules a forkserver
preloads, the driver's environment, and the watch that stops a worker whose driver died.

``VBENCH_START_METHOD=forkserver`` (the default on Linux) forks each worker from a server process
that imported torch, vbench and the plugin modules once, so a run starts in well under a second
instead of importing them again (several seconds). The server only imports, never computes: a
process that has run torch's OpenMP thread pool cannot be forked safely. ``spawn`` (the default
elsewhere) starts a fresh interpreter per run. Either way a run has a process of its own: a crash
fails only that run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time

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
            forkserver.ensure_running()  # imports in the background while the driver goes on
            _server = state
    return ctx


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
    included, instead of training on orphaned; the run's lease then expires and a resumed sweep
    takes it over. The driver is watched by pid and start time, not as the parent process: under
    forkserver the parent is the server."""
    born = _stat(driver)

    def watch():
        while _alive(driver, born):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="vbench-driver-watch").start()


def _stat(pid: int) -> tuple[bytes, bytes] | None:
    """(state, start time) of a process from /proc; None when it does not exist (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0], fields[19]


def _alive(pid: int, born: tuple[bytes, bytes] | None) -> bool:
    if os.path.isdir("/proc/self"):
        now = _stat(pid)  # gone, a zombie, or the pid taken by a newer process: the driver died
        return now is not None and now[0] not in (b"Z", b"X") and born is not None and now[1] == born[1]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
