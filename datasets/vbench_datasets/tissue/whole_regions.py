"""Whole-image test regions of the simulated datasets: large areas of the test band, cut from the
same simulated work area as the tiles (so a region's pixels are the test tiles' pixels where they
overlap), each with its input, target and aligned truth, recorded in their own committed manifest
(``manifests/wholes/NAME.json``) beside the tiles' one, whose hash they do not change.

Pairings as for tiles: paired regions' target is their truth; misaligned ones get the adjacent
section over the region and the aligned truth; unpaired ones get another region's stain as target
(the next region's, cyclically) and their own as truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vbench import manifest as mf
from vbench.dataset import WHOLES, WholeRegion
from vbench.errors import DatasetError


@dataclass(frozen=True)
class Box:
    """A region in source (output) pixels."""

    id: str
    y: int
    x: int
    height: int
    width: int


@dataclass
class Whole:
    id: str
    y: int
    x: int
    height: int
    width: int
    input: object  # uint16 C x h x w
    target: object  # uint8 3 x H x W
    truth: object | None  # uint8 3 x H x W, when the target is not it
    target_at: tuple | None = None  # (y, x) of the region whose stain is the unpaired target

    def row(self, source_id: str, truth_is_target: bool) -> dict:
        row = {
            "id": self.id,
            "split": WHOLES,
            "source": source_id,
            "y": self.y,
            "x": self.x,
            "height": self.height,
            "width": self.width,
            "input": mf.array_digest(self.input),
            "target": mf.array_digest(self.target),
        }
        if self.truth is not None and not truth_is_target:
            row["truth"] = mf.array_digest(self.truth)
        if self.target_at is not None:
            row["target_y"], row["target_x"] = self.target_at
        return row


def check_boxes(name: str, boxes: list[Box], test, work_area: dict, scale: int) -> None:
    """Each region inside the test region and the simulated work area, on the scale's grid."""
    for b in boxes:
        where = f"dataset {name}: whole region {b.id} ({b.width} x {b.height} px at y {b.y}, x {b.x})"
        if any(v % scale for v in (b.y, b.x, b.height, b.width)):
            raise DatasetError(
                f"{where}: its position and size must be multiples of the scale {scale}, so that its input has "
                f"whole pixels; move or resize it"
            )
        if not (test.y0 <= b.y and b.y + b.height <= test.y1 and test.x0 <= b.x and b.x + b.width <= test.x1):
            raise DatasetError(
                f"{where}: it must lie inside the test region (y {test.y0}..{test.y1}, x {test.x0}..{test.x1}), "
                f"so it stays disjoint from train and val"
            )
        wa = work_area
        if not (wa["y0"] <= b.y and b.y + b.height <= wa["y1"] and wa["x0"] <= b.x and b.x + b.width <= wa["x1"]):
            raise DatasetError(f"{where}: it leaves the simulated work area {wa}; move it inside")


def cut(boxes: list[Box], canvas, pairing: str) -> list[Whole]:
    """The regions' arrays, cut from the simulated canvas (``simulated._Canvas``)."""
    (oy, ox), s = canvas.origin, canvas.scale

    def stain(b: Box):
        return canvas.stains[:, b.y - oy : b.y - oy + b.height, b.x - ox : b.x - ox + b.width].copy()

    out = []
    for i, b in enumerate(boxes):
        rows = slice((b.y - oy) // s, (b.y - oy + b.height) // s)
        inp = canvas.inputs[:, rows, (b.x - ox) // s : (b.x - ox + b.width) // s]
        own = stain(b)
        target, truth, at = own, own, None
        if pairing == "misaligned":
            if b.height != b.width:
                raise DatasetError(f"whole region {b.id}: misaligned regions are square, not {b.width} x {b.height}")
            target = canvas.adjacent(b.y, b.x, b.height)
        elif pairing == "unpaired":
            other = boxes[(i + 1) % len(boxes)]
            if (other.height, other.width) != (b.height, b.width):
                raise DatasetError(f"whole region {b.id}: unpaired regions must share one size")
            target, at = stain(other), (other.y, other.x)
        out.append(Whole(b.id, b.y, b.x, b.height, b.width, inp.copy(), target, truth, at))
    return out


def regions_of(wholes: list[Whole], source_id: str, scale: int, mpp: float | None) -> list[WholeRegion]:
    """The ``vbench.dataset.WholeRegion`` view: the arrays as built (uint16 input, uint8 stains)."""
    out = []
    for w in wholes:
        meta = {"source": source_id, "y": w.y, "x": w.x, "scale": scale}
        if mpp:
            meta["um_per_px"] = mpp
        if w.target_at is not None:
            meta["target_y"], meta["target_x"] = w.target_at
        out.append(
            WholeRegion(
                w.id,
                w.height,
                w.width,
                read_input=lambda a=w.input: a,
                read_target=lambda a=w.target: a,
                read_truth=(lambda a=w.truth: a) if w.truth is not None else None,
                meta=meta,
            )
        )
    return out


def manifest(header: dict, wholes: list[Whole], source_id: str, truth_is_target: bool, tiles_hash: str) -> dict:
    return {
        "format": mf.FORMAT,
        "version": mf.VERSION,
        "dataset": header["dataset"],
        "kind": "whole-image test regions (rows are regions; sizes in source/target pixels)",
        "pairing": header["pairing"],
        "scale": header["scale"],
        "tile_manifest": tiles_hash,
        "tiles": [w.row(source_id, truth_is_target) for w in wholes],
    }


def manifest_path(name: str) -> Path:
    return Path(str(resources.files("vbench_datasets.tissue").joinpath("manifests", "wholes", f"{name}.json")))


def describe(m: dict, test_rows: list[dict]) -> str:
    """For ``vbench datasets show``: the regions and the test tiles inside each."""
    if not m["tiles"]:
        return "none"
    parts = []
    for r in m["tiles"]:
        inside = [
            t
            for t in test_rows
            if r["y"] <= t["y"] and t["y"] + t["size"] <= r["y"] + r["height"]
            if r["x"] <= t["x"] and t["x"] + t["size"] <= r["x"] + r["width"]
        ]
        parts.append(f"{r['id']} {r['width']} x {r['height']} px at y {r['y']}, x {r['x']} ({len(inside)} test tiles)")
    return (
        f"{len(m['tiles'])} region(s) cut from the test area: {'; '.join(parts)}. Each holds the pixels of the test "
        f"tiles inside it plus the cells between them that the tile split drops as glass, so it is disjoint from "
        f"train and val like the tiles; predicted whole (tiled and blended) and scored whole"
    )


class WholeRegions:
    """What a slide dataset adds for its whole-image test regions (``vbench.dataset.whole_regions``):
    they are built with its tiles (``built().wholes``) and have a committed manifest of their own."""

    def wholes(self) -> list:
        """The whole-image test regions (``vbench.dataset.WholeRegion``), built with the tiles."""
        return regions_of(self.built().wholes, self.source.id, self.scale, self.source.mpp)

    def wholes_manifest(self) -> dict:
        """The regions' manifest: their positions and hashes, and the tiles' manifest hash."""
        built = self.built()
        return manifest(built.header, built.wholes, self.source.id, self.pairing == "paired", self.manifest_hash)

    def committed_wholes_manifest(self) -> dict | None:
        if not self.is_default:
            return None
        path = manifest_path(self.name)
        return mf.read(path) if path.is_file() else None
