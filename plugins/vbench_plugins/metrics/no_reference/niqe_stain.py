"""The ``niqe-stain`` model: NIQE's multivariate Gaussian fitted on a dataset's real stains.

Standard NIQE measures the distance of an image's natural-scene statistics to those of ~125
pristine photographs (people, animals, landscapes). A good virtual stain is far from such photos
and close to real stained tissue, so ``niqe-stain`` keeps NIQE's features and distance but fits
the model on the targets of the dataset's *train* split (never the test split), so it measures
"looks like a real stain of this kind". Differences from standard NIQE:

* the model comes from the dataset's train targets, refitted whenever the split (manifest hash)
  changes and cached in ``$VBENCH_HOME/cache/niqe-stain/``;
* training tiles are usually smaller than NIQE's images, so tiles that carry their position
  (``meta`` ``source``/``x``/``y``) are stitched back into regions, and blocks of 96 px are taken
  every 32 px (overlapping) where the region and a 10 px margin are covered; tiles without a
  position are used one by one when they are at least 96 px;
* as in NIQE's training, each image keeps the blocks sharper than 0.75 x its sharpest block;
* when the train targets are scattered tiles smaller than 96 px (unpaired data), the model is
  fitted on the largest even block they hold (at least 48 px) and test tiles are scored with
  blocks of that size.

Scores of ``niqe`` and ``niqe-stain`` are not comparable with each other, nor ``niqe-stain`` across
datasets (each dataset has its own model).
"""

from __future__ import annotations

import logging
import numbers
from pathlib import Path

from vbench.errors import MetricNotApplicable
from vbench.home import cache_dir

log = logging.getLogger("vbench.metrics")
VERSION = 2  # bump when the fitting changes, so cached models are refitted
STRIDE = 32
MIN_PATCHES = 10
MIN_BLOCK = 48
_MEMORY: dict[str, object] = {}


def cache_path(dataset) -> Path:
    return cache_dir("niqe-stain") / f"{dataset.name}-{dataset.manifest_hash[:16]}-v{VERSION}.npz"


def model_for(dataset):
    """The fitted model for ``dataset`` (from memory, the cache file, or fitted now)."""
    import numpy as np

    from .niqe import NiqeModel

    key = f"{dataset.name}:{dataset.manifest_hash}:{VERSION}"
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_path(dataset)
    if path.is_file():
        with np.load(path) as z:
            model = NiqeModel(
                mu=z["mu"], cov=z["cov"], n_patches=int(z["n_patches"]), source=str(path), block=int(z["block"])
            )
    else:
        model = fit_dataset(dataset)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".partial.npz")
            np.savez(tmp, mu=model.mu, cov=model.cov, n_patches=model.n_patches, block=model.block)
            tmp.replace(path)
        except OSError as exc:  # a read-only home only costs a refit next time
            log.warning("could not cache the niqe-stain model in %s: %s", path, exc)
    _MEMORY[key] = model
    return model


def regions(samples):
    """(grey image, usable-pixel mask) per stitched source region, plus lone tiles, from train
    samples' targets (grey levels as NIQE computes them: MATLAB rgb2gray rounded to 8 bit)."""
    import torch

    from ..pairings import matlab_gray8

    placed, lone = {}, []
    for s in samples:
        if s.target is None:
            continue
        meta = s.meta or {}
        # unpaired datasets draw the target elsewhere (target_y/x); positions are in the units of
        # meta["size"] (the input tile's side), so a super-resolved target scales them up
        y, x = meta.get("target_y", meta.get("y")), meta.get("target_x", meta.get("x"))
        if isinstance(y, numbers.Integral) and isinstance(x, numbers.Integral):
            side = meta.get("size") or (s.input.shape[-1] if s.input is not None else s.target.shape[-1])
            f = s.target.shape[-1] / side
            if f != int(f):
                lone.append(s.target)
                continue
            placed.setdefault(str(meta.get("source", "")), []).append((int(y * f), int(x * f), s.target))
        else:
            lone.append(s.target)
    out = []
    for tiles in placed.values():
        h = max(y + t.shape[-2] for y, x, t in tiles)
        w = max(x + t.shape[-1] for y, x, t in tiles)
        y0 = min(y for y, x, t in tiles)
        x0 = min(x for y, x, t in tiles)
        canvas = torch.zeros(h - y0, w - x0, dtype=torch.float64)
        mask = torch.zeros(h - y0, w - x0, dtype=torch.bool)
        for y, x, t in tiles:
            g = matlab_gray8(t[None].float())[0]
            canvas[y - y0 : y - y0 + g.shape[0], x - x0 : x - x0 + g.shape[1]] = g
            mask[y - y0 : y - y0 + g.shape[0], x - x0 : x - x0 + g.shape[1]] = True
        out += _components(canvas, mask)
    for t in lone:
        g = matlab_gray8(t[None].float())[0]
        out.append((g, None))
    return out


def _components(canvas, mask):
    """Connected covered parts of a stitched canvas, each cropped to its bounding box; a part
    that fills its box is an ordinary image (mask None: NIQE's replicated borders apply)."""
    import torch
    from scipy import ndimage

    labels, _ = ndimage.label(mask.numpy())
    parts = []
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        sub = labels[box] == k
        g = canvas[box].clone()
        parts.append((g, None if sub.all() else torch.from_numpy(sub)))
    return parts


def fit_dataset(dataset):
    from . import niqe

    train = dataset.samples("train")
    parts = regions(train)
    if not parts:
        raise MetricNotApplicable(
            f"niqe-stain could not be fitted on dataset {dataset.name!r}: it has no train targets"
        )
    model = niqe.fit([g for g, _ in parts], [m for _, m in parts], stride=STRIDE)
    if model.n_patches < MIN_PATCHES:
        # Scattered small tiles (e.g. unpaired targets) hold no 96 px block: fit on the largest
        # even block they do hold (at least MIN_BLOCK); scoring then uses the same block size.
        side = max(min(g.shape) for g, _ in parts)
        block = min(niqe.BLOCK, side - side % 2)
        if block >= MIN_BLOCK and block < niqe.BLOCK:
            model = niqe.fit([g for g, _ in parts], [m for _, m in parts], stride=STRIDE, block=block)
    if model.n_patches < MIN_PATCHES:
        sizes = sorted({tuple(g.shape) for g, _ in parts})[:3]
        raise MetricNotApplicable(
            f"niqe-stain could not be fitted on dataset {dataset.name!r}: its train targets (regions of "
            f"{', '.join(f'{a} x {b}' for a, b in sizes)} px...) give only {model.n_patches} sharp blocks of "
            f"{MIN_BLOCK}-{niqe.BLOCK} px (at least {MIN_PATCHES} are needed)"
        )
    model.source = f"fitted on {dataset.name} train targets ({model.n_patches} blocks of {model.block} px)"
    log.info("niqe-stain: %s", model.source)
    return model
