"""A sweep: plan (stainer preset x dataset x seed), then run each in its own process."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from . import __version__, processes
from .errors import ConfigError, RunInterrupted, UnknownNameError
from .execute import failure_text, params_json, run_one
from .plugins import Plugins, load_plugins
from .progress import ForwardingReporter, Reporter, SweepDisplay, expected_seconds
from .provenance import git_commit, hardware, library_versions
from .settings import combinations, split_preset
from .spec import RunSpec, run_key
from .store import Store
from .store.leases import Heartbeat, claim


@dataclass
class Outcome:
    spec: RunSpec
    run_id: int | None
    status: str  # completed | failed | interrupted | skipped
    message: str = ""


@dataclass
class Suite:
    name: str
    stainers: list[str]
    datasets: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    metrics: list[str] = field(default_factory=list)  # empty: each dataset pairing's default set
    tasks: dict[str, list[str]] = field(default_factory=dict)  # dataset -> its stainers, instead of every pair

    def groups(self) -> list[tuple[list[str], list[str]]]:
        """(stainers, datasets) to plan: each task's stainers on its dataset, else all on all."""
        if self.tasks:
            return [(stainers, [dataset]) for dataset, stainers in self.tasks.items()]
        return [(self.stainers, self.datasets)]


def load_suite(name: str) -> Suite:
    """A suite by name (vbench/suites.toml) or a path to a TOML file with the same keys: either
    ``stainers`` and ``datasets`` (every combination), or ``tasks`` (dataset = [stainers])."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"suite file {path} does not exist")
        data, table = tomllib.loads(path.read_text()), path.stem
    else:
        data = tomllib.loads(resources.files("vbench").joinpath("suites.toml").read_text())
        if name not in data:
            raise UnknownNameError("suite", name, list(data))
        data, table = data[name], name
    seeds, metrics = [int(s) for s in data.get("seeds", [0])], list(data.get("metrics", []))
    tasks = data.get("tasks")
    if tasks is not None:
        if not isinstance(tasks, dict) or not tasks or not all(isinstance(v, list) and v for v in tasks.values()):
            raise ConfigError(f"suite {name!r}: tasks must map each dataset to a list of stainers, "
                              f'e.g. [{table}.tasks] then qpi-he = ["baseline-linear", "phasestain:quick"]')
        stainers = list(dict.fromkeys(s for v in tasks.values() for s in v))
        return Suite(table, stainers, list(tasks), seeds, metrics, tasks={k: list(v) for k, v in tasks.items()})
    try:
        return Suite(table, list(data["stainers"]), list(data["datasets"]), seeds, metrics)
    except KeyError as exc:
        raise ConfigError(f"suite {name!r} has no {exc.args[0]!r} list (or a tasks table)") from None


def plan_suite(plugins: Plugins, suite: Suite, seeds: list[int] | None = None, metrics: list[str] | None = None,
               **options) -> list[RunSpec]:
    """Every run of a suite (:func:`plan` per task), stored with the suite's name."""
    return [spec for stainers, datasets in suite.groups()
            for spec in plan(plugins, stainers, datasets, seeds or suite.seeds, metrics=metrics or suite.metrics,
                             suite=suite.name, **options)]


def split_stainer(text: str) -> tuple[str, str, list[str]]:
    """``name[:preset][+variant...]`` -> (name, preset, variants); the preset may carry changed
    parameters (``quick[steps=250]``, see :func:`vbench.settings.split_preset`)."""
    name, _, rest = text.partition(":")
    if "+" in name:
        name, _, extra = name.partition("+")
        rest = "+" + extra
    preset, *variants = rest.split("+")
    return name, preset, [v for v in variants if v]


