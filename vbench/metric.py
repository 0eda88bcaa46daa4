"""Base class of quality metrics."""

from __future__ import annotations

from typing import ClassVar

FULL_REFERENCE = "full-reference"
NO_REFERENCE = "no-reference"


class Metric:
    """A per-tile quality metric.

    ``compute(pred, ref)`` receives N x 3 x H x W float32 tensors in [0, 1] (``ref`` is None for
    no-reference metrics) and returns N scores. ``pipeline`` states how the images are converted
    before scoring (bit depth, channel, window...): it is shown in ``vbench metrics`` and tables.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = FULL_REFERENCE
    higher_is_better: ClassVar[bool] = True
    pipeline: ClassVar[str] = ""

    # Pairings whose default metric set includes this metric.
    default_for: ClassVar[set[str]] = set()

    def setup(self, dataset) -> None:
        """Optional: called once with the dataset before scoring its tiles (for example to fit a
        model on its train split). Raise ``vbench.errors.MetricNotApplicable`` when the metric
        cannot be computed on this dataset; the run records it as not computed with the reason."""

    def compute(self, pred, ref):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.compute")

    @property
    def needs_reference(self) -> bool:
        return self.kind == FULL_REFERENCE
