"""The bundled benchmark datasets: one per seed task, simulated from real stained tissue.

Importing this module reads no image and imports no numerical library; everything is built on the
first ``load``/``manifest`` (see ``simulated.py``). Forward models: ``forward/``. Sources and
licences: ``sources.py`` and datasets/README.md.
"""

from __future__ import annotations

import math

import vbench

from . import sources, tiling, whole_regions
from .forward.autofluorescence import Autofluorescence
from .forward.brightfield import UnstainedBrightfield
from .forward.darkfield import UnstainedDarkfield
from .forward.qpi import QuantitativePhase
from .forward.section import AdjacentSection
from .forward.stains import Deconvolution
from .simulated import SimulatedDataset

ONE_SLIDE = "input simulated from real stained tissue of one slide"


class CmuDataset(SimulatedDataset):
    """Tiles of the CMU-1 H&E region in horizontal bands: train on top, then val, then test.

    All CMU datasets share the regions, so a method's splits are the same whatever its input. The
    guard band is the largest tile plus the adjacent-section warp's displacement bound, wider than
    the minimum (one training tile plus the warp), because the region has room for it.
    """

    source = sources.CMU
    defaults = {"train_tile": 64, "train_stride": 64, "val_tile": 128, "test_tile": 256}
    val_rows, test_rows = 2, 3

    def guard(self, shape) -> int:
        widest = max(self.tiles["train_tile"], self.tiles["val_tile"], self.tiles["test_tile"])
        bound = AdjacentSection().bound(shape)
        return math.ceil((widest + bound) / 4) * 4

    def regions(self, shape) -> list[tiling.Region]:
        t = self.tiles
        regions = tiling.bands(
            shape[0],
            shape[1],
            train_tile=t["train_tile"],
            val_tile=t["val_tile"],
            test_tile=t["test_tile"],
            val_rows=self.val_rows,
            test_rows=self.test_rows,
            guard=self.guard(shape),
            align=4,
        )
        train = regions[0]
        regions[0] = tiling.Region("train", train.y0, train.y1, train.x0, train.x1, train.tile, t["train_stride"])
        return regions

    def whole_boxes(self, shape, regions) -> list[whole_regions.Box]:
        """Two square regions of the test band's full height (3 test rows), each 3 test-grid cells
        wide, over the test tiles' tissue (columns 2-4 and 5-7 of the grid)."""
        test = next(r for r in regions if r.split == "test")
        side, t = test.y1 - test.y0, test.tile
        return [whole_regions.Box(f"whole-{i}", test.y0, test.x0 + col * t, side, side) for i, col in enumerate((2, 5))]


class QpiHe(CmuDataset):
    name = "qpi-he"
    task = "qpi->he"
    modality = "quantitative-phase"
    stain = "he"
    pairing = "paired"
    scale = 1
    in_channels = 1
    model = QuantitativePhase()
    description = "PhaseStain task: quantitative phase (1 channel) -> H&E, paired, CMU-1 region"
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): quantitative phase from stain densities"


class AfHeX4(CmuDataset):
    name = "af-he-x4"
    task = "autofluorescence->he"
    modality = "autofluorescence"
    stain = "he"
    pairing = "paired"
    scale = 4
    in_channels = 4
    model = Autofluorescence()
    description = "BBDM task: 4-channel autofluorescence at 1/4 resolution -> H&E, paired, CMU-1 region"
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): 4-channel autofluorescence, 4x lower resolution"


class UnstainedHeMisaligned(CmuDataset):
    name = "unstained-he-misaligned"
    task = "brightfield->he"
    modality = "brightfield"
    stain = "he"
    pairing = "misaligned"
    scale = 1
    in_channels = 3
    model = UnstainedBrightfield()
    section = AdjacentSection()
    description = (
        "distillation task: dim unstained brightfield (RGB) -> H&E of a warped adjacent section; "
        "val/test scored against the aligned truth"
    )
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): dim unstained brightfield, target from a warped adjacent section"


