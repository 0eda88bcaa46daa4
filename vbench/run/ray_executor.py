"""`vbench run --executor ray`: each run is a Ray task; only the driver writes the database.

The driver claims each run (:func:`vbench.run.claim_run`, the same leases and run identity as the
local executor), looks up a trained model an evaluation variant reuses, and submits a plain
``@ray.remote`` task with the run's CPUs and GPUs. The task computes the run
(:func:`vbench.run.execute.compute_run`: fit, predict, check, score) with as many torch threads as it
has CPUs, writes the checkpoint and sample grid under the folder the driver named
(``spec.artifacts_root``: shared storage on a cluster) and returns scores, summaries and fields.
The driver keeps the runs' leases alive while they execute and stores each result as it arrives
(``ray.wait``). A task whose worker dies (crash, out of memory, node lost) fails its run with the
reason; the sweep goes on. Ray is an optional dependency (``pip install 'vbench[ray]'``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError, RunInterrupted, VbenchError
from ..plugins import Plugins, load_plugins
from ..store import Store
from ..store.leases import Heartbeat
from .execute import RunResult, compute_run, failure_text
from .fit import Trained, trained_model
from .progress import Reporter
from .provenance import hardware
from .record import INTERRUPTED, end_run, run_provenance
from .spec import RunSpec
from .sweep import Outcome, claim_run, not_claimed

EXECUTORS = ("local", "ray")
INSTALL = "pip install 'vbench[ray]'"
WAIT_S = 0.5  # how often the driver looks up from ray.wait (Ctrl-C is handled between looks)


def require_ray():
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed here: {INSTALL}") from None
    return ray


def from_options(
    executor: str,
    address: str | None = None,
    cpus_per_run: int | None = None,
    gpus_per_run: float | None = None,
    isolate: bool = True,
) -> RayExecutor | None:
    """The executor `vbench run` options choose: None for the local one (runs executed here)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "local":
        given = [
            name
            for name, value in (
                ("--ray-address", address),
                ("--cpus-per-run", cpus_per_run),
                ("--gpus-per-run", gpus_per_run),
            )
            if value is not None
        ]
        if given:
            raise ConfigError(f"{', '.join(given)} applies to --executor ray only")
        return None
    if not isolate:
        raise ConfigError("--no-isolate applies to --executor local only (Ray runs each run in a worker process)")
    require_ray()
    return RayExecutor(address, 1 if cpus_per_run is None else cpus_per_run, gpus_per_run or 0.0)


@dataclass
class Ended:
    """A run that raised in its task: failed (with the reason and traceback) or interrupted."""

    status: str
    error: str


@dataclass
class _Flight:
    index: int
    spec: RunSpec
    run_id: int
    owner: str
    heartbeat: Heartbeat
    keys: tuple


