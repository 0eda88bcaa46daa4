"""The whole-image metrics on synthetic images whose answer is known: ``seam`` flags tiles
predicted without overlap or with a per-tile brightness offset, gives about 1 for a seamless image
and for a blended prediction of a smooth function, and is not fooled by structure lying on the
grid; ``stain-drift`` is 1 for the target itself and above 1 for per-tile stain drift."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from vbench.errors import ConfigError, MetricNotApplicable
from vbench.metric import TileGrid
from vbench.predict import blend_rows
from vbench_plugins.metrics.whole import Seam, StainDrift

SIZE, TILE = 512, 128  # a seamless image scores within about 0.75-1.35 at this size (docs/metrics.md)
GRID = TileGrid(TILE, 0)


def tissue(seed: int, size: int = SIZE) -> torch.Tensor:
    """H&E-like texture: smooth stain fields with dark 'nuclei', 3 x size x size in [0, 1]."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal((2, size, size)), (0, 3, 3))
    field = field / field.std() * 0.5 + 1.0
    nuclei = gaussian_filter((rng.random((size, size)) > 0.995).astype(float), 2.5) * 40
    h = 0.25 * field[0] + np.minimum(nuclei, 1.2)
    e = 0.35 * field[1]
    rgb = np.stack([np.exp(-(0.65 * h + 0.07 * e)), np.exp(-(0.70 * h + 0.99 * e)), np.exp(-(0.29 * h + 0.11 * e))])
    return torch.from_numpy(np.clip(rgb, 0, 1)).float()


def seam(img, grid=GRID) -> float:
    return float(Seam().with_grid(grid).compute(img[None], None))


def smooth(size: int = SIZE) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    return torch.stack(
        [
            0.5 + 0.3 * torch.sin(xx / 37) * torch.cos(yy / 53),
            0.6 + 0.2 * torch.sin((xx + yy) / 71),
            0.5 + 0.1 * torch.cos(xx / 29),
        ]
    ).float()


def blur_with_zero_padding(x):  # a 'network' whose tile edges are wrong, as convolution padding makes them
    k = torch.ones(1, 1, 5, 5) / 25
    return torch.cat([torch.nn.functional.conv2d(x[:, c : c + 1], k, padding=2) for c in range(3)], 1)


