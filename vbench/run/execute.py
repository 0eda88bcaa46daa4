"""One run: seed, fit under budget (or reuse the trained model), predict, check, score, store."""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field

from ..context import Budget, RunContext
from ..errors import VbenchError
from ..plugins import Plugins
from ..scoring import batches, default_metrics, items_from_samples, score
from ..seeding import seed_everything
from ..stats import summarize
from ..store import Store
from . import faults, processes
from .artifacts import run_folder
from .fit import StainerFailure, Trained, call_stainer, fit_or_reuse, trained_model
from .output_checks import check_output
from .progress import Reporter
from .sample_grid import save_sample_grid
from .spec import RunSpec

log = logging.getLogger("vbench.run")

# Per-pixel spread across repeated predictions of a stochastic stainer, stored as metrics.
VARIANCE_PIPELINE = (
    "std (and std / mean) across R predictions of each output pixel, RGB float [0,1], "
    "averaged over the pixels of the tile"
)
NFE_PIPELINE = "network evaluations per tile in one prediction (sampling steps taken x samples averaged)"


@dataclass
class RunResult:
    """What a run computed: per-tile scores, summaries, the run's fields and its anytime curve's
    rows, for the store."""

    scores: list
    summaries: list[dict]
    fields: dict
    curve: list[dict] = field(default_factory=list)


def run_one(
    store: Store,
    run_id: int,
    spec: RunSpec,
    plugins: Plugins,
    reporter: Reporter,
    isolated: bool,
    owner: str | None = None,
) -> dict:
    """Executes the run and stores its results. Raises on failure (the caller records it)."""
    result = compute_run(run_id, spec, plugins, reporter, isolated, trained_model(store, spec, plugins))
    store.finish_run(run_id, result.scores, result.summaries, owner=owner, curve=result.curve, **result.fields)
    return result.fields


def compute_run(
    run_id: int, spec: RunSpec, plugins: Plugins, reporter: Reporter, isolated: bool, trained: Trained | None = None
) -> RunResult:
    """Executes the run without a database: fits the stainer (or loads ``trained``'s checkpoint),
    predicts, checks and scores; writes the checkpoint and sample grid under
    ``spec.artifacts_root``. Raises on failure. ``isolated``: this process's peak memory is the
    run's own."""
    import numpy as np

    seed_everything(spec.seed)
    dataset = plugins.datasets.get(spec.dataset)
    cls = plugins.stainers.get(spec.stainer)
    train, val, test = (dataset.samples(s) for s in ("train", "val", "test"))
    if not test:
        raise VbenchError(f"dataset {spec.dataset!r} has no test tiles; nothing to score")

    ctx = RunContext(
        scale=dataset.scale,
        device=spec.device,
        seed=spec.seed,
        val=val,
        budget=Budget(steps=spec.params.get("steps"), seconds=spec.max_seconds),
        pairing=dataset.pairing,
        in_channels=dataset.in_channels,
        modality=getattr(dataset, "modality", ""),
        stain=getattr(dataset, "stain", ""),
        logger=logging.getLogger(f"vbench.stainer.{spec.stainer}"),
        precision=spec.precision,
    )
    prepare_device(spec.device)
    stainer = cls(**spec.params)
    stainer.ctx = ctx
    artifacts = run_folder(spec.artifacts_root, run_id)
    fitted = fit_or_reuse(trained, spec, plugins, dataset, stainer, ctx, train, reporter, artifacts, run_id)
    fields = fitted.fields

    for key, value in spec.eval_params.items():  # evaluation variants act on the trained model
        setattr(stainer, key, value)
    if spec.evaluation == "whole":
        from .whole import evaluate_whole

        scores, summaries, more = evaluate_whole(spec, plugins, dataset, stainer, reporter, artifacts)
        fields.update(more, n_params=stainer.parameter_count(), threads=_threads(), peak_mem_mb=_peak(spec, isolated))
        return RunResult(scores, summaries, fields, fitted.curve)
    _warm_up(spec, stainer, test[0])
    seed_everything(spec.seed)  # predictions reproduce whether the model was trained or reused
    outputs, repeats, per_tile_ms, predict_seconds = _predict(spec, dataset, stainer, test, reporter)
    scores, summaries = _score(spec, plugins, dataset, test, outputs, reporter, run_id)
    if spec.repeats > 1:
        _variance(repeats, test, scores, summaries, spec.seed)
    nfe = stainer.network_evaluations()
    if nfe is not None:
        summaries.append(
            dict(
                metric="nfe",
                status="computed",
                reason=None,
                higher_is_better=False,
                n=len(test),
                mean=float(nfe),
                pipeline=NFE_PIPELINE,
            )
        )

    peak_mb = _peak(spec, isolated)
    try:
        save_sample_grid(artifacts / "samples.png", test[:4], outputs, dataset.scale)
    except OSError as exc:
        log.warning("could not write the sample grid: %s", exc)

    ms = np.asarray(per_tile_ms)
    fields.update(
        infer_ms_p50=float(np.percentile(ms, 50)),
        infer_ms_p95=float(np.percentile(ms, 95)),
        tiles_per_s=len(test) / predict_seconds if predict_seconds > 0 else None,
        peak_mem_mb=peak_mb,
        n_params=stainer.parameter_count(),
        flops_per_tile=_flops_per_tile(spec, stainer, test),
        n_test_tiles=len(test),
        repeats=spec.repeats,
        threads=_threads(),
        tile_sources=tile_sources(test),
    )
    return RunResult(list(scores), summaries, fields, fitted.curve)


