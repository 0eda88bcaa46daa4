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
* as in NIQE's training, each image keeps the blocks sharper than 0.75 x its sharpest block.

Scores of ``niqe`` and ``niqe-stain`` are not comparable with each other, nor ``niqe-stain`` across
datasets (each dataset has its own model).
"""

from __future__ import annotations

import logging
import numbers
from pathlib import Path

from ..errors import MetricNotApplicable

log = logging.getLogger("vbench.metrics")
VERSION = 1  # bump when the fitting changes, so cached models are refitted
STRIDE = 32
MIN_PATCHES = 10
_MEMORY: dict[str, object] = {}


def cache_path(dataset) -> Path:
    from .assets import vbench_home

    return vbench_home() / "cache" / "niqe-stain" / f"{dataset.name}-{dataset.manifest_hash[:16]}-v{VERSION}.npz"


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
            model = NiqeModel(mu=z["mu"], cov=z["cov"], n_patches=int(z["n_patches"]), source=str(path))
    else:
        model = fit_dataset(dataset)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".partial.npz")
            np.savez(tmp, mu=model.mu, cov=model.cov, n_patches=model.n_patches)
            tmp.replace(path)
        except OSError as exc:  # a read-only home only costs a refit next time
            log.warning("could not cache the niqe-stain model in %s: %s", path, exc)
    _MEMORY[key] = model
    return model


def regions(samples):
    """(grey image, usable-pixel mask) per stitched source region, plus lone tiles, from train
    samples' targets (grey levels as NIQE computes them: MATLAB rgb2gray rounded to 8 bit)."""
    import torch

    from .standard import matlab_gray8

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
            canvas[y - y0:y - y0 + g.shape[0], x - x0:x - x0 + g.shape[1]] = g
            mask[y - y0:y - y0 + g.shape[0], x - x0:x - x0 + g.shape[1]] = True
        out.append((canvas, mask))
    for t in lone:
        g = matlab_gray8(t[None].float())[0]
        out.append((g, torch.ones_like(g, dtype=torch.bool)))
    return out


def fit_dataset(dataset):
    from . import niqe

    train = dataset.samples("train")
    parts = regions(train)
    usable = [(g, m) for g, m in parts if min(g.shape) >= niqe.BLOCK]
    if not usable:
        raise MetricNotApplicable(
            f"niqe-stain could not be fitted on dataset {dataset.name!r}: its train targets are smaller than "
            f"NIQE's {niqe.BLOCK} px blocks and carry no tile positions (meta x/y) to stitch them into regions")
    model = niqe.fit([g for g, _ in usable], [m for _, m in usable], stride=STRIDE)
    if model.n_patches < MIN_PATCHES:
        raise MetricNotApplicable(
            f"niqe-stain could not be fitted on dataset {dataset.name!r}: its train targets give only "
            f"{model.n_patches} sharp 96 px blocks (at least {MIN_PATCHES} are needed)")
    model.source = f"fitted on {dataset.name} train targets ({model.n_patches} blocks)"
    log.info("niqe-stain: %s", model.source)
    return model
