"""The tiles of a simulated dataset as built: the records ``simulated`` makes and ``disk_cache`` keeps."""

from __future__ import annotations

from dataclasses import dataclass, field

from vbench import manifest as mf


@dataclass
class Tile:
    id: str
    split: str
    y: int
    x: int
    size: int
    input: object  # uint16 C x h x w
    target: object  # uint8 3 x H x W
    truth: object | None  # uint8 3 x H x W, the aligned stain, when the target is not it
    target_at: tuple | None = None  # (y, x) the unpaired target was cut from

    def row(self, source_id: str, truth_is_target: bool) -> dict:
        row = {
            "id": self.id,
            "split": self.split,
            "source": source_id,
            "y": self.y,
            "x": self.x,
            "size": self.size,
            "input": mf.array_digest(self.input),
            "target": mf.array_digest(self.target),
        }
        if self.truth is not None and not truth_is_target:
            row["truth"] = mf.array_digest(self.truth)
        if self.target_at is not None:
            row["target_y"], row["target_x"] = self.target_at
        return row


@dataclass
class Built:
    header: dict
    tiles: list[Tile]
    wholes: list = field(default_factory=list)  # whole_regions.Whole: the whole-image test regions
