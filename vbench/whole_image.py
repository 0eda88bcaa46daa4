"""Whole-image evaluation: a trained stainer stains one whole region through ``vbench predict``'s
tiled, blended path (:func:`vbench.predict.blend_rows`), and the region is scored whole. Both
stream: the output is kept as 8-bit (what a PNG of it holds, so scoring the written file gives the
same numbers), one tile row of blending at a time, and metrics see row bands or blocks, so memory
stays bounded whatever the region's size.

How to call it::

    from vbench.dataset import whole_regions
    from vbench.whole_image import evaluate_region, summarize_regions

    metrics = [(n, plugins.metrics.get(n)) for n in ("psnr", "ssim", "seam", "stain-drift")]
    results = [
        evaluate_region(stainer, region, metrics, scale=ds.scale, tile=256, overlap=32, blend="hann", dataset=ds)
        for region in whole_regions(ds)
    ]
    results[0].values        # {"psnr": 23.4, "ssim": 0.81, "seam": 1.01, "stain-drift": 1.07}
    results[0].params()      # {"tile": 256, "overlap": 32, "blend": "hann"}: what makes two settings two rows
    summarize_regions(results)  # one summary row per metric over the regions, as the scoring engine writes

``tile`` and ``overlap`` are input pixels (as ``vbench predict --tile/--overlap``); the grid the
metrics see is the same in output pixels (times ``scale``). Whole-image metrics
(:class:`vbench.metric.WholeImageMetric`: ``seam``, ``stain-drift``) stream over row bands of
``BAND`` rows; other per-image metrics score the region in one piece when both sides are at most
``block`` px (1024 by default), else in near-equal blocks of at most ``block`` px whose scores are averaged
(weighted by pixels; the summary's pipeline says so). Distribution metrics are not computed on a
region.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import WholeRegion
from .errors import ConfigError, MetricNotApplicable
from .metric import DISTRIBUTION, FULL_REFERENCE, TileGrid, WholeImageMetric

BAND = 128  # rows per band whole-image metrics see (a multiple of the seam metric's runs)
BLOCK = 1024  # px: the largest side other metrics see at once (SSIM of a block this size: ~170 MB)


@dataclass
class RegionResult:
    """One region's evaluation. ``output``: the stained region, 3 x H x W uint8 (a memory-mapped
    ``.npy`` file when ``out`` was given). ``values``: metric -> score (None: undefined or not
    computed); ``summaries``: one row per metric in the scoring engine's form (n = 1)."""

    region: str
    height: int
    width: int
    tile: int
    overlap: int
    blend: str
    scale: int
    output: object
    values: dict[str, float | None] = field(default_factory=dict)
    summaries: list[dict] = field(default_factory=list)
    predict_seconds: float = 0.0
    score_seconds: float = 0.0

    @property
    def grid(self) -> TileGrid:
        return TileGrid(self.tile * self.scale, self.overlap * self.scale)

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    def params(self) -> dict:
        return {"tile": self.tile, "overlap": self.overlap, "blend": self.blend}


def check_region(region: WholeRegion, scale: int, in_channels: int | None = None, where: str = "") -> tuple:
    """The region's input shape, after checking that its input, target and truth fit ``scale``
    (a one-line ConfigError naming the region otherwise)."""
    name = f"{where}region {region.id!r}" if where else f"region {region.id!r}"
    inp = region.read_input()
    c, h, w = inp.shape
    if (h * scale, w * scale) != (region.height, region.width):
        raise ConfigError(
            f"{name}: its input is {w} x {h} px, so with scale {scale} its output is {w * scale} x {h * scale} px, "
            f"but the region declares {region.width} x {region.height} px (width x height); fix the region's size "
            f"or the dataset's scale"
        )
    if in_channels is not None and c != in_channels:
        raise ConfigError(f"{name}: its input has {c} channel(s), but the stainer takes {in_channels}")
    for role, read in (("target", region.read_target), ("truth", region.read_truth)):
        if read is not None and tuple(read().shape[-2:]) != (region.height, region.width):
            shape = tuple(read().shape[-2:])
            raise ConfigError(
                f"{name}: its {role} is {shape[1]} x {shape[0]} px but the region is {region.width} x "
                f"{region.height} px (width x height: scale {scale} x the input); crop the {role} to the region"
            )
    return inp


