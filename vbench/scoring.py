"""The scoring engine: sets of (prediction, reference) images scored with a list of metrics, giving
per-image values plus a summary per metric (mean, std, bootstrap 95% CI).

Runs (``vbench run``), ``vbench score`` (folders or a dataset split, stored or not) and the
benchmarks all score through :func:`score`, so a metric is applied the same way everywhere:
``setup(dataset)`` once, then ``compute`` per batch of equal-shape images, or ``compute_set`` once
for distribution metrics. A NaN score is stored as undefined (None).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import MetricNotApplicable
from .metric import DISTRIBUTION, FULL_REFERENCE, full_reference_problem
from .stats import summarize


@dataclass
class Item:
    """One test image: its id, and loaders of its prediction, its reference (the aligned stain that
    full-reference metrics compare with) and its target (the real stain distribution metrics see),
    each 3 x H x W in [0, 1]. ``shape`` groups images into equal-shape batches."""

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

    def scores(self) -> list[tuple[str, str, float | None]]:
        """(metric, image id, value) rows, as the store takes them."""
        return [(m, i, v) for m, vals in self.values.items() for i, v in vals.items()]


def default_metrics(registry, pairing: str, has_reference: bool = True, has_targets: bool = True) -> list[str]:
    """The default metric set: every registered metric that declares ``pairing`` in its
    ``default_for``, less the full-reference ones when there is no aligned reference to compare
    with and the distribution ones when there are no real stained targets either."""
    names = []
    for entry in registry.entries():
        metric = registry.get(entry.name)
        if pairing not in getattr(metric, "default_for", ()):
            continue
        if (metric.kind == FULL_REFERENCE and not has_reference) or (metric.kind == DISTRIBUTION and not has_targets):
            continue
        names.append(entry.name)
    return names


def items_from_samples(samples, outputs: dict) -> list[Item]:
    """Items of a dataset split whose predictions ``outputs`` (tile id -> tensor) are in memory."""
    return [
        Item(
            s.id,
            (lambda o=outputs[s.id]: o),
            reference=(lambda r=s.reference: r.float()) if s.reference is not None else None,
            target=(lambda t=s.target: t.float()) if s.target is not None else None,
            shape=tuple(outputs[s.id].shape),
        )
        for s in samples
    ]


def score(
    metrics: list[tuple[str, object]],
    items: list[Item],
    dataset=None,
    explicit: bool = False,
    batch_size: int = 16,
    seed: int = 0,
    on_metric: Callable[[str], None] = lambda name: None,
) -> Result:
    """Scores ``items`` with each (name, metric). ``dataset``: the dataset the items come from (its
    metrics' ``setup`` sees it, and unpaired targets are never used as references). ``explicit``:
    the metrics were asked for by name, so one that cannot be computed is an error; otherwise (a
    default set) it is recorded as not computed with the reason."""
    result = Result(ids=[it.id for it in items])
    for name, metric in metrics:
        on_metric(name)
        row = {"metric": name, "higher_is_better": bool(metric.higher_is_better), "pipeline": metric.pipeline}
        try:
            problem = _reference_problem(name, metric, items, dataset)
            if problem:
                raise MetricNotApplicable(problem)
            if dataset is not None:
                metric.setup(dataset)
            if metric.kind == DISTRIBUTION:
                value = metric.compute_set(_one_by_one(items, "pred"), _one_by_one(items, "target"))
                result.summaries.append(
                    dict(
                        row,
                        status="computed",
                        reason=None,
                        n=len(items),
                        mean=float(value),
                        std=None,
                        ci_low=None,
                        ci_high=None,
                    )
                )
                continue
            values = _per_image(metric, items, batch_size)
        except MetricNotApplicable as exc:
            if explicit:
                raise
            result.summaries.append(
                dict(row, status="not computed", reason=str(exc), n=0, mean=None, std=None, ci_low=None, ci_high=None)
            )
            continue
        result.values[name] = values
        result.summaries.append(dict(row, status="computed", reason=None, **summarize(values.values(), seed=seed)))
    return result


def _reference_problem(name: str, metric, items: list[Item], dataset) -> str | None:
    if metric.kind == FULL_REFERENCE:
        # Unpaired targets are unrelated tiles: never a reference, whatever the metric says.
        problem = full_reference_problem(name, dataset)
        if problem is None and any(_compared_with(metric, it) is None for it in items):
            problem = (
                f"{name} is full-reference and there are no reference images to compare with: pass "
                f"a target folder, or --dataset with a paired dataset"
            )
        return problem
    if metric.kind == DISTRIBUTION and any(it.target is None for it in items):
        return f"{name} compares predictions with real targets, and none were given"
    return None


def _per_image(metric, items: list[Item], batch_size: int) -> dict[str, float | None]:
    import torch

    values: dict[str, float | None] = {}
    with torch.inference_mode():
        for batch in batches(items, batch_size, key=lambda it: it.shape):
            pred = torch.stack([it.pred() for it in batch])
            ref = torch.stack([_compared_with(metric, it)() for it in batch]) if metric.kind == FULL_REFERENCE else None
            out = torch.as_tensor(metric.compute(pred, ref)).reshape(-1).double().tolist()
            values.update({it.id: (None if math.isnan(v) else v) for it, v in zip(batch, out)})
    return values


def _compared_with(metric, item: Item) -> Callable | None:
    """The loader of the image a full-reference metric compares ``item``'s prediction with."""
    return item.target if getattr(metric, "against", "reference") == "target" else item.reference


def batches(things: Iterable, size: int, key: Callable) -> Iterable[list]:
    """Batches of at most ``size`` things with equal ``key`` (tensor shape), in first-seen order."""
    groups: dict[tuple, list] = defaultdict(list)
    for t in things:
        groups[key(t)].append(t)
    for group in groups.values():
        for i in range(0, len(group), size):
            yield group[i : i + size]


def _one_by_one(items: list[Item], attr: str):
    """One-image batches: predictions and (unpaired) targets may all differ in size."""
    for it in items:
        yield getattr(it, attr)()[None]
