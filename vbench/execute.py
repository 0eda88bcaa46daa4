"""One run: seed, fit under budget, predict in batches, check, score, store."""

from __future__ import annotations

import json
import logging
import random
import resource
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

from . import checkpoint
from .context import Budget, RunContext
from .errors import MetricNotApplicable, VbenchError
from .plugins import Plugins
from .progress import Reporter
from .spec import RunSpec
from .stats import summarize
from .store import Store
from .validate import check_output

log = logging.getLogger("vbench.run")


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class StainerFailure(Exception):
    """A stainer's own code raised; the message names the phase."""


def run_one(store: Store, run_id: int, spec: RunSpec, plugins: Plugins, reporter: Reporter,
            isolated: bool) -> dict:
    """Executes the run and stores its results. Raises on failure (the caller records it)."""
    import numpy as np
    import torch

    seed_everything(spec.seed)
    dataset = plugins.datasets.get(spec.dataset)
    cls = plugins.stainers.get(spec.stainer)
    device = spec.device
    train = dataset.samples("train")
    val = dataset.samples("val")
    test = dataset.samples("test")
    if not test:
        raise VbenchError(f"dataset {spec.dataset!r} has no test tiles; nothing to score")

    ctx = RunContext(
        scale=dataset.scale, device=device, seed=spec.seed, val=val,
        budget=Budget(steps=spec.params.get("steps"), seconds=spec.max_seconds),
        pairing=dataset.pairing, in_channels=dataset.in_channels,
        logger=logging.getLogger(f"vbench.stainer.{spec.stainer}"),
    )
    stainer = cls(**spec.params)
    stainer.ctx = ctx

    # --- fit ---------------------------------------------------------------------------------
    with reporter.task(f"fit {spec.label}", total=ctx.budget.steps) as advance:
        ctx.on_progress = lambda done, total, logs: advance(done)
        ctx.start_clock()
        try:
            stainer.fit(train, ctx)
        except (KeyboardInterrupt, VbenchError):
            raise
        except Exception as exc:
            raise StainerFailure(f"stainer {spec.stainer!r} raised in fit: {type(exc).__name__}: {exc}") from exc
        train_seconds = ctx.elapsed
    truncated = ctx.truncated or (spec.max_seconds is not None and train_seconds > spec.max_seconds)
    samples_seen = ctx.samples_seen or len(train)

    artifacts = Path(spec.artifacts_root) / f"run-{run_id}"
    state_saved = checkpoint.save(stainer, artifacts, spec)
    n_params = stainer.parameter_count()

    # --- predict -----------------------------------------------------------------------------
    groups: dict[tuple, list] = defaultdict(list)
    for s in test:
        groups[tuple(s.input.shape)].append(s)
    outputs: dict[str, object] = {}
    per_tile_ms: list[float] = []
    predict_seconds = 0.0
    s_ = dataset.scale
    with reporter.task(f"predict {spec.label}", total=len(test)) as advance, torch.inference_mode():
        done = 0
        for shape, samples in groups.items():
            for i in range(0, len(samples), spec.batch_size):
                batch = samples[i:i + spec.batch_size]
                x = torch.stack([b.input for b in batch]).to(device)
                t0 = time.perf_counter()
                try:
                    out = stainer.predict(x)
                    if device.startswith("cuda"):
                        torch.cuda.synchronize()
                except (KeyboardInterrupt, VbenchError):
                    raise
                except Exception as exc:
                    raise StainerFailure(
                        f"stainer {spec.stainer!r} raised in predict: {type(exc).__name__}: {exc}") from exc
                dt = time.perf_counter() - t0
                predict_seconds += dt
                per_tile_ms.extend([dt * 1000.0 / len(batch)] * len(batch))
                expected = (len(batch), 3, shape[1] * s_, shape[2] * s_)
                out = check_output(out, expected, [b.id for b in batch], spec.stainer)
                for b, o in zip(batch, out):
                    outputs[b.id] = o
                done += len(batch)
                advance(done)

    # --- score -------------------------------------------------------------------------------
    scores: list[tuple[str, str, float | None]] = []
    summaries: list[dict] = []
    metric_names = spec.metrics or default_metrics(plugins, dataset.pairing)
    with reporter.task(f"score {spec.label}", total=len(metric_names)) as advance:
        for k, name in enumerate(metric_names):
            metric = plugins.metrics.get(name)
            row = {"metric": name, "higher_is_better": bool(metric.higher_is_better), "pipeline": metric.pipeline}
            missing_ref = metric.needs_reference and any(s.reference is None for s in test)
            if missing_ref:
                summaries.append(dict(row, status="not computed", n=0, reason=(
                    f"{name} is full-reference and dataset {spec.dataset!r} ({dataset.pairing}) has no "
                    f"aligned reference for its test tiles")))
                advance(k + 1)
                continue
            try:
                metric.setup(dataset)
                values = score_metric(metric, test, outputs, spec.batch_size)
            except MetricNotApplicable as exc:  # e.g. a missing asset: recorded, never fatal
                summaries.append(dict(row, status="not computed", n=0, reason=str(exc)))
                advance(k + 1)
                continue
            scores.extend((name, tid, v) for tid, v in values.items())
            summaries.append(dict(row, status="computed", reason=None, **summarize(values.values(), seed=spec.seed)))
            advance(k + 1)

    peak_mb = None
    if isolated:  # ru_maxrss is the lifetime maximum of this process, which only ran this run
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        if sys.platform == "darwin":
            peak_mb /= 1024.0
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20  # device memory matters more there

    ms = np.asarray(per_tile_ms)
    fields = dict(
        train_seconds=train_seconds,
        train_steps=ctx.steps_done,
        train_samples_per_s=samples_seen / train_seconds if train_seconds > 0 else None,
        infer_ms_p50=float(np.percentile(ms, 50)),
        infer_ms_p95=float(np.percentile(ms, 95)),
        tiles_per_s=len(test) / predict_seconds if predict_seconds > 0 else None,
        peak_mem_mb=peak_mb,
        n_params=n_params,
        n_test_tiles=len(test),
        truncated=bool(truncated),
        artifacts=str(artifacts) if state_saved else None,
    )
    store.finish_run(run_id, scores, summaries, **fields)
    return fields


def score_metric(metric, test, outputs, batch_size: int) -> dict[str, float | None]:
    import torch

    groups: dict[tuple, list] = defaultdict(list)
    for s in test:
        groups[tuple(outputs[s.id].shape)].append(s)
    values: dict[str, float | None] = {}
    with torch.inference_mode():
        for samples in groups.values():
            for i in range(0, len(samples), batch_size):
                batch = samples[i:i + batch_size]
                pred = torch.stack([outputs[b.id] for b in batch])
                ref = torch.stack([b.reference for b in batch]).float() if metric.needs_reference else None
                res = torch.as_tensor(metric.compute(pred, ref)).reshape(-1).double().tolist()
                for b, v in zip(batch, res):
                    values[b.id] = v
    return values


def default_metrics(plugins: Plugins, pairing: str) -> list[str]:
    return [e.name for e in plugins.metrics.entries() if pairing in getattr(plugins.metrics.get(e.name), "default_for", ())]


def failure_text(exc: BaseException) -> str:
    """The stored error: the one-line reason first, then the traceback."""
    head = str(exc) if isinstance(exc, (StainerFailure, VbenchError)) else f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ if isinstance(exc, StainerFailure) and exc.__cause__ else exc
    tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    return f"{head}\n\n{tb}"


def params_json(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)
