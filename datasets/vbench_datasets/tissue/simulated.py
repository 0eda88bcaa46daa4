"""Datasets simulated from real stained tissue: tiling, pairing, manifests, caching.

A subclass names its source, its colour deconvolution, an input forward model (``forward/``), the
split regions and its pairing. Nothing is read or computed until ``load``/``manifest``: then the
source is checked (sha256) and read, the work area (the tiles' bounding box) is simulated once,
whole, and tiles are cut from it.
Inputs are quantised to 16 bit and targets are the 8-bit stain, so the tiles (and their hashes in
the manifest) are integers. Built tiles are kept per process, so many instances share one build.

Pairings:
- ``paired``: the target is the stain at the input's position (and is its truth).
- ``misaligned``: the target is the adjacent section (``forward/section.py``) at that position;
  val and test also carry the aligned truth, train never does.
- ``unpaired``: train inputs and train targets come from disjoint tiles (a checkerboard of the
  training grid); val and test targets are other tiles of the same split, with the aligned truth.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib import resources
from typing import ClassVar

import vbench
from vbench import manifest as mf
from vbench.dataset import SPLITS
from vbench.errors import DatasetError

from . import disk_cache, sources, tiling, whole_regions
from .built_tiles import Built, Tile
from .forward.stains import Deconvolution

MARGIN = 32  # px around the tiles simulated too: > 4 blur sigmas and the warp's reach
ALIGN = 4  # the work area starts on this grid (a multiple of every scale used)
_BUILT: dict = {}  # (class, parameters) -> Built
_HED: dict = {}  # (source id, work area) -> rgb2hed of it


class SimulatedDataset(whole_regions.WholeRegions, vbench.Dataset):
    """Base of the bundled datasets (see the module docstring)."""

    source: ClassVar[sources.Source]
    deconvolution: ClassVar[Deconvolution] = Deconvolution()
    model: ClassVar[object]  # the input forward model
    section: ClassVar[object | None] = None  # forward.section.AdjacentSection for misaligned targets
    defaults: ClassVar[dict] = {"train_tile": 64, "train_stride": 64, "val_tile": 128, "test_tile": 256}
    size_note: ClassVar[str] = ""

    def __init__(self, **tiles):
        unknown = set(tiles) - set(self.defaults)
        if unknown:
            raise TypeError(f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(self.defaults)}")
        self.tiles = dict(self.defaults, **tiles)
        if self.tiles["test_tile"] < 192:
            raise ValueError("test tiles must be at least 192 px (no-reference metrics need several 96 px blocks)")
        for key, value in self.tiles.items():
            if value % self.scale:
                raise ValueError(f"{key} must be a multiple of the scale {self.scale}, got {value}")

    # -- what subclasses provide ---------------------------------------------------------------

    def regions(self, shape) -> list[tiling.Region]:  # pragma: no cover - abstract
        raise NotImplementedError

    def guard(self, shape) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def whole_boxes(self, shape, regions: list[tiling.Region]) -> list[whole_regions.Box]:
        """The whole-image test regions, in source pixels, inside the test region (none by default)."""
        return []

    # -- building ------------------------------------------------------------------------------

    @property
    def is_default(self) -> bool:
        return self.tiles == self.defaults

    def _key(self) -> tuple:
        return (type(self).__module__, type(self).__qualname__, tuple(sorted(self.tiles.items())))

    def built(self) -> Built:
        key = self._key()
        if key not in _BUILT:
            if self.source.id == "cmu-1":
                sources.check_cmu_file()  # a damaged source is refused even when the tiles are cached
            cached = disk_cache.load(self._cache_file())
            if cached is None:
                cached = self._build()
                disk_cache.save(self._cache_file(), cached)
            _BUILT[key] = cached
        return _BUILT[key]

    def _cache_file(self):
        """$VBENCH_HOME/cache/datasets/NAME-KEY.npz; KEY covers everything the tiles depend on."""
        recipe = {
            "class": ".".join(self._key()[:2]),
            "tiles": self.tiles,
            "source": self.source.id,
            "source_sha256": sources.CMU_SHA256 if self.source.id == "cmu-1" else None,
            "stains": self.deconvolution.params(),
            "input": self.model.params(),
            "target": self.section.params() if self.section is not None else None,
        }
        return disk_cache.path(self.name, recipe)

    def _build(self) -> Built:
        import numpy as np

        full = sources.read(self.source)
        s = self.scale
        rgb = full[: full.shape[0] // s * s, : full.shape[1] // s * s]  # the low-resolution input needs whole pixels
        mask = self.deconvolution.tissue(rgb)
        table = tiling.summed_area(mask)
        regions = self.regions(rgb.shape)
        spots = {
            split: [
                (y, x, r.tile)
                for r in regions
                if r.split == split
                for y, x in r.positions()
                if tiling.tissue_fraction(mask, y, x, r.tile, table) >= tiling.MIN_TISSUE
            ]
            for split in SPLITS
        }

        # Simulate only the work area (the tiles' bounding box plus a margin for blur and warp),
        # whole, so noise and blur are continuous across neighbouring tiles.
        margin = self._margin(rgb.shape)
        box = _work_area([p for v in spots.values() for p in v], rgb.shape, margin, ALIGN)
        (y0, y1), (x0, x1) = box
        area = rgb[y0:y1, x0:x1]
        hed = _hed(self.source.id, area, box)
        image = self.model.simulate(self.deconvolution.densities(area, hed))
        canvas = _Canvas(
            (y0, x0), s, np.round(image * 65535.0).astype(np.uint16), np.ascontiguousarray(area.transpose(2, 0, 1))
        )
        if self.section is not None:
            fields = self.section.fields(rgb.shape)
            canvas.adjacent = lambda y, x, size: self.section.tile(fields, area, hed, (y0, x0), y, x, size)

        tiles = []
        for split in SPLITS:
            tiles.extend(self._pair(split, spots[split], canvas))
        boxes = self.whole_boxes(rgb.shape, regions)
        test = next(r for r in regions if r.split == "test")
        whole_regions.check_boxes(self.name, boxes, test, {"y0": y0, "y1": y1, "x0": x0, "x1": x1}, s)
        wholes = whole_regions.cut(boxes, canvas, self.pairing)
        header = {
            "format": mf.FORMAT,
            "version": mf.VERSION,
            "dataset": self.name,
            "task": self.task,
            "pairing": self.pairing,
            "scale": self.scale,
            "in_channels": self.in_channels,
            "sources": [self.source.record(full)],
            "forward_model": self._model_params(rgb.shape),
            "tiling": {
                **self.tiles,
                "guard": self.guard(rgb.shape),
                "regions": [r.record() for r in regions],
                "min_tissue": tiling.MIN_TISSUE,
                "work_area": {"y0": y0, "y1": y1, "x0": x0, "x1": x1},
                "positions": "y, x, size in source (target) pixels; the input tile is at y/scale, x/scale",
            },
            "encoding": {
                "input": "uint16, value / 65535",
                "target": "uint8 RGB, value / 255",
                "sha256": "of '<dtype> <C>x<H>x<W>\\n' followed by the little-endian pixel bytes",
            },
        }
        return Built(header, tiles, wholes)

    def _margin(self, shape) -> int:
        import math

        # One margin for every dataset of a source, so they share the work area (and its rgb2hed).
        warp = math.ceil(self.section.bound(shape)) + 2 if self.section is not None else 0
        if warp > MARGIN:
            raise ValueError(f"{self.name}: the warp reaches {warp} px, more than the work-area margin {MARGIN}")
        return MARGIN

    def _model_params(self, shape) -> dict:
        row = {"stains": self.deconvolution.params(), "input": self.model.params()}
        if self.section is not None:
            row["target"] = self.section.params(shape)
        return row

    def _pair(self, split: str, spots: list, canvas: _Canvas) -> list[Tile]:
        def make(y, x, size, target, truth, at=None):
            return Tile(f"{split}-y{y:04d}-x{x:04d}", split, y, x, size, canvas.input(y, x, size), target, truth, at)

        out = []
        if self.pairing == "paired":
            for y, x, size in spots:
                t = canvas.stain(y, x, size)
                out.append(make(y, x, size, t, t))
        elif self.pairing == "misaligned":
            for y, x, size in spots:
                truth = None if split == "train" else canvas.stain(y, x, size)
                out.append(make(y, x, size, canvas.adjacent(y, x, size), truth))
        elif split == "train":  # unpaired: a checkerboard of the grid, inputs on one colour, targets on the other
            ins = [p for p in spots if (p[0] // p[2] + p[1] // p[2]) % 2 == 0]
            outs = [p for p in spots if (p[0] // p[2] + p[1] // p[2]) % 2 == 1]
            for i, (y, x, size) in enumerate(ins):
                ty, tx, _ = outs[i % len(outs)]
                out.append(make(y, x, size, canvas.stain(ty, tx, size), None, (ty, tx)))
        else:  # unpaired val/test: the target is another tile of the split, the truth is its own stain
            n = len(spots)
            for i, (y, x, size) in enumerate(spots):
                ty, tx, _ = spots[(i + n // 2) % n]
                out.append(make(y, x, size, canvas.stain(ty, tx, size), canvas.stain(y, x, size), (ty, tx)))
        return out

    # -- the Dataset contract ------------------------------------------------------------------

    def load(self, split: str) -> list:
        import torch

        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        built = self.built()
        self._check_against_committed(built)
        samples = []
        for t in built.tiles:
            if t.split != split:
                continue
            inp = torch.from_numpy(t.input.astype("float32") / 65535.0)
            tgt = torch.from_numpy(t.target.astype("float32") / 255.0)
            if t.truth is None:
                truth = None
            elif t.truth is t.target:
                truth = tgt
            else:
                truth = torch.from_numpy(t.truth.astype("float32") / 255.0)
            meta = {"source": self.source.id, "y": t.y, "x": t.x, "size": t.size, "scale": self.scale}
            if self.source.mpp:
                meta["um_per_px"] = self.source.mpp
            if t.target_at is not None:
                meta["target_y"], meta["target_x"] = t.target_at
            samples.append(vbench.Sample(t.id, inp, tgt, truth, meta))
        return samples

    def manifest(self) -> dict:
        built = self.built()
        truth_is_target = self.pairing == "paired"
        return dict(built.header, tiles=[t.row(self.source.id, truth_is_target) for t in built.tiles])

    def committed_manifest(self) -> dict | None:
        """The manifest shipped with vbench for the default parameters (None for other parameters)."""
        if not self.is_default:
            return None
        path = manifest_path(self.name)
        return mf.read(path) if path.is_file() else None

    @property
    def max_displacement_px(self) -> float | None:
        """The adjacent-section warp's bound (``forward/section.py``), as recorded in the manifest."""
        if self.section is None:
            return None
        m = self.committed_manifest() or self.manifest()
        return float(m["forward_model"]["target"]["displacement_bound_px"])

    def committed_path(self):
        return manifest_path(self.name) if self.is_default else None

    def verify(self, expected: dict | None = None):
        """Rebuilds from the source (checking its sha256 first), never from a cache."""
        _BUILT[self._key()] = self._build()
        self.__dict__.pop("_manifest_hash", None)
        result = super().verify(expected)
        committed = self.committed_wholes_manifest()
        if committed is not None:  # the whole regions, against their own committed manifest
            diffs = mf.compare(committed, self.wholes_manifest())
            result.differences += [f"whole regions: {line}" for line in diffs]
        if result.ok:
            disk_cache.save(self._cache_file(), _BUILT[self._key()])
        return result

    def info(self) -> dict:
        """For ``vbench datasets show``: read from the committed manifest, so nothing is built."""
        m = self.committed_manifest() or self.manifest()
        counts = {split: sum(1 for t in m["tiles"] if t["split"] == split) for split in SPLITS}
        sizes = {split: sorted({t["size"] for t in m["tiles"] if t["split"] == split}) for split in SPLITS}
        tiling_ = m["tiling"]
        out = {
            "simulated": self.simulated,
            "tiles": ", ".join(f"{s} {counts[s]} ({'/'.join(map(str, sizes[s])) or '-'} px)" for s in SPLITS),
        }
        if self.size_note:
            out["size"] = self.size_note
        out["splits"] = (
            f"disjoint image regions with {tiling_['guard']} px guard bands; tiles with less than "
            f"{tiling_['min_tissue']:.0%} tissue dropped"
        )
        if self.pairing == "misaligned":
            out["truth"] = "val and test tiles carry the aligned truth; scoring uses it"
            out["max displacement"] = (
                f"{self.max_displacement_px:g} px between a target and its truth (the bound of "
                f"@reg metrics' registration)"
            )
        elif self.pairing == "unpaired":
            out["truth"] = "train targets come from other tiles; val and test carry the aligned truth"
        for src in m["sources"]:
            out[f"source {src['id']}"] = f"{src['title']}; licence {src['licence']}; from {src['origin']}"
        models = m["forward_model"]
        for part in ("input", "target"):
            if part in models:
                params = {k: v for k, v in models[part].items() if k != "model"}
                out[f"{part} model"] = f"{models[part]['model']} {_brief(params)}"
        out["stains"] = _brief(models["stains"])
        wholes = self.committed_wholes_manifest() or self.wholes_manifest()
        test_rows = [t for t in m["tiles"] if t["split"] == "test"]
        out["whole regions"] = whole_regions.describe(wholes, test_rows)
        if wholes["tiles"]:
            out["whole regions manifest"] = f"{mf.manifest_hash(wholes)} ({whole_regions.manifest_path(self.name)})"
        which = "committed" if self.committed_manifest() is not None else "built here, no committed manifest"
        out["manifest hash"] = f"{mf.manifest_hash(m)} ({which})"
        if self.committed_path() is not None:
            out["manifest"] = str(self.committed_path())
        return out

    def _check_against_committed(self, built: Built) -> None:
        key = ("checked",) + self._key()
        if key in _BUILT:
            return
        _BUILT[key] = True
        committed = self.committed_manifest()
        if committed is not None and mf.manifest_hash(committed) != self.manifest_hash:
            diffs = mf.compare(committed, self.manifest(), limit=5)
            warnings.warn(
                f"dataset {self.name}: the tiles built here differ from the manifest shipped with vbench "
                f"({'; '.join(diffs)}). Results get manifest hash {self.manifest_hash[:12]} and are not ranked "
                f"with runs of the shipped one. `vbench datasets verify {self.name}` lists every difference.",
                stacklevel=3,
            )


