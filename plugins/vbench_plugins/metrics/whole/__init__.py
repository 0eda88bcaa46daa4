"""Whole-image metrics: ``seam`` (discontinuity along the tile grid an image was predicted on) and
``stain-drift`` (spread of per-tile stain amounts against the reference's). Both stream over row
bands (:class:`vbench.metric.WholeImageMetric`), so they score stitched images of any size; the
numerics are in ``seams.py`` and ``stain_drift.py``, imported on first use."""

from __future__ import annotations

from vbench.errors import MetricNotApplicable
from vbench.metric import FULL_REFERENCE, NO_REFERENCE, TileGrid, WholeImageMetric

DRIFT_BLOCK = 256  # px: the tiles stain-drift compares when the image's grid is not known


class Seam(WholeImageMetric):
    name = "seam"
    kind = NO_REFERENCE
    higher_is_better = False
    needs_grid = True
    display_name = "seam"
    pipeline = (
        "RGB in [0, 1]; per tile edge (a grid line within one tile row or column): the largest mean squared "
        "difference across it within 2 px, over the median of the same at positions within one stride that keep "
        "8 px from every grid line; median over all tile edges. 1 = no trace of the grid; 1.5 = its lines carry "
        "50% more gradient energy than the tissue around them"
    )

    def start(self, height, width):
        from . import seams

        return seams.start(height, width, self.grid)

    def update(self, state, y, pred, ref):
        from . import seams

        seams.update(state, y, pred)

    def finish(self, state):
        from . import seams

        value = seams.finish(state)
        if value is None:
            raise MetricNotApplicable(
                f"seam is not computed: an image of {state.width} x {state.height} px on tiles of {self.grid.tile} px "
                f"(overlap {self.grid.overlap}) has no tile edge with background positions to compare it with"
            )
        return value


class StainDrift(WholeImageMetric):
    name = "stain-drift"
    kind = FULL_REFERENCE
    higher_is_better = False
    display_name = "stain drift"
    pipeline = (
        "colour deconvolution (Ruifrok & Johnston, as stain-mae) of the dataset's two stains (H&E without a "
        "dataset); mean amount per tile of the grid (256 px blocks without one); spread = root of the summed "
        "variances over tiles (OD); (prediction's spread + 0.005) / (reference's spread + 0.005). 1 = varies as "
        "the real stain varies; above 1 = drift; below 1 = more uniform than the real stain"
    )

    def __init__(self):
        self._stains = ("h", "e")

    def setup(self, dataset) -> None:
        super().setup(dataset)
        from ..stain.deconvolution import stains_of_dataset

        stains, source = stains_of_dataset(dataset)
        if stains is None:
            raise MetricNotApplicable(
                f"stain-drift needs the stains of the dataset's target to deconvolve colours, and {source} of "
                f"dataset {dataset.name!r} is neither H&E ('he') nor IHC ('ihc-dab')"
            )
        self._stains = stains

    def start(self, height, width):
        from . import stain_drift

        grid = self.grid or TileGrid(DRIFT_BLOCK, 0)
        return stain_drift.start(height, width, grid, self._stains)

    def update(self, state, y, pred, ref):
        from . import stain_drift

        stain_drift.update(state, y, pred, ref)

    def finish(self, state):
        from . import stain_drift

        pred, ref, tiles = stain_drift.finish(state)
        if tiles < 2:
            raise MetricNotApplicable(
                "stain-drift is not computed: the image holds a single tile of the grid, and a spread across tiles "
                "needs at least two (score larger images, or give the grid they were predicted on with --tile)"
            )
        return (pred + stain_drift.TAU) / (ref + stain_drift.TAU)


WHOLE_METRICS = [Seam, StainDrift]

__all__ = ["WHOLE_METRICS", "Seam", "StainDrift"]
