"""Executing a sweep: each run claimed in the store, then run in its own process (or by an
executor such as :class:`~vbench.run.ray_executor.RayExecutor`)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..console import show_logs_visibly
from ..errors import RunInterrupted
from ..plugins import Plugins, load_plugins
from ..store import Store
from ..store.leases import Claim, Heartbeat, claim, lease_seconds
from . import processes
from .execute import params_json, run_one
from .progress import ForwardingReporter, Reporter, SweepDisplay, expected_seconds
from .record import end_run, run_fields, run_provenance
from .spec import RunSpec


@dataclass
class Outcome:
    spec: RunSpec
    run_id: int | None
    status: str  # completed | failed | interrupted | skipped | held (a live owner elsewhere runs it)
    message: str = ""
    expires: datetime | None = None  # held: when the holder's lease expires (database clock, UTC)
    expires_in: float | None = None  # held: seconds until then, on the database clock


def not_claimed(spec: RunSpec, claimed: Claim) -> Outcome:
    """The outcome of a run that was not claimed: skipped (already completed) or held (running
    under a live owner's lease)."""
    status = "held" if claimed.expires is not None else "skipped"
    return Outcome(spec, claimed.existing, status, claimed.reason, claimed.expires, claimed.expires_in)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, `kill`): handled like Ctrl-C, so the run is marked interrupted."""


def _raise_terminated(signum, frame):
    raise Terminated()


def run_worker(
    db_url: str,
    run_id: int,
    owner: str,
    spec: RunSpec,
    modules: list[str],
    progress: bool,
    driver: int,
    messages=None,
    env: dict | None = None,
) -> None:
    """Entry point of the per-run process (forked from a forkserver or spawned: see
    :mod:`vbench.run.processes`), with the driver's environment; it stops when the driver dies.
    Ctrl-C is blocked here: the driver passes it on as SIGTERM (see
    :func:`~vbench.run.processes.start_worker`)."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    processes.note_fork(driver)
    processes.adopt_environment(env)
    processes.watch_driver(driver)
    show_logs_visibly()  # a plugin's log lines reach the terminal too
    store = Store(db_url)
    try:
        plugins = load_plugins(extra=modules)
        # with a sweep display the driver draws the bars; this process only reports its progress
        reporter = ForwardingReporter(messages.put) if messages is not None else Reporter(progress)
        run_one(store, run_id, spec, plugins, reporter, isolated=True, owner=owner)
    except BaseException as exc:
        raise SystemExit(130 if end_run(store, run_id, owner, exc) == "interrupted" else 1) from None


def run_sweep(
    specs: list[RunSpec],
    store: Store,
    plugins: Plugins,
    *,
    resume: bool = False,
    isolate: bool = True,
    progress: bool = True,
    on_event: Callable[[Outcome], None] = lambda o: None,
    executor=None,
    wait: bool = False,
    on_wait: Callable[[list[Outcome], float], None] = lambda held, pause: None,
) -> list[Outcome]:
    """Claims and executes every run; ``executor`` (e.g. ``vbench.run.ray_executor.RayExecutor``) runs
    them elsewhere, else each runs here, in its own process unless not ``isolate``. With ``resume``,
    a run a live owner elsewhere holds is ``held``; with ``wait`` those are tried again (after
    ``on_wait(held, seconds)``) until each is completed or its owner is gone and it ran here."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None

    def sweep(chosen, report):
        if executor is not None:
            return executor(chosen, store, plugins, resume=resume, progress=progress, on_event=report)
        return _sweep(chosen, store, plugins, resume, isolate, progress, report)

    try:
        outcomes = sweep(specs, on_event)

        def quiet(o: Outcome) -> None:  # held runs are reported by on_wait, not again at every look
            if o.status != "held":
                on_event(o)

        while wait and (held := [i for i, o in enumerate(outcomes) if o.status == "held"]):
            pause = _pause([outcomes[i] for i in held])
            on_wait([outcomes[i] for i in held], pause)
            time.sleep(pause)
            for i, o in zip(held, sweep([specs[i] for i in held], quiet)):
                outcomes[i] = o
        return outcomes
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _pause(held: list[Outcome]) -> float:
    """Seconds until the next look at held runs: until the first lease expires (a little after,
    by the database clock), and at least every quarter lease, to see a run its owner completed."""
    first = min((o.expires_in for o in held if o.expires_in is not None), default=lease_seconds())
    return max(0.2, min(first + 0.2, lease_seconds() / 4))


def _sweep(specs, store, plugins, resume, isolate, progress, on_event) -> list[Outcome]:
    display = _display(specs, store) if progress else None
    with display or contextlib.nullcontext():
        return _runs(specs, store, plugins, resume, isolate, progress, on_event, display)


def _display(specs, store) -> SweepDisplay | None:
    """The sweep's live display, on a terminal only (logs and pipes get the run events alone)."""
    from rich.console import Console

    if not Console(stderr=True).is_terminal:
        return None
    history = store.runs(status="completed")
    return SweepDisplay([s.label for s in specs], [expected_seconds(history, s) for s in specs])


