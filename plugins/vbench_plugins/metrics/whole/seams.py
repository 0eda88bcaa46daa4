"""The seam statistic: gradient energy across the tile grid's lines against the same statistic at
shifted positions, streamed over row bands.

Across every boundary between two pixel columns p - 1 and p, the signed difference of each colour
channel is averaged over runs of ``RUN`` rows (a seam is a step that keeps its sign along the
line; tissue texture mostly averages out), squared and summed over R, G and B; e(p) is the mean of
that over the runs of one row block of the grid (the rows of one tile row). A vertical grid line g
of that block has the energy max e(p) for |p - g| <= ``RADIUS`` (a seam may sit a pixel or two
off the line); its background is the median of the same maximum at the positions between
``EXCLUDE`` and ``EXCLUDE + SPAN`` px from it that keep ``EXCLUDE`` px from every grid line. The
segment's ratio is (line + EPS) / (background + EPS); horizontal lines likewise, per column block.
The score is the median over all segments, so tissue structure that happens to lie on a few of
them does not move it, while a seam (on every tile edge) does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

RADIUS = 2  # px either side of a grid line where its discontinuity is looked for
EXCLUDE = 2 * RADIUS + 4  # background positions keep this far from every grid line ...
SPAN = 8  # ... and at most this much farther from their own line
RUN = 16  # px along a line over which signed differences are averaged
EPS = 3 * (1 / 255) ** 2  # one 8-bit level in each channel: steps below it do not count


@dataclass
class SeamState:
    height: int
    width: int
    row_starts: list[int]  # the grid's tile rows (row blocks) ...
    col_starts: list[int]  # ... and tile columns (column blocks)
    vlines: list[int]
    hlines: list[int]
    col_energy: np.ndarray  # row block x (W - 1): summed energy across columns, per run
    runs_in_block: np.ndarray
    row_energy: np.ndarray  # (H - 1) x column block: mean energy across rows
    pending: torch.Tensor | None = None  # rows (and their first index) not yet in a complete run
    pending_y: int = 0
    prev: torch.Tensor | None = None  # the last row seen, for differences across rows
    segments: list[float] = field(default_factory=list)


def start(height: int, width: int, grid) -> SeamState:
    rows, cols = grid.starts(height), grid.starts(width)
    return SeamState(
        height,
        width,
        rows,
        cols,
        grid.lines(width),
        grid.lines(height),
        np.zeros((len(rows), max(width - 1, 0))),
        np.zeros(len(rows)),
        np.zeros((max(height - 1, 0), len(cols))),
    )


def _runs(diff: torch.Tensor, dim: int) -> torch.Tensor:
    """Energies of the means of 3 x n x L signed differences over runs of RUN along ``dim`` (1: rows,
    2: columns; a last, shorter run when the length is not a multiple), summed over channels."""
    n = diff.shape[dim]
    full = n // RUN * RUN
    parts = []
    if full:
        head = diff.narrow(dim, 0, full)
        shape = (3, n // RUN, RUN, -1) if dim == 1 else (3, diff.shape[1], n // RUN, RUN)
        parts.append(head.reshape(shape).mean(2 if dim == 1 else 3))
    if full < n:
        parts.append(diff.narrow(dim, full, n - full).mean(dim, keepdim=True))
    return torch.cat(parts, dim=dim).square().sum(0).double()


def _across_columns(state: SeamState, rows: torch.Tensor, y: int, last: bool) -> None:
    if state.pending is not None:
        rows, y = torch.cat([state.pending, rows], dim=1), state.pending_y
    keep = 0 if last else rows.shape[1] % RUN
    state.pending, state.pending_y = (rows[:, rows.shape[1] - keep :], y + rows.shape[1] - keep) if keep else (None, 0)
    rows = rows[:, : rows.shape[1] - keep]
    if not rows.shape[1] or state.width < 2:
        return
    energy = _runs(rows[:, :, 1:] - rows[:, :, :-1], 1).numpy()  # runs x (W - 1)
    blocks = np.searchsorted(np.asarray(state.row_starts), y + RUN * np.arange(energy.shape[0]), side="right") - 1
    for b in np.unique(blocks):
        mine = blocks == b
        state.col_energy[b] += energy[mine].sum(0)
        state.runs_in_block[b] += mine.sum()


def _across_rows(state: SeamState, rows: torch.Tensor, y: int) -> None:
    stacked = rows if state.prev is None else torch.cat([state.prev, rows], dim=1)
    first = y if state.prev is not None else y + 1  # the boundary the first difference lies on
    state.prev = rows[:, -1:].clone()
    if stacked.shape[1] < 2:
        return
    energy = _runs(stacked[:, 1:] - stacked[:, :-1], 2).numpy()  # n x column runs
    starts = np.arange(0, state.width, RUN)
    blocks = np.searchsorted(np.asarray(state.col_starts), starts, side="right") - 1
    per_block = np.stack(
        [
            energy[:, blocks == b].mean(1) if (blocks == b).any() else np.full(len(energy), np.nan)
            for b in range(len(state.col_starts))
        ],
        axis=1,
    )  # a block narrower than a run, holding no run's start, is left out (NaN)
    state.row_energy[first - 1 : first - 1 + energy.shape[0]] = per_block


def update(state: SeamState, y: int, rows: torch.Tensor) -> None:
    rows = rows.to(torch.float32)
    _across_rows(state, rows, y)
    _across_columns(state, rows, y, last=y + rows.shape[1] >= state.height)


def _segments(profile: np.ndarray, lines: list[int]) -> list[float]:
    """Ratios of the lines' energy to their background's along one profile (index p - 1: boundary p)."""
    n = profile.shape[0] + 1  # boundaries 1 .. n - 1
    if n < 2 or not lines:
        return []
    padded = np.concatenate([np.full(RADIUS, -np.inf), profile, np.full(RADIUS, -np.inf)])
    peak = np.lib.stride_tricks.sliding_window_view(padded, 2 * RADIUS + 1).max(axis=1)
    positions = np.arange(1, n)
    far = np.min(np.abs(positions[:, None] - np.asarray(lines)[None, :]), axis=1) >= EXCLUDE
    inside = (positions > RADIUS) & (positions < n - RADIUS)
    out = []
    for g in lines:
        near = far & inside & (np.abs(positions - g) <= EXCLUDE + SPAN)
        if near.any():
            background = float(np.median(peak[near]))
            out.append((float(peak[g - 1]) + EPS) / (background + EPS))
    return out


def finish(state: SeamState) -> float | None:
    """The median ratio over every segment; None when the grid leaves no segment to compare."""
    ratios = []
    for j, n in enumerate(state.runs_in_block):
        if n:
            ratios += _segments(state.col_energy[j] / n, state.vlines)
    if state.row_energy.shape[0]:
        for j in range(len(state.col_starts)):
            if np.isfinite(state.row_energy[:, j]).all():
                ratios += _segments(state.row_energy[:, j], state.hlines)
    return float(np.median(ratios)) if ratios else None
