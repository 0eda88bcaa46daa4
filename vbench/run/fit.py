"""Training one run's stainer under its budget, or reusing the model a completed run trained: the
step budget, the training FLOPs (:mod:`vbench.compute`) and the anytime validation curve
(:mod:`vbench.run.curve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VbenchError
from ..plugins import Plugins
from ..store import Store
from . import checkpoint, faults
from .curve import AnytimeCurve, checkpoint_steps, curve_metric_names, val_subset
from .spec import RunSpec


class StainerFailure(Exception):
    """A stainer's own code raised; the message names the phase."""


def call_stainer(spec: RunSpec, phase: str, fn, *args):
    """Calls a stainer method; its exceptions become :class:`StainerFailure` naming ``phase``."""
    try:
        return fn(*args)
    except (KeyboardInterrupt, VbenchError):
        raise
    except Exception as exc:
        if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError: this run fails alone
            raise StainerFailure(out_of_memory(spec, phase)) from exc
        raise StainerFailure(f"stainer {spec.stainer!r} raised in {phase}: {type(exc).__name__}: {exc}") from exc


def out_of_memory(spec: RunSpec, phase: str) -> str:
    batch = {k: v for k, v in spec.params.items() if k in ("batch", "batch_size")}
    named = ", ".join(f"{k}={v}" for k, v in batch.items()) or "its batch"
    fix = f"--set {next(iter(batch))}=SMALLER" if batch else "a smaller batch in --set"
    if phase == "fit":
        hint = f"train with a smaller batch ({fix})"
    else:
        hint = f"predict fewer tiles at once (--batch-size, now {spec.batch_size})"
    return (
        f"stainer {spec.stainer!r} ran out of {spec.device} memory in {phase} (preset {spec.preset_label}, "
        f"{named}, {spec.precision}): {hint}, or use --precision bf16"
    )


@dataclass
class Trained:
    """A completed run whose checkpoint an evaluation variant reuses (looked up by the driver: a
    run's worker may have no database)."""

    id: int
    artifacts: str
    train_seconds: float | None = None
    train_steps: int | None = None
    train_samples_per_s: float | None = None
    truncated: bool | None = None
    train_flops: float | None = None
    curve: list[dict] = field(default_factory=list)


def trained_model(store: Store, spec: RunSpec, plugins: Plugins) -> Trained | None:
    """The trained run an evaluation-variant stainer or a whole-image evaluation reuses for
    ``spec``, if one completed."""
    if not plugins.stainers.get(spec.stainer).variants and spec.evaluation == "tiles":  # spec.variants imply these
        return None
    manifest = plugins.datasets.get(spec.dataset).manifest_hash
    source = store.trained_run(spec.train_key(manifest))
    if source is None:
        return None
    return Trained(
        source.id,
        source.artifacts,
        source.train_seconds,
        source.train_steps,
        source.train_samples_per_s,
        source.truncated,
        source.train_flops,
        store.curve_rows(source.id),
    )


@dataclass
class Fitted:
    """The run fields training produced, and the curve's stored rows."""

    fields: dict
    curve: list[dict] = field(default_factory=list)


def fit_or_reuse(source, spec, plugins, dataset, stainer, ctx, train, reporter, artifacts, run_id=None) -> Fitted:
    """Fits the stainer or, for a stainer with evaluation variants (plain or not), loads the model a
    completed run trained: sampling strategies never retrain. The run's own folder keeps its
    sample grid; ``trained_by`` points at the checkpoint (and the curve is the trained run's)."""
    train_key = spec.train_key(dataset.manifest_hash)
    if source is not None and (Path(source.artifacts) / checkpoint.WEIGHTS).exists():
        checkpoint.load(stainer, Path(source.artifacts), device=spec.device)
        fields = dict(
            train_key=train_key,
            trained_by=source.id,
            artifacts=str(artifacts),
            train_seconds=source.train_seconds,
            train_steps=source.train_steps,
            train_samples_per_s=source.train_samples_per_s,
            truncated=source.truncated,
            train_flops=source.train_flops,
        )
        return Fitted(fields, list(source.curve))

    curve = anytime_curve(spec, plugins, dataset, stainer, ctx)
    with reporter.task(f"fit {spec.label}", total=ctx.budget.steps) as advance:

        def on_progress(done, total, logs):
            advance(done)
            faults.check("fit", run_id)  # VBENCH_FAULT (tests): die after a training step

        ctx.on_progress = on_progress
        if curve is not None:
            ctx.on_checkpoint, ctx.checkpoints = curve, checkpoint_steps(ctx.budget.steps)
        ctx.start_clock()
        try:
            call_stainer(spec, "fit", stainer.fit, train, ctx)
            if spec.device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()  # the clock reads finished work, not queued kernels
        finally:
            ctx.end_training()
        train_seconds = ctx.elapsed
        ctx.on_checkpoint = None
    if curve is not None and ctx.steps_done and not any(p["step"] == ctx.steps_done for p in curve.points):
        curve(ctx.steps_done)  # a stainer that stopped on its own: the end point is its final model
    checkpoint.save(stainer, artifacts, spec)
    fields = dict(
        train_key=train_key,
        artifacts=str(artifacts),
        train_seconds=train_seconds,
        train_steps=ctx.steps_done,
        train_samples_per_s=(ctx.samples_seen or len(train)) / train_seconds if train_seconds > 0 else None,
        truncated=bool(ctx.truncated or (spec.max_seconds is not None and train_seconds > spec.max_seconds)),
        train_flops=ctx.train_flops,
        curve_seconds=curve.seconds if curve is not None else None,
    )
    return Fitted(fields, curve.rows() if curve is not None else [])


def anytime_curve(spec, plugins, dataset, stainer, ctx) -> AnytimeCurve | None:
    """The run's curve evaluator, or None: switched off (``--no-curve``), a stainer without a step
    budget (it does not train), no validation tiles, or no curve metric for the dataset's pairing."""
    if not spec.curve or not ctx.budget.steps:
        return None
    tiles = val_subset(
        ctx.val, int(getattr(stainer, "curve_tiles", 8)), int(getattr(stainer, "curve_crop", 0)), ctx.scale
    )
    if not tiles:
        return None
    # unpaired targets show other tissue: only an aligned truth is a reference there
    truth = all((t.truth if dataset.pairing == "unpaired" else t.reference) is not None for t in tiles)
    names = curve_metric_names(plugins.metrics, dataset.pairing, truth)
    if not names:
        return None
    return AnytimeCurve(spec, stainer, ctx, tiles, [(n, plugins.metrics.get(n)) for n in names], dataset)
