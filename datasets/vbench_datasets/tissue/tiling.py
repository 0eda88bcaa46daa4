"""Where tiles are cut: split regions, guard bands, the tile grid and the background rule.

Splits are disjoint by region of the source image. Between two regions lies a guard band that no
tile enters; it is at least one training tile plus the largest displacement any forward model
applies (the adjacent-section warp), so no test pixel can reach a training or validation tile.
A tile is kept only when at least ``min_tissue`` of its pixels are tissue (summed optical density
above the dataset's ``tissue_od``, see ``forward/stains.py``); the rest is glass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_TISSUE = 0.5


@dataclass(frozen=True)
class Region:
    split: str
    y0: int
    y1: int
    x0: int
    x1: int
    tile: int
    stride: int

    def positions(self) -> list[tuple[int, int]]:
        return [
            (y, x)
            for y in range(self.y0, self.y1 - self.tile + 1, self.stride)
            for x in range(self.x0, self.x1 - self.tile + 1, self.stride)
        ]

    def record(self) -> dict:
        return asdict(self)


def bands(
    height: int,
    width: int,
    *,
    train_tile: int,
    val_tile: int,
    test_tile: int,
    val_rows: int,
    test_rows: int,
    guard: int,
    align: int = 1,
) -> list[Region]:
    """Horizontal bands, top to bottom: train, guard, val, guard, test (test ends at the last full row)."""

    def down(v: int) -> int:
        return v // align * align

    test_y1 = down(height)
    test_y0 = test_y1 - test_rows * test_tile
    val_y1 = down(test_y0 - guard)
    val_y0 = val_y1 - val_rows * val_tile
    train_y1 = down(val_y0 - guard)
    if train_y1 < train_tile:
        raise ValueError(f"image of height {height} too small for these tiles and a {guard} px guard")
    return [
        Region("train", 0, train_y1, 0, width, train_tile, train_tile),
        Region("val", val_y0, val_y1, 0, width, val_tile, val_tile),
        Region("test", test_y0, test_y1, 0, width, test_tile, test_tile),
    ]


def tissue_fraction(mask, y: int, x: int, size: int, integral=None) -> float:
    """Fraction of tissue pixels in a square; ``integral`` is the summed-area table of ``mask``."""
    if integral is None:
        return float(mask[y : y + size, x : x + size].mean())
    total = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
    return float(total) / (size * size)


def summed_area(mask):
    import numpy as np

    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    table[1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1)
    return table


def separation(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    """Chebyshev gap in pixels between two squares (y, x, size); 0 or less when they touch or overlap."""
    (ya, xa, sa), (yb, xb, sb) = a, b
    gap_y = max(yb - (ya + sa), ya - (yb + sb))
    gap_x = max(xb - (xa + sa), xa - (xb + sb))
    return max(gap_y, gap_x)