@dataclass
class RayExecutor:
    """Runs a sweep's runs as Ray tasks, ``cpus_per_run`` CPUs (and torch threads) and
    ``gpus_per_run`` GPUs each. ``address``: the cluster (``auto``, ``HOST:PORT``);
    None starts a local Ray for the sweep and stops it at the end. A Ray this process already
    started (``ray.init``) is used as it is."""

    address: str | None = None
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0

    def __post_init__(self):
        if self.cpus_per_run < 1:
            raise ConfigError(f"--cpus-per-run must be at least 1, not {self.cpus_per_run}")
        if self.gpus_per_run < 0:
            raise ConfigError(f"--gpus-per-run must be 0 or more, not {self.gpus_per_run}")

    def device(self, device: str | None) -> str:
        """The device runs use: ``cuda`` when they reserve GPUs, else ``cpu``. Ray shows a task only
        the GPUs it reserved, numbered from 0, so ``cuda:N`` and ``cuda`` without GPUs are errors."""
        if device is None:
            return "cuda" if self.gpus_per_run > 0 else "cpu"
        if device.startswith("cuda") and self.gpus_per_run <= 0:
            raise ConfigError(
                f"--device {device} with --executor ray needs --gpus-per-run (Ray hides the GPUs "
                f"from runs that reserve none), e.g. --gpus-per-run 1"
            )
        if device.startswith("cuda:"):
            raise ConfigError(f"--device {device}: with --executor ray, Ray chooses each run's GPU; use --device cuda")
        return device

    def __call__(
        self,
        specs: list[RunSpec],
        store: Store,
        plugins: Plugins,
        *,
        resume: bool = False,
        progress: bool = False,
        on_event: Callable[[Outcome], None] = lambda o: None,
    ) -> list[Outcome]:
        ray = require_ray()
        started = self._connect(ray)
        try:
            return _Sweep(ray, self, specs, store, plugins, resume, on_event).run()
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        """Connects to the cluster or starts a local Ray; True when this call started it."""
        if ray.is_initialized():
            return False
        try:
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:
                cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
                # "local": a new Ray for this sweep, even where `ray start` left one (or its stale address)
                ray.init(
                    address="local",
                    num_cpus=max(cpus, self.cpus_per_run),
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
        except ConnectionError as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {self.address}: {_first_line(exc)}. Start one "
                f"with `ray start --head`, or leave out --ray-address for a local Ray. A cluster with "
                f"token authentication (the default since Ray 2.59) needs RAY_AUTH_MODE=token and its "
                f"token (~/.ray/auth_token or RAY_AUTH_TOKEN) here too."
            ) from None
        return True

    def slots(self, ray) -> int:
        """How many runs execute at once: the cluster's CPUs (and GPUs) over a run's share."""
        total = ray.cluster_resources()
        cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
        if self.cpus_per_run > cpus:
            raise ConfigError(f"--cpus-per-run {self.cpus_per_run} exceeds the {cpus:g} CPUs of the Ray cluster")
        if self.gpus_per_run > gpus:
            raise ConfigError(f"--gpus-per-run {self.gpus_per_run:g} exceeds the {gpus:g} GPUs of the Ray cluster")
        n = int(cpus // self.cpus_per_run)
        if self.gpus_per_run > 0:
            n = min(n, int(gpus // self.gpus_per_run))
        return max(1, n)


class _Sweep:
    """The driver's loop: keeps every slot busy, stores results as they come back."""

    def __init__(self, ray, executor: RayExecutor, specs, store: Store, plugins: Plugins, resume: bool, on_event):
        self.ray, self.executor, self.store, self.plugins = ray, executor, store, plugins
        self.resume, self.on_event = resume, on_event
        self.queue = list(enumerate(specs))
        self.outcomes: dict[int, Outcome] = {}
        self.flights: dict = {}  # ObjectRef -> _Flight
        self.provenance = run_provenance()
        modules = plugins.explicit_modules()
        self.task = ray.remote(execute_remote).options(
            num_cpus=executor.cpus_per_run, num_gpus=executor.gpus_per_run, max_retries=0
        )
        self.shared = dict(
            modules=modules, paths=module_folders(modules), env=forwarded_env(), threads=executor.cpus_per_run
        )

    def run(self) -> list[Outcome]:
        slots = self.executor.slots(self.ray)
        try:
            while True:
                while len(self.flights) < slots and self._submit_next():
                    pass
                if not self.flights:
                    break
                done, _ = self.ray.wait(list(self.flights), num_returns=1, timeout=WAIT_S)
                for ref in done:
                    self._collect(ref)
        except KeyboardInterrupt as exc:
            self._interrupt(exc)
        return [self.outcomes[i] for i in sorted(self.outcomes)]

    def _keys(self, spec: RunSpec) -> tuple:
        """What a run must not share with one in flight: its run key (with --resume the second
        would be skipped as running elsewhere) and, for stainers with evaluation variants, the
        model it would train (variants wait for it and reuse it, as they do run one by one)."""
        manifest = self.plugins.datasets.get(spec.dataset).manifest_hash
        reuse = bool(self.plugins.stainers.get(spec.stainer).variants)
        return (spec.key(manifest),) + ((spec.train_key(manifest),) if reuse else ())

    def _submit_next(self) -> bool:
        busy = {k for f in self.flights.values() for k in f.keys}
        for pos, (index, spec) in enumerate(self.queue):
            keys = self._keys(spec)
            if busy.isdisjoint(keys):
                del self.queue[pos]
                self._submit(index, spec, keys)
                return True
        return False

    def _submit(self, index: int, spec: RunSpec, keys: tuple) -> None:
        claimed = claim_run(self.store, spec, self.plugins, self.provenance, self.resume)
        if claimed.run_id is None:  # completed, or running under another process's live lease
            self._record(not_claimed(spec, claimed), index)
            return
        heartbeat = Heartbeat(self.store, claimed.run_id, claimed.owner).__enter__()
        flight = _Flight(index, spec, claimed.run_id, claimed.owner, heartbeat, keys)
        try:
            trained = trained_model(self.store, spec, self.plugins)
            remote_spec = replace(spec, artifacts_root=os.path.abspath(spec.artifacts_root))
            ref = self.task.remote(claimed.run_id, remote_spec, trained=trained, **self.shared)
        except BaseException as exc:
            heartbeat.__exit__(None, None, None)
            status = end_run(self.store, claimed.run_id, claimed.owner, exc)
            if isinstance(exc, KeyboardInterrupt):
                self.flights[None] = flight  # reported with the runs in flight
                raise
            self._record(self._outcome(flight, status), index)
            return
        self.flights[ref] = flight

    def _collect(self, ref) -> None:
        flight = self.flights.pop(ref)
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # raised outside the run's own code
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            value = Ended("failed", f"the run's Ray task raised {type(cause).__name__}: {_first_line(cause)}\n\n{exc}")
        except self.ray.exceptions.RayError as exc:  # the worker died: crash, out of memory, node lost
            value = Ended(
                "failed",
                f"the run's Ray worker died ({type(exc).__name__}: {_first_line(exc)}) before "
                f"returning a result\n\n{exc}",
            )
        try:
            if isinstance(value, RunResult):
                self.store.finish_run(
                    flight.run_id, value.scores, value.summaries, owner=flight.owner, curve=value.curve, **value.fields
                )
            else:
                self.store.end_run(flight.run_id, value.status, value.error, owner=flight.owner)
        except VbenchError as exc:  # the run's lease was lost meanwhile: its first ending stands
            end_run(self.store, flight.run_id, flight.owner, exc)
        finally:
            flight.heartbeat.__exit__(None, None, None)
        run = self.store.get_run(flight.run_id)
        self._record(self._outcome(flight, run.status if run else "failed"), flight.index)

    def _outcome(self, flight: _Flight, status: str) -> Outcome:
        run = self.store.get_run(flight.run_id)
        message = (run.error or "").split("\n", 1)[0] if run and status != "completed" else ""
        return Outcome(flight.spec, flight.run_id, status, message)

    def _record(self, outcome: Outcome, index: int) -> None:
        self.outcomes[index] = outcome
        self.on_event(outcome)

    def _interrupt(self, exc: KeyboardInterrupt) -> None:
        """Ctrl-C or SIGTERM: cancels the tasks, marks the runs in flight interrupted."""
        for ref in self.flights:
            if ref is not None:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # already finished or gone: nothing to cancel
                    pass
        flights = sorted(self.flights.values(), key=lambda f: f.index)
        for flight in flights:
            flight.heartbeat.__exit__(None, None, None)
            end_run(self.store, flight.run_id, flight.owner, exc)
            self._record(
                Outcome(flight.spec, flight.run_id, "interrupted", "interrupted; rerun with --resume"), flight.index
            )
        ids = ", ".join(str(f.run_id) for f in flights) or "(none)"
        labels = "; ".join(f.spec.label for f in flights)
        raise RunInterrupted(
            f"interrupted during run {ids} ({labels}); completed runs are stored. "
            f"Continue with `vbench run ... --resume`."
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().split("\n", 1)[0] or type(exc).__name__).strip()


def module_folders(modules: list[str]) -> list[str]:
    """The folders holding plugin modules registered without an entry point, for a worker's
    sys.path (on a cluster they must exist on every node, as shared storage, or be installed)."""
    folders = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if found is None or not found.origin or found.origin in ("built-in", "frozen"):
            continue
        path = Path(found.origin).resolve()
        top = path.parent if path.name != "__init__.py" else path.parent.parent
        for _ in name.split(".")[1:]:
            top = top.parent
        if str(top) not in folders:
            folders.append(str(top))
    return folders


def forwarded_env() -> dict[str, str]:
    """The driver's vbench settings a run needs (``VBENCH_HOME``: datasets, caches, assets; on a
    cluster set it to shared storage or leave it unset); the database stays with the driver."""
    return {k: v for k, v in os.environ.items() if k.startswith("VBENCH_") and k != "VBENCH_DB"}


def execute_remote(
    run_id: int,
    spec: RunSpec,
    *,
    modules: list[str],
    paths: list[str],
    env: dict[str, str],
    threads: int,
    trained: Trained | None,
) -> RunResult | Ended:
    """The body of a run's Ray task: computes the run and returns its result (or how it ended).
    Never touches the database."""
    import torch

    for folder in reversed(paths):
        if folder not in sys.path and os.path.isdir(folder):
            sys.path.insert(0, folder)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS only when it is unset
        own_peak = reset_peak_memory()  # a reused worker: its earlier runs' peak is not this run's
        try:
            plugins = load_plugins(extra=modules)
            result = compute_run(run_id, spec, plugins, Reporter(False), own_peak, trained)
        except KeyboardInterrupt:
            return Ended("interrupted", INTERRUPTED)
        except BaseException as exc:
            return Ended("failed", failure_text(exc))
        result.fields["hardware"] = json.dumps(hardware(spec.device), sort_keys=True, default=str)  # the node's
        return result
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def reset_peak_memory() -> bool:
    """Resets this process's peak resident memory (Linux: ``/proc/self/clear_refs``); False when
    that is not possible, and the run's peak memory is then not recorded."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
