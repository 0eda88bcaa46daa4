"""The unit of data every stainer and metric sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """One tile.

    ``input``: C_in x h x w float32 tensor in [0, 1] (the label-free image).
    ``target``: 3 x H x W float32 tensor in [0, 1], H = h * scale. For unpaired data this is an
    independently drawn stained tile, not the stain of ``input``.
    ``truth``: the aligned ground-truth stain of ``input`` when known, else None.
    ``meta``: source image, tile position, pixel size...
    """

    id: str
    input: Any
    target: Any = None
    truth: Any = None
    meta: dict = field(default_factory=dict)

    @property
    def reference(self):
        """What full-reference metrics compare against: the aligned truth, else the target."""
        return self.truth if self.truth is not None else self.target