class UnstainedHeUnpaired(CmuDataset):
    name = "unstained-he-unpaired"
    task = "brightfield->he"
    modality = "brightfield"
    stain = "he"
    pairing = "unpaired"
    scale = 1
    in_channels = 3
    model = UnstainedBrightfield()
    description = (
        "distillation task, unpaired: train inputs and targets from disjoint tiles; val/test carry the aligned truth"
    )
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): dim unstained brightfield, unpaired training tiles"


class DarkfieldHeMisaligned(CmuDataset):
    name = "darkfield-he-misaligned"
    task = "darkfield->he"
    modality = "darkfield"
    stain = "he"
    pairing = "misaligned"
    scale = 1
    in_channels = 3
    model = UnstainedDarkfield()
    section = AdjacentSection()
    description = (
        "distillation paper's modality: dim dark-field of unstained tissue (RGB) -> H&E of a warped "
        "adjacent section; val/test scored against the aligned truth"
    )
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): dark-field of unstained tissue, target from a warped adjacent section"


class DarkfieldHeUnpaired(CmuDataset):
    name = "darkfield-he-unpaired"
    task = "darkfield->he"
    modality = "darkfield"
    stain = "he"
    pairing = "unpaired"
    scale = 1
    in_channels = 3
    model = UnstainedDarkfield()
    description = (
        "dark-field of unstained tissue -> H&E, unpaired: train inputs and targets from disjoint tiles; "
        "val/test carry the aligned truth"
    )
    simulated = f"{ONE_SLIDE} (CMU-1 H&E, CC0): dark-field of unstained tissue, unpaired training tiles"


class QpiIhc(SimulatedDataset):
    """scikit-image's 512 px IHC image: train and val on the left, test in a column on the right.

    Smoke-sized: two 192 px test tiles. The guard (one training tile; this model warps nothing)
    is the minimum the tiling rule allows, because the image has no room for more.
    """

    name = "qpi-ihc"
    task = "qpi->ihc"
    modality = "quantitative-phase"
    stain = "ihc-dab"
    pairing = "paired"
    scale = 1
    in_channels = 1
    source = sources.IHC
    deconvolution = Deconvolution(refs=(("H", 0.065), ("DAB", 0.20)), od_ref=1.4)
    model = QuantitativePhase(weights=(("H", 0.45), ("DAB", 0.30), ("T", 0.25)), seed=505)
    defaults = {"train_tile": 64, "train_stride": 32, "val_tile": 64, "test_tile": 192}
    size_note = "smoke-sized: a 512 px image gives 2 test tiles; use it to check a method runs, not to rank methods"
    description = "quantitative phase (1 channel) -> DAB/haematoxylin IHC, paired, smoke-sized (512 px colon image)"
    simulated = f"{ONE_SLIDE} (scikit-image IHC colon): quantitative phase from stain densities"

    def guard(self, shape) -> int:
        return self.tiles["train_tile"]

    def whole_boxes(self, shape, regions) -> list[whole_regions.Box]:
        """One region: the whole test column (smoke-sized, like the dataset)."""
        test = next(r for r in regions if r.split == "test")
        return [whole_regions.Box("whole-0", test.y0, test.x0, test.y1 - test.y0, test.x1 - test.x0)]

    def regions(self, shape) -> list[tiling.Region]:
        h, w = shape[:2]
        t, g = self.tiles, self.guard(shape)
        left = w - t["test_tile"] - g  # train and val: x < left; test: the right-most column
        return [
            tiling.Region("train", 0, h - t["val_tile"] - g, 0, left, t["train_tile"], t["train_stride"]),
            tiling.Region("val", h - t["val_tile"], h, 0, left, t["val_tile"], t["val_tile"]),
            tiling.Region("test", 0, h, w - t["test_tile"], w, t["test_tile"], t["test_tile"]),
        ]


DATASETS = (
    QpiHe,
    AfHeX4,
    UnstainedHeMisaligned,
    UnstainedHeUnpaired,
    DarkfieldHeMisaligned,
    DarkfieldHeUnpaired,
    QpiIhc,
)


@vbench.hookimpl
def vbench_register_datasets(register):
    for cls in DATASETS:
        register(cls)
