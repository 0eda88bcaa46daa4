"""No-reference metrics: NIQE with the authors' pristine model, and ``niqe-stain`` (NIQE with a
model fitted on the dataset's own train-split stains). Numerical code: ``niqe.py``,
``niqe_stain.py``, imported on first use."""

from __future__ import annotations

from pathlib import Path

from vbench.assets import Asset
from vbench.errors import MetricNotApplicable
from vbench.metric import NO_REFERENCE, ImageMetric

from ..pairings import ALL_PAIRINGS, LUMA, matlab_gray8

NIQE_PIPELINE = (
    f"{LUMA} rounded to 8 bit, float64; whole 96 px blocks at 2 scales (MATLAB imresize 0.5, "
    f"bicubic antialiased); MSCN with 7x7 Gaussian sigma 7/6, replicated borders; 36 AGGD features "
    f"per block; distance of the tile's feature Gaussian to the model (pinv)"
)


# Shipped in this plugin (``metrics/data/``), taken unchanged from BasicSR's sdist (see NOTICE).
NIQE_PRISTINE = Asset(
    "niqe-pristine",
    "niqe_pris_params.npz",
    "NIQE pristine model (mean and covariance of 36 NSS features) of Mittal et al.'s MATLAB release",
    location="vbench",
    sources=("pypi:basicsr==1.4.2:sdist:basicsr/metrics/niqe_pris_params.npz",),
    sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
    size=11850,
    licence="Apache-2.0 (BasicSR)",
    bundled=Path(__file__).parent.parent / "data" / "niqe_pris_params.npz",
)


class NIQE(ImageMetric):
    """NIQE with the pristine natural-image model of Mittal et al. (asset ``niqe-pristine``, shipped
    with this plugin)."""

    name = "niqe"
    curve_for = frozenset({"unpaired"})
    kind = NO_REFERENCE
    higher_is_better = False
    default_for = ALL_PAIRINGS
    min_size = 192
    assets = (NIQE_PRISTINE,)
    pipeline = NIQE_PIPELINE + "; pristine model of Mittal et al. 2013 (BasicSR niqe_pris_params.npz); tiles >= 192 px"

    def __init__(self):
        self._model = None

    def setup(self, dataset) -> None:
        super().setup(dataset)
        self.model()  # a missing parameter file is reported before any tile is scored

    def model(self):
        if self._model is None:
            import numpy as np

            from vbench.assets import require

            from .niqe import NiqeModel

            (asset,) = self.assets
            path = require(asset, self.name)
            with np.load(path) as params:
                self._model = NiqeModel(
                    mu=params["mu_pris_param"].ravel(), cov=params["cov_pris_param"], source=str(path)
                )
        return self._model

    def score(self, pred, ref):
        from . import niqe

        return niqe.niqe(matlab_gray8(pred), self.model())


class NIQEStain(ImageMetric):
    """NIQE whose model is fitted on the real stained targets of the dataset's train split."""

    name = "niqe-stain"
    kind = NO_REFERENCE
    higher_is_better = False
    default_for = ALL_PAIRINGS
    min_size = 192
    pipeline = (
        NIQE_PIPELINE + "; model fitted on this dataset's train-split targets (96 px blocks every 32 px "
        "of tiles or stitched regions, those sharper than 0.75 x each image's sharpest; smaller blocks, down "
        "to 48 px, when the train tiles are scattered and smaller), cached per manifest hash; tiles >= 192 px"
    )

    def __init__(self):
        self._model = None
        self._for = None

    def setup(self, dataset) -> None:
        super().setup(dataset)
        from .niqe_stain import model_for

        self._model, self._for = model_for(dataset), dataset.name

    def score(self, pred, ref):
        from . import niqe

        if self._model is None:
            raise MetricNotApplicable(
                "niqe-stain is fitted on a dataset's train-split targets; score with a dataset "
                "(`vbench score --dataset NAME`, or inside `vbench run`)"
            )
        return niqe.niqe(matlab_gray8(pred), self._model)


__all__ = ["NIQE", "NIQEStain", "NIQE_PIPELINE", "NIQE_PRISTINE"]