def plan(plugins: Plugins, stainers: list[str], datasets: list[str], seeds: list[int], *,
         metrics: list[str] = (), device: str = "cpu", max_seconds: float | None = None,
         repeats: int | None = None,
         batch_size: int = 8, suite: str | None = None, artifacts_root: str = "vbench-artifacts",
         strict: bool = False, warn: Callable[[str], None] = lambda m: None,
         settings: dict[str, list] | None = None) -> list[RunSpec]:
    """Resolves names, presets and variants. A stainer/dataset pair the stainer cannot handle
    (pairing or scale) is an error when ``strict`` (the user named both), else skipped with a warning.
    ``settings`` (``vbench.settings.parse`` of ``--set``) override preset parameters; every
    combination of their values is its own run."""
    for m in metrics:
        plugins.metrics.entry(m)
    specs = []
    for text in stainers:
        name, preset, variants = split_stainer(text)
        preset, pinned = split_preset(preset)  # quick[steps=250]: the label's form of --set
        cls = plugins.stainers.get(name)
        presets = dict(getattr(cls, "presets", {}) or {})
        if preset and preset not in presets:
            raise UnknownNameError(f"preset of {name}", preset, list(presets))
        if not preset and presets:
            preset = next(iter(presets))
        grid = combinations(name, presets, preset, {**pinned, **(settings or {})})
        params = dict(presets.get(preset, {}))
        cap = params.pop("max_seconds", None)
        known_variants = dict(getattr(cls, "variants", {}) or {})
        eval_params: dict = {}
        for v in variants:
            if v not in known_variants:
                raise UnknownNameError(f"evaluation variant of {name}", v, list(known_variants))
            eval_params.update(known_variants[v])
        n_repeats = repeats if repeats is not None else int(getattr(cls, "repeats", 1) or 1)
        info = plugins.info_for("stainer", name)
        plugin = f"{info.dist} {info.version}" if info and info.dist else None
        for ds_name in datasets:
            ds = plugins.datasets.get(ds_name)
            pairings = set(getattr(cls, "pairings", {"paired"}))
            scales = getattr(cls, "scales", None)
            problem = None
            if ds.pairing not in pairings:
                problem = f"{name} supports {', '.join(sorted(pairings))} data, {ds_name} is {ds.pairing}"
            elif scales is not None and ds.scale not in scales:
                problem = (f"{name} produces output/input scales {sorted(scales)}, "
                           f"{ds_name} needs scale {ds.scale}")
            if problem:
                if strict:
                    raise ConfigError(f"cannot run {name} on {ds_name}: {problem}. Choose another dataset or stainer.")
                warn(f"skipping {name} on {ds_name}: {problem}")
                continue
            for overrides, seed in itertools.product(grid, seeds):
                specs.append(RunSpec(stainer=name, dataset=ds_name, seed=seed, preset=preset,
                                     params={**params, **overrides}, overrides=overrides,
                                     variants=variants, eval_params=eval_params, repeats=n_repeats, plugin=plugin,
                                     metrics=list(metrics), device=device,
                                     max_seconds=max_seconds if max_seconds is not None else cap,
                                     batch_size=batch_size, suite=suite, artifacts_root=artifacts_root))
    if not specs:
        raise ConfigError("nothing to run: no stainer supports the pairing/scale of the chosen datasets")
    return specs


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, `kill`): handled like Ctrl-C, so the run is marked interrupted."""


def _raise_terminated(signum, frame):
    raise Terminated()


INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); rerun with --resume"


def run_fields(dataset, *, stainer: str, run_key: str, device: str | None, provenance: dict | None = None,
               **fields) -> dict:
    """What every stored run records: the dataset, its manifest, input modality and target stain,
    vbench's version and commit, the hardware and the library versions."""
    provenance = provenance or run_provenance()
    return dict(stainer=stainer, run_key=run_key, dataset=dataset.name, manifest_hash=dataset.manifest_hash,
                dataset_note=getattr(dataset, "simulated", "") or "", modality=getattr(dataset, "modality", "") or "",
                stain=getattr(dataset, "stain", "") or "", device=device, hardware=hardware(device or "cpu"),
                **provenance, **fields)


def run_provenance() -> dict:
    return {"vbench_version": __version__, "git_commit": git_commit(), "libraries": library_versions()}


def record_external(store: Store, dataset, name: str, predictions: Path, result) -> int:
    """Stores predictions made outside vbench, scored on ``dataset``'s test split (``result`` of
    :func:`vbench.scoring.score`), as a completed external run that ranks under ``name``."""
    run_id = store.create_run(**run_fields(
        dataset, stainer=name, preset="", seed=0, external=True, device=None,
        params={"predictions": str(Path(predictions).resolve())},
        run_key=run_key({"external": name, "dataset": dataset.name, "manifest": dataset.manifest_hash})))
    store.finish_run(run_id, result.scores(), result.summaries, n_test_tiles=len(result.ids))
    return run_id