def _brief(params: dict) -> str:
    import json

    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(params.items()))


def manifest_path(name: str):
    from pathlib import Path

    return Path(str(resources.files("vbench_datasets.tissue").joinpath("manifests", f"{name}.json")))


@dataclass
class _Canvas:
    """The simulated work area; cuts tiles given in full-image (target) pixels."""

    origin: tuple[int, int]
    scale: int
    inputs: object  # uint16 C x h x w at input resolution
    stains: object  # uint8 3 x H x W
    adjacent: object = None  # (y, x, size) -> uint8 3 x size x size, for misaligned targets

    def input(self, y, x, size):
        s, (oy, ox) = self.scale, self.origin
        return self.inputs[:, (y - oy) // s : (y - oy + size) // s, (x - ox) // s : (x - ox + size) // s].copy()

    def stain(self, y, x, size):
        oy, ox = self.origin
        return self.stains[:, y - oy : y - oy + size, x - ox : x - ox + size].copy()


def _work_area(spots, shape, margin: int, align: int):
    """((y0, y1), (x0, x1)): the spots' bounding box grown by ``margin``, inside the image, starting on the
    ``align`` grid (tiles and margin are multiples of the scale, so the end is on the scale grid too)."""
    if not spots:
        return (0, shape[0]), (0, shape[1])
    y0 = max(min(y for y, _, _ in spots) - margin, 0) // align * align
    x0 = max(min(x for _, x, _ in spots) - margin, 0) // align * align
    y1 = min(max(y + s for y, _, s in spots) + margin, shape[0])  # shape is on the scale grid already
    x1 = min(max(x + s for _, x, s in spots) + margin, shape[1])
    return (y0, y1), (x0, x1)


def _hed(source_id: str, rgb, box):
    key = (source_id, box)
    if key not in _HED:
        from skimage.color import rgb2hed

        _HED[key] = rgb2hed(rgb)
    return _HED[key]


def clear_cache() -> None:
    """Forget every build of this process (tests use it to rebuild from a changed source)."""
    _BUILT.clear()
    _HED.clear()
    sources.clear_cache()
