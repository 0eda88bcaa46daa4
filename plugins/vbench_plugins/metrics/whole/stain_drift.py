"""Stain drift across a region's tiles: the per-tile mean stain amounts (colour deconvolution, as
``stain-mae``), their spread over the tiles, prediction against reference; streamed over row bands.

Spread is the root of the summed variances over tiles of each stain's per-tile mean (optical
density units). The score is (spread of the prediction + TAU) / (spread of the reference + TAU):
1 when the prediction's tiles vary as the real stain's do, above 1 when they drift more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..stain.deconvolution import STAINS, stain_density

TAU = 0.005  # OD: a floor, so that a nearly uniform reference does not make the ratio explode


@dataclass
class DriftState:
    ys: list[int]
    xs: list[int]
    th: int
    tw: int
    stains: tuple[int, ...]
    pred: np.ndarray  # tile rows x tile columns x stains: sums of stain amounts
    ref: np.ndarray


def start(height: int, width: int, grid, stains: tuple[str, ...]) -> DriftState:
    ys, xs = grid.starts(height), grid.starts(width)
    shape = (len(ys), len(xs), len(stains))
    idx = tuple(STAINS.index(s) for s in stains)
    return DriftState(ys, xs, min(grid.tile, height), min(grid.tile, width), idx, np.zeros(shape), np.zeros(shape))


def _add(sums: np.ndarray, state: DriftState, y: int, rows: torch.Tensor) -> None:
    dens = stain_density(rows[None])[0, list(state.stains)]  # k x h x W, float64
    h = dens.shape[1]
    for i, ty in enumerate(state.ys):
        r0, r1 = max(y, ty), min(y + h, ty + state.th)
        if r0 >= r1:
            continue
        cols = dens[:, r0 - y : r1 - y].sum(dim=1)  # k x W
        cum = torch.nn.functional.pad(cols.cumsum(dim=1), (1, 0)).numpy()
        for j, tx in enumerate(state.xs):
            sums[i, j] += cum[:, tx + state.tw] - cum[:, tx]


def update(state: DriftState, y: int, pred: torch.Tensor, ref: torch.Tensor) -> None:
    _add(state.pred, state, y, pred)
    _add(state.ref, state, y, ref)


def spread(sums: np.ndarray, area: int) -> float:
    means = sums.reshape(-1, sums.shape[-1]) / area
    return float(np.sqrt(means.var(axis=0).sum()))


def finish(state: DriftState) -> tuple[float, float, int]:
    """(prediction's spread, reference's spread, number of tiles)."""
    area = state.th * state.tw
    return spread(state.pred, area), spread(state.ref, area), len(state.ys) * len(state.xs)
