"""Base classes of quality metrics, their kinds and the applicability checks they share.

Metric kinds: ``full-reference`` (each prediction against the aligned stain of the same tissue),
``no-reference`` (each prediction alone) and ``distribution`` (the set of predictions against the
set of real stained targets, one number per run; for unpaired data).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .errors import ConfigError, MetricNotApplicable

if TYPE_CHECKING:
    from .assets import Asset

FULL_REFERENCE = "full-reference"
NO_REFERENCE = "no-reference"
DISTRIBUTION = "distribution"
KINDS = (FULL_REFERENCE, NO_REFERENCE, DISTRIBUTION)


class Metric:
    """A per-tile quality metric.

    ``compute(pred, ref)`` receives N x 3 x H x W float32 tensors in [0, 1] (``ref`` is None for
    no-reference metrics) and returns N scores.

    Attributes:

    ``name``: the name the metric is registered, selected (``-m NAME``) and stored under.
    ``kind``: one of ``KINDS`` (``full-reference``, ``no-reference``, ``distribution``).
    ``higher_is_better``: the direction leaderboards rank by.
    ``pipeline``: how the images are converted before scoring (bit depth, channel, window...);
    shown by ``vbench metrics list`` and stored with every score.
    ``unit``: the unit of its scores, shown in column headings and axis labels (``"dB"``,
    ``"ΔE00"``); ``""`` (the default) for a unitless score.
    ``display_name``: what headings call it; ``""`` (the default) shows ``name``.
    ``rank_priority``: whether and how early a leaderboard ranks by it when no metric is chosen
    with ``-m``: of the metrics a board has, the one with the lowest ``rank_priority`` ranks it, and
    the terminal table shows those with a priority first (lowest first). None (the default): never
    preferred; a board without any preferred metric is ranked by its first column (vbench's own
    metrics: PSNR 0, SSIM 1).
    Leaderboards copy ``unit``, ``display_name`` and ``rank_priority`` into each board (its JSON),
    so a board renders the same where the metric is not installed.
    ``default_for``: the pairings (``paired``, ``misaligned``, ``unpaired``) whose default metric
    set includes this metric.
    ``curve_for``: the pairings whose anytime validation curves (scored on validation tiles while a
    stainer trains, see docs/runs.md) use this metric: declare it only on cheap metrics.
    ``against``: what a full-reference metric compares each prediction with: ``reference`` (the
    aligned truth where the dataset has one, else the target) or ``target`` (the target as given,
    even where an aligned truth exists: for metrics that align it themselves, such as scoring
    against a registered target).
    ``assets``: the files the metric needs that are not code (weights, model parameters), as
    :class:`vbench.assets.Asset` objects. ``vbench assets status | fetch | import`` and the assets
    column of ``vbench metrics list`` gather them from the registered metrics; at run time the
    metric gets a verified path with ``vbench.assets.require(asset, self.name)``.
    ``assets_note``: what the assets column shows for a metric without declared assets whose
    library fetches files on its own (for example ``"pyiqa downloads (checked on first use)"``);
    empty: ``"none needed"``.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = FULL_REFERENCE
    higher_is_better: ClassVar[bool] = True
    pipeline: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    rank_priority: ClassVar[int | None] = None
    default_for: ClassVar[set[str]] = set()
    curve_for: ClassVar[set[str]] = set()
    against: ClassVar[str] = "reference"
    assets: ClassVar[tuple[Asset, ...]] = ()
    assets_note: ClassVar[str] = ""

    def setup(self, dataset) -> None:
        """Optional: called once with the dataset before scoring its tiles (for example to fit a
        model on its train split). Raise ``vbench.errors.MetricNotApplicable`` when the metric
        cannot be computed on this dataset; the run records it as not computed with the reason."""

    def compute(self, pred, ref):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.compute")

    def fetch_library_files(self, log=lambda msg: None) -> bool:
        """Optional: downloads files the metric's library fetches by itself, beyond the declared
        ``assets`` (which ``vbench assets fetch`` installs first). ``log`` takes progress lines.
        Returns whether there was anything to fetch; the default has nothing."""
        return False

    @property
    def needs_reference(self) -> bool:
        return self.kind == FULL_REFERENCE