def stitched(image, tile, overlap, blend, predict=blur_with_zero_padding):
    rows = blend_rows(predict, image, scale=1, tile=tile, overlap=overlap, blend=blend)
    return torch.cat([band for _, band in rows], dim=1).clamp(0, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_seam_is_about_one_for_the_target_itself(seed):
    assert 0.75 < seam(tissue(seed)) < 1.35


def test_seam_flags_tiles_predicted_without_overlap_and_not_the_blended_prediction():
    image = tissue(2)
    butted = stitched(image, TILE, 0, "hann")
    blended = stitched(image, TILE, 24, "hann")
    assert seam(butted) > 3
    assert seam(blended, TileGrid(TILE, 24)) < 1.35
    assert seam(stitched(image, TILE, 24, "none"), TileGrid(TILE, 24)) > 3


def test_seam_flags_a_per_tile_brightness_offset():
    image = tissue(3)
    shifted = image.clone()
    g = torch.Generator().manual_seed(0)
    for i, y in enumerate(GRID.starts(SIZE)):
        for j, x in enumerate(GRID.starts(SIZE)):  # 2-4% brighter or darker, alternating like a checkerboard
            shifted[:, y : y + TILE, x : x + TILE] += (-1) ** (i + j) * (0.02 + 0.02 * torch.rand(1, generator=g))
    assert seam(shifted.clamp(0, 1)) > 2 > 1.35 > seam(image)


def test_seam_is_about_one_for_a_blended_prediction_of_a_smooth_function():
    truth = smooth()

    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    positions = torch.stack([yy, xx]).float()
    # each tile's prediction is the smooth function at its pixels (the input holds their positions)
    out = stitched(positions, TILE, 24, "hann", predict=lambda t: _function_at(truth, t))
    quantised = torch.floor(out * 255 + 0.5) / 255
    assert 0.9 < seam(quantised, TileGrid(TILE, 24)) < 1.15
    assert 0.9 < seam(torch.floor(truth * 255 + 0.5) / 255) < 1.15


def _function_at(truth, positions):
    ys, xs = positions[:, 0].long(), positions[:, 1].long()
    return torch.stack([truth[:, y, x] for y, x in zip(ys, xs)])


def test_seam_is_not_fooled_by_tissue_structure_on_the_grid():
    image = tissue(4)
    marked = image.clone()
    # dark membranes exactly along a third of the grid's tile edges
    for i, y in enumerate(GRID.starts(SIZE)):
        for j, x in enumerate(GRID.starts(SIZE)):
            if (i + j) % 3 == 0 and x > 0:
                marked[:, y : y + TILE, x - 1 : x + 1] *= 0.5
    assert seam(marked) - seam(image) < 0.3 and seam(marked) < 1.6  # seams score > 2 (tests above)
    boundary = image.clone()
    boundary[:, :, SIZE // 2 :] *= 0.9  # a tissue boundary along one whole grid line is not a grid-wide seam
    assert seam(boundary) - seam(image) < 0.3


def test_seam_without_a_grid_is_not_computed_and_says_why():
    with pytest.raises(MetricNotApplicable, match="no grid was given"):
        Seam().compute(tissue(0)[None], None)
    with pytest.raises(MetricNotApplicable, match="no tile edge"):
        Seam().with_grid(TileGrid(600, 0)).compute(tissue(0)[None], None)


def test_stain_drift_is_one_for_the_target_and_flags_per_tile_drift():
    target = tissue(5)
    drift = StainDrift().with_grid(GRID)
    assert float(drift.compute(target[None], target[None])) == pytest.approx(1.0)
    drifted = target.clone()
    g = torch.Generator().manual_seed(1)
    for y in GRID.starts(SIZE):
        for x in GRID.starts(SIZE):
            drifted[:, y : y + TILE, x : x + TILE] **= 1 + 0.6 * (torch.rand(1, generator=g) - 0.5)  # stain amount x k
    assert float(drift.compute(drifted[None], target[None])) > 1.5
    flat = target.mean(dim=(1, 2), keepdim=True).expand_as(target).contiguous()
    assert float(drift.compute(flat[None], target[None])) < 0.5  # more uniform than the real stain
    with pytest.raises(MetricNotApplicable, match="single tile"):
        StainDrift().with_grid(TileGrid(600, 0)).compute(target[None], target[None])


def test_streamed_bands_give_the_one_piece_scores():
    image, target = stitched(tissue(6), TILE, 0, "hann"), tissue(6)
    for metric in (Seam().with_grid(GRID), StainDrift().with_grid(GRID)):
        whole = float(metric.compute(image[None], target[None]))
        state = metric.start(SIZE, SIZE)
        for y in range(0, SIZE, 40):  # bands of another height than the metric's own
            metric.update(state, y, image[:, y : y + 40], target[:, y : y + 40])
        assert metric.finish(state) == pytest.approx(whole, rel=1e-6)


@pytest.mark.parametrize(
    "tile, overlap, words", [(256, 256, "smaller than the tile"), (256, -1, "must be >= 0"), (1, 0, ">= 2")]
)
def test_bad_grids_are_one_line_errors(tile, overlap, words):
    with pytest.raises(ConfigError, match=words) as info:
        TileGrid(tile, overlap)
    assert "\n" not in str(info.value)


def test_grid_lines_follow_vbench_predict():
    from vbench.predict import tile_starts

    assert TileGrid(256, 32).starts(2000) == tile_starts(2000, 256, 32)
    assert TileGrid(100, 0).lines(250) == [100, 150, 200]