def _peak(spec, isolated: bool) -> float | None:
    import torch

    if spec.device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20  # device memory matters more there
    return peak_rss_mb() if isolated else None  # in-process runs share the process's peak


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def prepare_device(device: str) -> None:
    """On a GPU, what a lab would set: TF32 matrix products and convolutions, cuDNN's autotuner,
    and the peak-memory counter started afresh for this run."""
    if not device.startswith("cuda"):
        return
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    torch.cuda.reset_peak_memory_stats(device)


def tile_sources(test) -> dict | None:
    """{tile: source image} when the dataset records one per test tile (``Sample.meta["source"]``)
    and there are two or more: the leaderboard's bootstrap then resamples source images, whose
    tiles are not independent, instead of tiles."""
    sources = {s.id: s.meta.get("source") for s in test}
    if None in sources.values() or len(set(sources.values())) < 2:
        return None
    return {k: str(v) for k, v in sources.items()}


def peak_rss_mb() -> float:
    """Peak resident memory of this process image: the interpreter, torch and the plugins it
    imported, and the run. Linux folds the parent's RSS at fork into a child's ru_maxrss, so a
    worker reads VmHWM (the peak since exec, or since the fork from a forkserver) instead; a
    forked worker adds :func:`vbench.run.processes.memory_offset_mb`, so both start methods give
    comparable figures."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0 + processes.memory_offset_mb()
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


def _warm_up(spec, stainer, sample) -> None:
    """One untimed prediction of one tile: first-call costs (allocations, kernel selection) are
    not the stainer's latency. For a 20-step sampler they were about 1 s per tile in a batch of 8."""
    import torch

    with torch.inference_mode(), stainer.ctx.autocast():
        call_stainer(spec, "predict", stainer.predict, sample.input.unsqueeze(0).to(spec.device))


def _predict(spec, dataset, stainer, test, reporter):
    import torch

    outputs: dict[str, object] = {}
    repeats: dict[str, list] = defaultdict(list)
    per_tile_ms: list[float] = []
    seconds = 0.0
    s = dataset.scale
    with (
        reporter.task(f"predict {spec.label}", total=len(test) * spec.repeats) as advance,
        torch.inference_mode(),
        stainer.ctx.autocast(),
    ):
        done = 0
        for r in range(spec.repeats):
            for batch in batches(test, spec.batch_size, key=lambda b: tuple(b.input.shape)):
                x = torch.stack([b.input for b in batch]).to(spec.device)
                t0 = time.perf_counter()
                out = call_stainer(spec, "predict", stainer.predict, x)
                if spec.device.startswith("cuda"):
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                if r == 0:  # latency of one prediction per tile
                    seconds += dt
                    per_tile_ms.extend([dt * 1000.0 / len(batch)] * len(batch))
                _, _, h, w = x.shape
                out = check_output(out, (len(batch), 3, h * s, w * s), [b.id for b in batch], spec.stainer)
                for b, o in zip(batch, out):
                    if r == 0:
                        outputs[b.id] = o
                    if spec.repeats > 1:
                        repeats[b.id].append(o)
                done += len(batch)
                advance(done)
    return outputs, repeats, per_tile_ms, seconds


def _score(spec, plugins, dataset, test, outputs, reporter, run_id=None):
    items = items_from_samples(test, outputs)
    names = spec.metrics or default_metrics(
        plugins.metrics, dataset.pairing, has_reference=all(it.reference is not None for it in items)
    )

    def on_metric(name):
        done = names.index(name)
        if done:  # VBENCH_FAULT (tests): die after the first metric, before the next
            faults.check("score", run_id)
        advance(done)

    with reporter.task(f"score {spec.label}", total=len(names)) as advance:
        # A run never fails for a metric: one that cannot be computed is stored with the reason.
        result = score(
            [(n, plugins.metrics.get(n)) for n in names],
            items,
            dataset=dataset,
            explicit=False,
            batch_size=spec.batch_size,
            seed=spec.seed,
            on_metric=on_metric,
        )
        faults.check("score", run_id)  # with one metric: after it
        advance(len(names))
    return result.scores(), result.summaries


def _variance(repeats, test, scores, summaries, seed) -> None:
    import torch

    std, cv = {}, {}
    for s in test:
        stack = torch.stack(repeats[s.id]).double()
        pixel_std = stack.std(dim=0, unbiased=True)
        std[s.id] = float(pixel_std.mean())
        cv[s.id] = float((pixel_std / stack.mean(dim=0).clamp_min(1e-3)).mean())
    for name, values in (("pixel_std", std), ("pixel_cv", cv)):
        scores.extend((name, tid, v) for tid, v in values.items())
        summaries.append(
            dict(
                metric=name,
                status="computed",
                reason=None,
                higher_is_better=False,
                pipeline=VARIANCE_PIPELINE,
                **summarize(values.values(), seed=seed),
            )
        )


def _flops_per_tile(spec, stainer, test) -> float | None:
    """FLOPs of predicting one test tile, counted by torch's FlopCounterMode (None if it fails)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = test[0].input.unsqueeze(0).to(spec.device)
    try:
        with torch.inference_mode(), stainer.ctx.autocast(), FlopCounterMode(display=False) as counter:
            stainer.predict(x)
        return float(counter.get_total_flops())
    except Exception as exc:  # counting is best effort; it must never fail a scored run
        log.warning("FLOP counting failed for %s: %s", spec.stainer, exc)
        return None


def failure_text(exc: BaseException) -> str:
    """The stored error: the one-line reason first, then the traceback."""
    head = str(exc) if isinstance(exc, (StainerFailure, VbenchError)) else f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ if isinstance(exc, StainerFailure) and exc.__cause__ else exc
    tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    return f"{head}\n\n{tb}"


def params_json(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)