def presentation(metric) -> dict:
    """What a leaderboard keeps of a registered metric (a class or an instance) besides its stored
    direction and pipeline: ``unit``, ``display_name`` (the name when not declared) and
    ``rank_priority``."""
    priority = getattr(metric, "rank_priority", None)
    return {
        "unit": str(getattr(metric, "unit", "") or ""),
        "display_name": str(getattr(metric, "display_name", "") or metric.name),
        "rank_priority": None if priority is None else int(priority),
    }


def full_reference_problem(name: str, dataset) -> str | None:
    """Why a full-reference metric cannot score ``dataset``'s test split, or None when it can."""
    if dataset is None:
        return None
    test = dataset.samples("test")
    if dataset.pairing == "unpaired" and any(s.truth is None for s in test):
        return (
            f"{name} is full-reference (it compares each prediction with the aligned stain of the same "
            f"tissue), but dataset {dataset.name!r} is unpaired: its targets are independent tiles and it "
            f"has no aligned ground truth. Use no-reference or distribution metrics for it "
            f"(`vbench metrics list` shows each metric's kind)"
        )
    if any(s.reference is None for s in test):
        return f"{name} is full-reference and dataset {dataset.name!r} has test tiles without a reference stain"
    return None


def smallest_test_tile(dataset) -> tuple[int, int] | None:
    sizes = [tuple(s.reference.shape[-2:]) if s.reference is not None else None for s in dataset.samples("test")]
    sizes = [sz for sz in sizes if sz is not None]
    return min(sizes, key=min) if sizes else None


class ImageMetric(Metric):
    """Base of per-tile metrics that check their input: ``compute`` validates the batch and calls
    ``score(pred, ref)``, which subclasses implement.

    ``min_size``: the smallest tile side the metric is defined on; smaller tiles raise
    MetricNotApplicable instead of returning a number computed on too few pixels.
    """

    min_size: ClassVar[int] = 1

    def setup(self, dataset) -> None:
        # The scoring engine applies the same rule to every metric, whatever it declares; this
        # keeps an ImageMetric honest when it is called directly (benchmarks, notebooks).
        if self.kind == FULL_REFERENCE:
            problem = full_reference_problem(self.name, dataset)
            if problem:
                raise MetricNotApplicable(problem)
        if dataset is not None and self.min_size > 1:
            small = smallest_test_tile(dataset)
            if small is not None and min(small) < self.min_size:
                raise MetricNotApplicable(self.too_small_message(small, f"dataset {dataset.name!r}'s test tiles"))

    def too_small_message(self, size, what: str = "the tiles") -> str:
        return (
            f"{self.name} needs images of at least {self.min_size} x {self.min_size} px and {what} are "
            f"{size[0]} x {size[1]} px; it is not computed on smaller tiles (score larger tiles or "
            f"stitched regions)"
        )

    def check(self, pred, ref):
        """Validates a batch: N x 3 x H x W predictions, a reference of the same shape when needed."""
        if pred.ndim != 4 or pred.shape[1] != 3:
            raise ValueError(f"{self.name}: predictions must be N x 3 x H x W, got {tuple(pred.shape)}")
        if self.kind == FULL_REFERENCE:
            if ref is None:
                raise MetricNotApplicable(f"{self.name} is full-reference and no reference images were given")
            if tuple(ref.shape) != tuple(pred.shape):
                raise ValueError(
                    f"{self.name}: prediction batch {tuple(pred.shape)} and reference batch "
                    f"{tuple(ref.shape)} differ in shape"
                )
        if min(pred.shape[-2:]) < self.min_size:
            raise MetricNotApplicable(self.too_small_message(tuple(pred.shape[-2:])))

    def compute(self, pred, ref):
        self.check(pred, ref)
        return self.score(pred, ref)

    def score(self, pred, ref):  # pragma: no cover - abstract
        raise NotImplementedError