def claim_run(store: Store, spec: RunSpec, plugins: Plugins, provenance: dict, resume: bool):
    """Claims ``spec``'s run in the store (:func:`vbench.store.leases.claim`) with what it records."""
    dataset = plugins.datasets.get(spec.dataset)
    manifest = dataset.manifest_hash
    key = spec.key(manifest)
    info = plugins.info_for("stainer", spec.stainer)
    return claim(
        store,
        key,
        run_fields(
            dataset,
            stainer=spec.stainer,
            run_key=key,
            device=spec.device,
            provenance=provenance,
            preset=spec.preset_label,
            params=params_json({**spec.params, **spec.eval_params}),
            train_key=spec.train_key(manifest),
            precision=spec.precision,
            evaluation=spec.evaluation,
            repeats=spec.repeats,
            seed=spec.seed,
            suite=spec.suite,
            plugin_dist=info.dist if info else None,
            plugin_version=info.version if info else None,
        ),
        resume=resume,
    )


def _runs(specs, store, plugins, resume, isolate, progress, on_event, display) -> list[Outcome]:
    outcomes = []
    provenance = run_provenance()
    for index, spec in enumerate(specs):
        claimed = claim_run(store, spec, plugins, provenance, resume)
        if claimed.run_id is None:  # completed, or running under another process's live lease
            outcome = not_claimed(spec, claimed)
            outcomes.append(outcome)
            on_event(outcome)
            continue
        run_id, owner = claimed.run_id, claimed.owner
        if display is not None:
            display.start_run(index)
        try:
            with Heartbeat(store, run_id, owner):
                status = _execute(store, run_id, owner, spec, plugins, isolate, progress, display)
        except KeyboardInterrupt as exc:
            end_run(store, run_id, owner, exc)  # no-op when the run's worker stored it first
            outcome = Outcome(spec, run_id, "interrupted", "interrupted; rerun with --resume")
            outcomes.append(outcome)
            on_event(outcome)
            raise RunInterrupted(
                f"interrupted during run {run_id} ({spec.label}); completed runs are stored. "
                f"Continue with `vbench run ... --resume`."
            ) from None
        if display is not None:
            display.end_run()
        run = store.get_run(run_id)
        message = (run.error or "").split("\n", 1)[0] if run and status != "completed" else ""
        outcome = Outcome(spec, run_id, status, message)
        outcomes.append(outcome)
        on_event(outcome)
    return outcomes


def _execute(
    store: Store,
    run_id: int,
    owner: str,
    spec: RunSpec,
    plugins: Plugins,
    isolate: bool,
    progress: bool,
    display: SweepDisplay | None = None,
) -> str:
    if not isolate:
        reporter = ForwardingReporter(display.on_message) if display is not None else Reporter(progress)
        try:
            run_one(store, run_id, spec, plugins, reporter, isolated=False, owner=owner)
            return "completed"
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return end_run(store, run_id, owner, exc)
    ctx = processes.context(processes.plugin_modules(plugins))
    messages = ctx.Queue() if display is not None else None
    proc = ctx.Process(
        target=run_worker,
        args=(
            store.url,
            run_id,
            owner,
            spec,
            plugins.explicit_modules(),
            progress,
            os.getpid(),
            messages,
            dict(os.environ),
        ),
    )
    try:
        processes.start_worker(ctx, proc)
        while proc.is_alive():
            proc.join(0.1)
            _relay(messages, display)
        _relay(messages, display)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: the child takes neither itself; pass it on once, as SIGTERM, and give
        # it time to store its status. A child not forked yet stops with this process (its watch).
        if proc.pid is None:
            raise
        proc.terminate()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        raise
    code = proc.exitcode
    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    # Only when the process died without recording why (crash, OOM kill) does this take effect.
    end_run(store, run_id, owner, f"the run's worker process died ({why}) before storing a result")
    return store.get_run(run_id).status


def _relay(messages, display) -> None:
    """Passes the worker's progress messages on to the sweep display."""
    import queue

    while messages is not None:
        try:
            display.on_message(messages.get_nowait())
        except queue.Empty:
            return
