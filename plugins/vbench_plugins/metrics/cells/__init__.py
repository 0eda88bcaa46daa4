"""Cell-level metrics: whether nuclei are where they belong and have the right shape.

``nuclei-f1`` (with ``nuclei-precision`` and ``nuclei-recall``) matches nuclei detected in the
prediction with those of the reference one-to-one within a radius; ``nuclei-dice`` is the pixel
Dice of the two nuclear masks. Detection and matching: ``nuclei.py``. On misaligned data they
compare with the aligned truth when the dataset has it, else with the target registered to the
prediction (``registration/estimate.py``), counting only nuclei (and pixels) the registered target covers.
"""

from __future__ import annotations

import logging

from vbench.errors import MetricNotApplicable
from vbench.metric import FULL_REFERENCE, ImageMetric

from ..pairings import PAIRED
from ..registration.estimate import Settings
from .nuclei import Detector

log = logging.getLogger("vbench.metrics")

REFERENCE = (
    "against the aligned truth (paired data, or misaligned data that has it), else against the target "
    "registered to the prediction as in psnr@reg, counting only what the registered target covers"
)


class NucleiMetric(ImageMetric):
    kind = FULL_REFERENCE
    higher_is_better = True
    statistic = "f1"  # f1 | precision | recall | dice

    def __init__(self):
        self.detector = Detector()
        self.registration: Settings | None = None

    def setup(self, dataset) -> None:
        super().setup(dataset)
        self.detector, self.registration = Detector(), None
        if dataset is None:
            return
        from ..stain.deconvolution import stains_of_dataset

        stains, source = stains_of_dataset(dataset)
        if stains is None or "h" not in stains:
            raise MetricNotApplicable(
                f"{self.name} finds nuclei in the haematoxylin channel, and {source} of dataset {dataset.name!r} is "
                f"not known to hold haematoxylin (H&E: 'he', IHC: 'ihc-dab'). Declare the stain (`vbench datasets add "
                f"{dataset.name} PATH --stain he --replace` for your own data)"
            )
        test = dataset.samples("test")
        sizes = [s.meta.get("um_per_px") for s in test if isinstance(getattr(s, "meta", None), dict)]
        sizes = [float(v) for v in sizes if v]
        if sizes:
            self.detector = Detector(um_per_px=sizes[0])
        if dataset.pairing == "misaligned" and any(s.truth is None for s in test):
            self.registration = Settings(max_px=getattr(dataset, "max_displacement_px", None))

    def score(self, pred, ref):
        import numpy as np
        import torch

        from ..registration.estimate import register
        from .nuclei import detect, match

        values, blank = [], 0
        for p, r in zip(pred, ref):
            valid = None
            if self.registration is not None:
                reg = register(p, r, self.registration)
                r, valid = reg.target, reg.valid.numpy()
            found_p, found_r = detect(p, self.detector), detect(r, self.detector)
            cp, cr = found_p.centroids, found_r.centroids
            mp, mr = found_p.mask, found_r.mask
            if valid is not None:
                cp, cr = _inside(cp, valid), _inside(cr, valid)
                mp, mr = mp & valid, mr & valid
            blank += len(cp) == 0 and len(cr) > 0
            if self.statistic == "dice":
                total = int(mp.sum() + mr.sum())
                values.append(2.0 * float(np.logical_and(mp, mr).sum()) / total if total else float("nan"))
            else:
                values.append(getattr(match(cp, cr, self.detector.radius_px), self.statistic))
        if blank:
            log.warning(
                "%s: %d of %d predictions show no nuclei (no haematoxylin above the threshold) where the "
                "reference has some; they score 0",
                self.name,
                blank,
                len(values),
            )
        return torch.tensor(values, dtype=torch.float64)


def _inside(centroids, valid):
    import numpy as np

    if len(centroids) == 0:
        return centroids
    idx = np.clip(np.round(centroids).astype(int), 0, np.array(valid.shape) - 1)
    return centroids[valid[idx[:, 0], idx[:, 1]]]


def _nuclei_metric(name, statistic, what, default_for=frozenset()):
    text = Detector().text()
    undefined = (
        "a prediction without nuclei where the reference has some scores 0 (a note is logged); undefined "
        "where neither shows nuclei (precision: where the prediction shows none)"
    )
    return type(
        name.replace("-", "_").title().replace("_", ""),
        (NucleiMetric,),
        dict(
            name=name,
            statistic=statistic,
            default_for=default_for,
            __module__=__name__,
            pipeline=f"{text}; {what}; {REFERENCE}; {undefined}",
        ),
    )


MATCHING = (
    f"nuclei matched one-to-one by centroid distance within {Detector().radius_um:g} um (scipy linear_sum_assignment)"
)
CELL_METRICS = [
    _nuclei_metric("nuclei-f1", "f1", f"{MATCHING}; F1 = 2 matched / (predicted + reference nuclei)", PAIRED),
    _nuclei_metric("nuclei-precision", "precision", f"{MATCHING}; matched / predicted nuclei"),
    _nuclei_metric("nuclei-recall", "recall", f"{MATCHING}; matched / reference nuclei"),
    _nuclei_metric("nuclei-dice", "dice", "pixel Dice of the two nuclear masks, 2 |P & R| / (|P| + |R|)", PAIRED),
]
