"""Scores sets of (prediction, reference) images with a list of metrics: per-image values plus a
summary per metric (mean, std, bootstrap 95% CI). Used by ``vbench score``; the runner's own
scoring loop calls metrics the same way (setup once, then ``compute`` per batch of equal shapes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from ..errors import MetricNotApplicable
from ..metric import FULL_REFERENCE
from ..stats import summarize
from .base import DISTRIBUTION, full_reference_problem


@dataclass
class Item:
    """One test image: its id, and loaders of its prediction and reference / target (3 x H x W)."""

    id: str
    pred: Callable
    reference: Callable | None = None
    target: Callable | None = None
    shape: tuple = ()


@dataclass
class Result:
    ids: list[str]
    values: dict[str, dict[str, float | None]] = field(default_factory=dict)  # metric -> id -> value
    summaries: list[dict] = field(default_factory=list)  # one per metric, as stored with runs

    def rows(self) -> list[dict]:
        return [{"image": i, **{m: v.get(i) for m, v in self.values.items()}} for i in self.ids]


def score(metrics: list[tuple[str, object]], items: list[Item], dataset=None, explicit: bool = False,
          batch_size: int = 16, seed: int = 0, on_metric=lambda name: None) -> Result:
    """``explicit``: metrics were asked for by name, so one that cannot be computed is an error;
    otherwise (a default set) it is recorded as not computed with the reason."""
    import torch

    result = Result(ids=[it.id for it in items])
    for name, metric in metrics:
        on_metric(name)
        row = {"metric": name, "higher_is_better": bool(metric.higher_is_better), "pipeline": metric.pipeline}
        try:
            if metric.kind == FULL_REFERENCE:
                problem = full_reference_problem(name, dataset) if dataset is not None else None
                if problem is None and any(it.reference is None for it in items):
                    problem = (f"{name} is full-reference and there are no reference images to compare with: pass "
                               f"a target folder, or --dataset with a paired dataset")
                if problem:
                    raise MetricNotApplicable(problem)
            if dataset is not None:
                metric.setup(dataset)
            if metric.kind == DISTRIBUTION or not getattr(metric, "per_tile", True):
                if any(it.target is None for it in items):
                    raise MetricNotApplicable(f"{name} compares predictions with real targets, and none were given")
                value = metric.compute_set(_batches(items, "pred", batch_size), _batches(items, "target", batch_size))
                result.summaries.append(dict(row, status="computed", reason=None, n=len(items), mean=float(value),
                                             std=None, ci_low=None, ci_high=None))
                continue
            values: dict[str, float | None] = {}
            with torch.inference_mode():
                for group in _by_shape(items):
                    for i in range(0, len(group), batch_size):
                        batch = group[i:i + batch_size]
                        pred = torch.stack([it.pred() for it in batch])
                        ref = torch.stack([it.reference() for it in batch]) if metric.kind == FULL_REFERENCE else None
                        out = torch.as_tensor(metric.compute(pred, ref)).reshape(-1).double().tolist()
                        values.update({it.id: (v if v == v else None) for it, v in zip(batch, out)})
        except MetricNotApplicable as exc:
            if explicit:
                raise
            result.summaries.append(dict(row, status="not computed", reason=str(exc), n=0, mean=None, std=None,
                                         ci_low=None, ci_high=None))
            continue
        result.values[name] = values
        result.summaries.append(dict(row, status="computed", reason=None, **summarize(values.values(), seed=seed)))
    return result


def _by_shape(items: list[Item]) -> list[list[Item]]:
    groups: dict[tuple, list[Item]] = defaultdict(list)
    for it in items:
        groups[it.shape].append(it)
    return list(groups.values())


def _batches(items: list[Item], attr: str, batch_size: int):
    """One-image batches: predictions and (unpaired) targets may all differ in size."""
    for it in items:
        yield getattr(it, attr)()[None]