class DistributionMetric(ImageMetric):
    """A metric of the whole set of predictions against the set of real stained targets.

    ``compute_set(preds, targets)`` takes iterables of N x 3 x H x W batches and returns one number.
    Per-tile scoring (``compute``) is not defined for it; the scoring engine tells it apart by
    its ``kind``.
    """

    kind: ClassVar[str] = DISTRIBUTION

    def setup(self, dataset) -> None:
        return None

    def compute(self, pred, ref):
        raise MetricNotApplicable(
            f"{self.name} is a distribution metric: it compares the set of predictions with the set of real "
            f"stained targets, not tile by tile, and this scorer only computes per-tile metrics"
        )

    def compute_set(self, preds, targets) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class TileGrid:
    """The tile grid a whole image was predicted on, in the image's own (output) pixels: tiles of
    ``tile`` px every ``tile - overlap`` px from the top left, the last one flush with the far edge
    (``vbench predict``'s tiling, its input-pixel sizes times the scale)."""

    tile: int
    overlap: int = 0

    def __post_init__(self):
        if isinstance(self.tile, bool) or not isinstance(self.tile, int) or self.tile < 2:
            raise ConfigError(f"tile {self.tile!r}: the tile side must be a whole number of pixels >= 2")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, int) or not 0 <= self.overlap < self.tile:
            raise ConfigError(
                f"overlap {self.overlap!r} with tile {self.tile}: the overlap must be >= 0 and smaller than the tile "
                f"(e.g. --tile {self.tile} --overlap {self.tile // 8})"
            )

    def starts(self, length: int) -> list[int]:
        """Tile origins along an axis of ``length`` px (the last flush with the end)."""
        if length <= self.tile:
            return [0]
        return list(range(0, length - self.tile, self.tile - self.overlap)) + [length - self.tile]

    def lines(self, length: int) -> list[int]:
        """Positions p of the grid lines inside the axis (between pixels p - 1 and p): every tile
        edge that is not an image border, sorted."""
        ends = {e for s in self.starts(length) for e in (s, s + self.tile)}
        return sorted(e for e in ends if 0 < e < length)


class WholeImageMetric(ImageMetric):
    """A metric of whole (stitched) images, computed in a stream of row bands so that memory does
    not grow with the image: ``start(height, width)`` returns a state, ``update(state, y, pred,
    ref)`` takes rows ``y .. y + h`` (3 x h x W float tensors in [0, 1], top to bottom, each row
    once; ``ref`` None for no-reference metrics) and ``finish(state)`` returns the score.

    ``grid`` is the :class:`TileGrid` the image was predicted on (None: not known); give it with
    ``with_grid``. ``needs_grid``: without one the metric is not computed. ``compute`` on an
    N x 3 x H x W batch streams each image in bands of ``band_rows`` rows.
    """

    needs_grid: ClassVar[bool] = False
    band_rows: ClassVar[int] = 256
    grid: TileGrid | None = None

    def with_grid(self, grid: TileGrid | None) -> WholeImageMetric:
        """A copy of this metric that knows the grid (the registered instance is shared)."""
        out = copy.copy(self)
        out.grid = grid
        return out

    def check_grid(self) -> None:
        if self.needs_grid and self.grid is None:
            raise MetricNotApplicable(
                f"{self.name} is not computed: it measures the tile grid the images were predicted on, and no grid "
                f"was given (`vbench score ... --tile T --overlap O`, in the images' own pixels)"
            )

    def start(self, height: int, width: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, state, y: int, pred, ref) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, state) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, pred, ref):
        import torch

        self.check_grid()
        out = []
        for n in range(pred.shape[0]):
            h, w = pred.shape[-2:]
            state = self.start(h, w)
            for y in range(0, h, self.band_rows):
                rows = slice(y, y + self.band_rows)
                self.update(state, y, pred[n, :, rows], None if ref is None else ref[n, :, rows])
            out.append(self.finish(state))
        return torch.tensor(out, dtype=torch.float64)


__all__ = [
    "DISTRIBUTION",
    "FULL_REFERENCE",
    "NO_REFERENCE",
    "KINDS",
    "Metric",
    "ImageMetric",
    "DistributionMetric",
    "full_reference_problem",
    "presentation",
    "smallest_test_tile",
    "TileGrid",
    "WholeImageMetric",
]
