"""Stain metrics: agreement of stain amounts (``stain-corr``, ``stain-mae`` and per stain) between
prediction and reference after colour deconvolution (``deconvolution.py``, imported on first use)."""

from __future__ import annotations

import logging

from vbench.errors import MetricNotApplicable
from vbench.metric import FULL_REFERENCE, ImageMetric

from ..pairings import PAIRED

log = logging.getLogger("vbench.metrics")


DECONV = "colour deconvolution (Ruifrok & Johnston H/E/DAB vectors), OD = -log10(max(I, 1/255)), amounts clipped at 0"


class StainAgreement(ImageMetric):
    """Agreement of stain amounts between prediction and reference. ``stain`` None means the
    two stains of the dataset's target (H&E: haematoxylin and eosin; IHC: haematoxylin and DAB),
    read from its declared ``stain``, else from its task."""

    kind = FULL_REFERENCE
    stain: str | None = None
    statistic = "corr"  # corr | mae

    def __init__(self):
        self._stains = (self.stain,) if self.stain else None

    def setup(self, dataset) -> None:
        super().setup(dataset)
        if self.stain is None:
            from .deconvolution import stains_of_dataset

            stains, source = stains_of_dataset(dataset)
            if stains is None:
                raise MetricNotApplicable(
                    f"{self.name} needs the stains of the dataset's target to deconvolve colours, and {source} of "
                    f"dataset {dataset.name!r} is neither H&E ('he') nor IHC ('ihc-dab'). Declare the stain (`vbench "
                    f"datasets add {dataset.name} PATH --stain he --replace` for your own data) or use the per-stain "
                    f"metrics (stain-h-{self.statistic}, ...) if they apply"
                )
            self._stains = stains

    def score(self, pred, ref):
        import torch

        from .deconvolution import agreement

        stains = self._stains
        if stains is None:
            raise MetricNotApplicable(
                f"{self.name} averages over the stains of a dataset's task; without a dataset use stain-h-"
                f"{self.statistic}, stain-e-{self.statistic} or stain-dab-{self.statistic}"
            )
        corr, mae = agreement(pred, ref, stains)
        if self.statistic == "mae":
            return mae.mean(dim=1)
        return torch.nanmean(corr, dim=1)  # a stain absent from both tiles has no correlation


STAIN_NAMES = {"h": "haematoxylin", "e": "eosin", "dab": "DAB"}  # as in deconvolution.py, which imports torch


def _stain_metric(name, stain, statistic, default_for=frozenset()):
    what = (
        f"{STAIN_NAMES[stain]} amount"
        if stain
        else "amount of each stain of the dataset's target (its declared stain, else its task; H&E: H, E; IHC: H, DAB)"
    )
    if statistic == "corr":
        stat, better = "Pearson correlation over the tile's pixels (undefined when a map is constant)", True
    else:
        stat, better = "mean absolute difference (OD units)", False
    mean = ", mean over the two stains" if stain is None else ""
    return type(
        name.replace("-", "_").title().replace("_", ""),
        (StainAgreement,),
        dict(
            name=name,
            stain=stain,
            statistic=statistic,
            higher_is_better=better,
            unit="" if statistic == "corr" else "OD",
            default_for=default_for,
            pipeline=f"{DECONV}; {stat} of the {what}{mean}",
            __module__=__name__,
        ),
    )


STAIN_METRICS = [
    _stain_metric("stain-corr", None, "corr", PAIRED),
    _stain_metric("stain-mae", None, "mae", PAIRED),
] + [_stain_metric(f"stain-{s}-{stat}", s, stat) for s in ("h", "e", "dab") for stat in ("corr", "mae")]


__all__ = ["STAIN_METRICS", "StainAgreement"]