def _end(store: Store, run_id: int, owner: str, why: BaseException | str) -> str:
    """Stores how a run that did not complete ended: interrupted (Ctrl-C, SIGTERM) or failed with
    the reason and traceback. A run that already ended keeps its first ending."""
    if isinstance(why, KeyboardInterrupt):
        status, error = "interrupted", INTERRUPTED
    else:
        status, error = "failed", failure_text(why) if isinstance(why, BaseException) else why
    store.end_run(run_id, status, error, owner=owner)
    return status


def _worker(db_url: str, run_id: int, owner: str, spec: RunSpec, modules: list[str], progress: bool,
            driver: int, messages=None, env: dict | None = None) -> None:
    """Entry point of the per-run process (forked from a forkserver or spawned: see
    :mod:`vbench.processes`), with the driver's environment; it stops when the driver dies."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    processes.note_fork(driver)
    processes.adopt_environment(env)
    processes.watch_driver(driver)
    store = Store(db_url)
    try:
        plugins = load_plugins(extra=modules)
        # with a sweep display the driver draws the bars; this process only reports its progress
        reporter = ForwardingReporter(messages.put) if messages is not None else Reporter(progress)
        run_one(store, run_id, spec, plugins, reporter, isolated=True, owner=owner)
    except BaseException as exc:
        raise SystemExit(130 if _end(store, run_id, owner, exc) == "interrupted" else 1)


def run_sweep(specs: list[RunSpec], store: Store, plugins: Plugins, *, resume: bool = False,
              isolate: bool = True, progress: bool = True,
              on_event: Callable[[Outcome], None] = lambda o: None, executor=None) -> list[Outcome]:
    """Claims and executes every run; ``executor`` (e.g. ``vbench.ray_executor.RayExecutor``) runs
    them elsewhere, else each runs here, in its own process unless not ``isolate``."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    try:
        if executor is not None:
            return executor(specs, store, plugins, resume=resume, progress=progress, on_event=on_event)
        return _sweep(specs, store, plugins, resume, isolate, progress, on_event)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


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
    return claim(store, key, run_fields(
        dataset, stainer=spec.stainer, run_key=key, device=spec.device, provenance=provenance,
        preset=spec.preset_label, params=params_json({**spec.params, **spec.eval_params}),
        train_key=spec.train_key(manifest), repeats=spec.repeats, seed=spec.seed, suite=spec.suite,
        plugin_dist=info.dist if info else None, plugin_version=info.version if info else None,
    ), resume=resume)


def _runs(specs, store, plugins, resume, isolate, progress, on_event, display) -> list[Outcome]:
    outcomes = []
    provenance = run_provenance()
    for index, spec in enumerate(specs):
        claimed = claim_run(store, spec, plugins, provenance, resume)
        if claimed.run_id is None:  # completed, or running under another process's live lease
            outcome = Outcome(spec, claimed.existing, "skipped", claimed.reason)
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
            _end(store, run_id, owner, exc)  # no-op when the run's worker stored it first
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


def _execute(store: Store, run_id: int, owner: str, spec: RunSpec, plugins: Plugins, isolate: bool,
             progress: bool, display: SweepDisplay | None = None) -> str:
    if not isolate:
        reporter = ForwardingReporter(display.on_message) if display is not None else Reporter(progress)
        try:
            run_one(store, run_id, spec, plugins, reporter, isolated=False, owner=owner)
            return "completed"
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return _end(store, run_id, owner, exc)
    ctx = processes.context(processes.plugin_modules(plugins))
    messages = ctx.Queue() if display is not None else None
    proc = ctx.Process(target=_worker, args=(store.url, run_id, owner, spec, plugins.explicit_modules(), progress,
                                             os.getpid(), messages, dict(os.environ)))
    proc.start()
    try:
        while proc.is_alive():
            proc.join(0.1)
            _relay(messages, display)
        _relay(messages, display)
    except KeyboardInterrupt as exc:
        # Ctrl-C reaches the child too (same process group); SIGTERM was sent to this process
        # only, so pass it on. Either way the child stores its status; give it time to.
        if isinstance(exc, Terminated):
            proc.terminate()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        raise
    code = proc.exitcode
    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    # Only when the process died without recording why (crash, OOM kill) does this take effect.
    _end(store, run_id, owner, f"the run's worker process died ({why}) before storing a result")
    return store.get_run(run_id).status


def _relay(messages, display) -> None:
    """Passes the worker's progress messages on to the sweep display."""
    import queue

    while messages is not None:
        try:
            display.on_message(messages.get_nowait())
        except queue.Empty:
            return