def stain_region(
    stainer,
    image,
    *,
    scale: int,
    tile: int,
    overlap: int,
    blend: str = "hann",
    batch_size: int = 4,
    out: str | Path | None = None,
    label: str = "stain",
    reporter=None,
):
    """Stains a C x h x w image (tensor or array) into a 3 x h*scale x w*scale uint8 array, tile
    row by tile row (``out``: a ``.npy`` file to map it to instead of memory)."""
    import numpy as np

    from .predict import blend_rows

    _, h, w = image.shape
    shape = (3, h * scale, w * scale)
    if out:
        output = np.lib.format.open_memmap(out, mode="w+", dtype=np.uint8, shape=shape)
    else:
        output = np.empty(shape, np.uint8)
    ctx = getattr(stainer, "ctx", None)
    rows = blend_rows(
        stainer.predict,
        image,
        scale=scale,
        tile=tile,
        overlap=overlap,
        blend=blend,
        batch_size=batch_size,
        device=getattr(ctx, "device", "cpu") or "cpu",
        autocast=getattr(ctx, "autocast", contextlib.nullcontext),
        name=getattr(stainer, "name", "") or type(stainer).__name__,
        reporter=reporter,
        label=label,
    )
    for y, band in rows:
        # as write_png quantises, so the array is what a PNG of the output holds
        output[:, y : y + band.shape[1]] = (band.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    return output


def evaluate_region(
    stainer,
    region: WholeRegion,
    metrics: list[tuple[str, object]],
    *,
    scale: int,
    tile: int,
    overlap: int,
    blend: str = "hann",
    batch_size: int = 4,
    dataset=None,
    explicit: bool = False,
    block: int = BLOCK,
    out: str | Path | None = None,
    seed: int | None = None,
    reporter=None,
) -> RegionResult:
    """Stains ``region`` with a fitted ``stainer`` (its ``predict``; ``scale`` output/input) on
    tiles of ``tile`` input px overlapping by ``overlap``, blended by ``blend`` (``hann``, ``mean``
    or ``none``), and scores the output whole with each (name, metric). ``dataset``: what the
    metrics' ``setup`` sees. ``explicit``: a metric that cannot be computed is an error (else it is
    recorded as not computed with the reason). ``seed``: seeds everything first (stochastic
    stainers)."""
    from .predict import check_tiling

    check_tiling(tile, overlap, blend)
    in_channels = getattr(getattr(stainer, "ctx", None), "in_channels", None)
    where = f"dataset {dataset.name!r}: " if dataset is not None else ""
    image = check_region(region, scale, in_channels, where)
    if seed is not None:
        from .seeding import seed_everything

        seed_everything(seed)
    t0 = time.perf_counter()
    output = stain_region(
        stainer,
        image,
        scale=scale,
        tile=tile,
        overlap=overlap,
        blend=blend,
        batch_size=batch_size,
        out=out,
        label=f"stain {region.id}",
        reporter=reporter,
    )
    del image
    t1 = time.perf_counter()
    result = RegionResult(region.id, region.height, region.width, tile, overlap, blend, scale, output)
    reference = region.read_reference() if region.read_reference is not None else None
    result.values, result.summaries = score_whole(
        metrics, output, reference, grid=result.grid, dataset=dataset, explicit=explicit, block=block
    )
    result.predict_seconds, result.score_seconds = t1 - t0, time.perf_counter() - t1
    return result


def score_whole(
    metrics: list[tuple[str, object]],
    pred,
    reference=None,
    *,
    grid: TileGrid | None = None,
    dataset=None,
    explicit: bool = False,
    block: int = BLOCK,
) -> tuple[dict[str, float | None], list[dict]]:
    """Scores one whole image (``pred`` and ``reference``: 3 x H x W arrays or tensors, integers
    scaled by their largest value or floats in [0, 1]) with each (name, metric), streaming; returns
    (values, summary rows)."""
    if reference is not None and tuple(reference.shape[-2:]) != tuple(pred.shape[-2:]):
        raise ConfigError(
            f"the prediction is {pred.shape[-1]} x {pred.shape[-2]} px but its reference is "
            f"{reference.shape[-1]} x {reference.shape[-2]} px (width x height); they must be the same size"
        )
    values: dict[str, float | None] = {}
    summaries = []
    streamed = []
    for name, metric in metrics:
        row = {"metric": name, "higher_is_better": bool(metric.higher_is_better), "pipeline": metric.pipeline}
        try:
            if isinstance(metric, WholeImageMetric):
                metric = metric.with_grid(grid)
            problem = _problem(name, metric, reference)
            if problem:
                raise MetricNotApplicable(problem)
            if dataset is not None:
                metric.setup(dataset)
            if isinstance(metric, WholeImageMetric):
                metric.check_grid()
                streamed.append((name, metric, row))
                continue
            value, pieces = _in_blocks(metric, pred, reference, block)
            if pieces > 1:
                row["pipeline"] += f"; scored in {pieces} blocks of at most {block} px, mean weighted by pixels"
        except MetricNotApplicable as exc:
            if explicit:
                raise
            values[name] = None
            summaries.append(_row(row, None, str(exc)))
            continue
        values[name] = value
        summaries.append(_row(row, value))
    for name, value, reason in _streamed(streamed, pred, reference, explicit):
        row = next(r for n, _, r in streamed if n == name)
        values[name] = value
        summaries.append(_row(row, value, reason))
    order = [name for name, _ in metrics]
    summaries.sort(key=lambda r: order.index(r["metric"]))
    return {n: values[n] for n in order}, summaries


def _problem(name: str, metric, reference) -> str | None:
    if metric.kind == DISTRIBUTION:
        return (
            f"{name} is a distribution metric: it compares the set of predicted tiles with the set of real "
            f"stained tiles, which a single whole region is not"
        )
    if metric.kind == FULL_REFERENCE and reference is None:
        return f"{name} is full-reference and the region has no aligned reference to compare with"
    return None


def _row(row: dict, value: float | None, reason: str | None = None) -> dict:
    if reason is not None:
        return dict(row, status="not computed", reason=reason, n=0, mean=None, std=None, ci_low=None, ci_high=None)
    return dict(row, status="computed", reason=None, n=1, mean=value, std=None, ci_low=None, ci_high=None)


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _cuts(length: int, block: int) -> list[tuple[int, int]]:
    """Near-equal pieces of at most ``block`` px along an axis (no thin remainder)."""
    k = max(1, math.ceil(length / block))
    edges = [round(i * length / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _in_blocks(metric, pred, reference, block: int) -> tuple[float | None, int]:
    import torch

    from .predict import as_float

    h, w = pred.shape[-2:]
    total, weight, pieces = 0.0, 0, 0
    with torch.inference_mode():
        for y0, y1 in _cuts(h, block):
            for x0, x1 in _cuts(w, block):
                p = as_float(pred[:, y0:y1, x0:x1])[None]
                r = None if metric.kind != FULL_REFERENCE else as_float(reference[:, y0:y1, x0:x1])[None]
                value = _clean(torch.as_tensor(metric.compute(p, r)).reshape(-1)[0])
                pieces += 1
                if value is not None:
                    total += value * (y1 - y0) * (x1 - x0)
                    weight += (y1 - y0) * (x1 - x0)
    return (total / weight if weight else None), pieces


def _streamed(streamed: list, pred, reference, explicit: bool):
    """(name, value, reason) of every whole-image metric, all fed the same row bands."""
    import torch

    from .predict import as_float

    if not streamed:
        return []
    h, w = pred.shape[-2:]
    states = {}
    for name, metric, _ in streamed:
        states[name] = metric.start(h, w)
    with torch.inference_mode():
        for y in range(0, h, BAND):
            p = as_float(pred[:, y : y + BAND])
            r = as_float(reference[:, y : y + BAND]) if reference is not None else None
            for name, metric, _ in streamed:
                metric.update(states[name], y, p, r if metric.kind == FULL_REFERENCE else None)
    out = []
    for name, metric, _ in streamed:
        try:
            out.append((name, _clean(metric.finish(states[name])), None))
        except MetricNotApplicable as exc:
            if explicit:
                raise
            out.append((name, None, str(exc)))
    return out


def summarize_regions(results: list[RegionResult], seed: int = 0) -> list[dict]:
    """One summary row per metric over several regions' results (mean, std, bootstrap CI of the
    per-region scores), as the scoring engine writes them; a metric no region computed keeps the
    first region's reason."""
    from .stats import summarize

    if not results:
        return []
    rows = []
    for first in results[0].summaries:
        name = first["metric"]
        scores = [r.values.get(name) for r in results]
        computed = [v for v in scores if v is not None]
        base = {k: first[k] for k in ("metric", "higher_is_better", "pipeline")}
        if not computed and first["status"] != "computed":
            rows.append(_row(base, None, first["reason"]))
        else:
            rows.append(dict(base, status="computed", reason=None, **summarize(scores, seed=seed)))
    return rows
