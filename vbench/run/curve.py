"""Anytime validation curves: while a stainer trains, the runner scores its predictions on a fixed
subset of validation tiles at checkpoints spaced geometrically through the step budget (1/128, ...,
1/2 and 1 of it, and wherever training stops). The test split is never seen during training.

A stainer takes part by calling ``ctx.step()`` once per training step (see docs/plugins.md); one
that never calls it has no curve. The evaluation runs under forked random number generators and
restores every module's train/eval mode, so a run trains the same with and without its curve.
"""

from __future__ import annotations

import logging
import math
import random
import time

from ..metric import FULL_REFERENCE, NO_REFERENCE
from ..scoring import batches, items_from_samples, score
from .output_checks import check_output

log = logging.getLogger("vbench.run")

POINTS = 8  # checkpoints 1/2^7 ... 1 of the step budget


def checkpoint_steps(budget: int | None, points: int = POINTS) -> frozenset[int]:
    """The steps the curve is evaluated at: ``budget / 2^k`` for k < ``points``, at least step 1."""
    if not budget:
        return frozenset()
    return frozenset(max(1, round(budget / 2**k)) for k in range(points))


def curve_metric_names(registry, pairing: str, has_reference: bool) -> list[str]:
    """The cheap metrics a pairing's curve uses: the registered metrics that declare ``pairing`` in
    ``curve_for``; full-reference ones where they can be computed (a metric against the aligned truth
    needs one), else the no-reference ones."""
    usable = []
    for entry in registry.entries():
        metric = registry.get(entry.name)
        if pairing not in getattr(metric, "curve_for", ()):
            continue
        if metric.kind == FULL_REFERENCE and getattr(metric, "against", "reference") == "reference":
            if not has_reference:
                continue
        usable.append((entry.name, metric.kind))
    if any(kind == FULL_REFERENCE for _, kind in usable):
        return [name for name, kind in usable if kind == FULL_REFERENCE]
    return [name for name, kind in usable if kind == NO_REFERENCE]


def val_subset(val, n: int, crop: int = 0, scale: int = 1) -> list:
    """``n`` validation tiles spread evenly over the split (the same ones at every checkpoint);
    with ``crop``, their centre ``crop`` x ``crop`` input pixels (and the matching target area)."""
    val = list(val)
    if n <= 0 or not val:
        return []
    if len(val) > n:
        val = [val[(i * len(val)) // n] for i in range(n)]
    return [centre_crop(s, crop, scale) for s in val] if crop else val


def centre_crop(sample, crop: int, scale: int):
    """``sample`` cut to its centre ``crop`` input pixels (a tile smaller than that stays whole)."""
    from dataclasses import replace

    _, h, w = sample.input.shape
    if h <= crop and w <= crop:
        return sample
    ch, cw = min(crop, h), min(crop, w)
    top, left = (h - ch) // 2, (w - cw) // 2

    def cut(image, k):
        return None if image is None else image[:, top * k : (top + ch) * k, left * k : (left + cw) * k]

    return replace(sample, input=cut(sample.input, 1), target=cut(sample.target, scale), truth=cut(sample.truth, scale))


class AnytimeCurve:
    """The runner's ``ctx.on_checkpoint``: scores the stainer on ``tiles`` with ``metrics``
    ((name, metric) pairs) and keeps one point per call. :meth:`rows` gives the stored form."""

    def __init__(self, spec, stainer, ctx, tiles, metrics, dataset):
        self.spec, self.stainer, self.ctx, self.tiles = spec, stainer, ctx, tiles
        self.metrics, self.dataset = metrics, dataset
        self.points: list[dict] = []
        self.seconds = 0.0

    def __call__(self, step: int) -> None:
        if any(p["step"] == step for p in self.points):
            return
        started = time.perf_counter()
        point = dict(step=step, train_seconds=self.ctx.elapsed, stages=self.ctx.flops.snapshot())
        try:
            point["values"] = self._evaluate(step)
        finally:
            self.seconds += time.perf_counter() - started
        self.points.append(point)

    def _evaluate(self, step: int) -> dict:
        import torch

        modes = [(m, m.training) for m in _modules(self.stainer)]
        devices = [torch.device(self.spec.device).index or 0] if self.spec.device.startswith("cuda") else []
        py_state, np_state = random.getstate(), _numpy_state()
        try:
            with torch.random.fork_rng(devices=devices), torch.no_grad(), self.ctx.autocast():
                outputs = self._predict()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a model that cannot predict yet: the point says why
            reason = f"predict raised at step {step}: {type(exc).__name__}: {exc}"
            log.warning("anytime curve of %s: %s", self.spec.label, reason)
            return {name: dict(value=None, n=0, status="not computed", reason=reason) for name, _ in self.metrics}
        finally:
            random.setstate(py_state)
            _restore_numpy(np_state)
            for module, training in modes:
                module.train(training)
        items = items_from_samples(self.tiles, outputs)
        result = score(self.metrics, items, dataset=self.dataset, explicit=False, batch_size=self.spec.batch_size)
        values = {}
        for s in result.summaries:
            value = s.get("mean")
            if s.get("status") == "computed" and value is not None and math.isfinite(value):
                values[s["metric"]] = dict(value=float(value), n=int(s.get("n") or 0), status="computed", reason=None)
            else:
                reason = s.get("reason") or f"not a finite number at step {step} ({value})"
                values[s["metric"]] = dict(value=None, n=int(s.get("n") or 0), status="not computed", reason=reason)
        return values

    def _predict(self) -> dict:
        import torch

        outputs, s = {}, self.ctx.scale
        for batch in batches(self.tiles, self.spec.batch_size, key=lambda b: tuple(b.input.shape)):
            x = torch.stack([b.input for b in batch]).to(self.spec.device)
            out = self.stainer.predict(x)
            _, _, h, w = x.shape
            out = check_output(out, (len(batch), 3, h * s, w * s), [b.id for b in batch], self.spec.stainer)
            outputs.update({b.id: o.float().cpu() for b, o in zip(batch, out)})
        return outputs

    def rows(self) -> list[dict]:
        """One stored row per point and metric: (step, train_seconds, train_flops, metric, value,
        n, status, reason), steps ascending. FLOPs are filled in now that every stage's step cost
        is known."""
        rows = []
        for point in sorted(self.points, key=lambda p: p["step"]):
            flops = self.ctx.flops.total(point["stages"])
            for metric, v in point["values"].items():
                rows.append(
                    dict(
                        step=point["step"], train_seconds=point["train_seconds"], train_flops=flops, metric=metric, **v
                    )
                )
        return rows


def _modules(stainer):
    import torch

    for value in vars(stainer).values():
        if isinstance(value, torch.nn.Module):
            yield from value.modules()


def _numpy_state():
    import numpy as np

    return np.random.get_state()


def _restore_numpy(state) -> None:
    import numpy as np

    np.random.set_state(state)
