"""vbench's own implementations of the standard image-quality metrics: PSNR, SSIM, NIQE.

Each class states its real pipeline; the numerical code lives in ``psnr.py``, ``ssim.py`` and
``niqe.py`` and is imported on first use (the CLI starts without importing torch).
"""

from __future__ import annotations

from pathlib import Path

from vbench.assets import Asset
from vbench.errors import MetricNotApplicable
from vbench.metric import FULL_REFERENCE, NO_REFERENCE, ImageMetric

PAIRED = frozenset({"paired", "misaligned"})
ALL_PAIRINGS = frozenset({"paired", "misaligned", "unpaired"})
LUMA = "luma as MATLAB rgb2gray (0.2989 R + 0.5870 G + 0.1140 B)"
SSIM_WINDOW = "11x11 Gaussian sigma 1.5, 'valid' filtering, K1 0.01, K2 0.03, L 255, mean of the SSIM map"


class PSNR(ImageMetric):
    name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    default_for = PAIRED
    pipeline = ("RGB in [0,1] as predicted (float32, no 8-bit rounding), MSE over all 3 channels and pixels "
                "summed in float64, peak 1, MSE + 1e-8 (identical tiles: 80 dB), no border crop")

    def score(self, pred, ref):
        from .psnr import psnr

        return psnr(pred, ref)


class PSNRLuma(ImageMetric):
    name = "psnr-y"
    kind = FULL_REFERENCE
    higher_is_better = True
    pipeline = f"{LUMA} scaled to 255 and rounded to 8 bit, float64, peak 255, MSE + 1e-8 x 255^2, no border crop"

    def score(self, pred, ref):
        from .psnr import psnr_luma

        return psnr_luma(pred, ref)


class SSIM(ImageMetric):
    name = "ssim"
    kind = FULL_REFERENCE
    higher_is_better = True
    default_for = PAIRED
    min_size = 11
    pipeline = (f"{LUMA} scaled to 255 and rounded to 8 bit, float64; {SSIM_WINDOW}; no downsampling, no "
                f"clamping (Wang et al. 2004, MATLAB ssim_index.m)")

    def score(self, pred, ref):
        from .ssim import ssim_luma

        return ssim_luma(pred, ref)


class SSIMRGB(ImageMetric):
    name = "ssim-rgb"
    kind = FULL_REFERENCE
    higher_is_better = True
    min_size = 11
    pipeline = (f"R, G and B each scaled to 255 and rounded to 8 bit, float64; SSIM per channel ({SSIM_WINDOW}), "
                f"mean over the 3 channels; no downsampling, no clamping")

    def score(self, pred, ref):
        from .ssim import ssim_rgb

        return ssim_rgb(pred, ref)


NIQE_PIPELINE = (f"{LUMA} rounded to 8 bit, float64; whole 96 px blocks at 2 scales (MATLAB imresize 0.5, "
                 f"bicubic antialiased); MSCN with 7x7 Gaussian sigma 7/6, replicated borders; 36 AGGD features "
                 f"per block; distance of the tile's feature Gaussian to the model (pinv)")


# Shipped in this package (``data/``), taken unchanged from BasicSR's sdist (see NOTICE).
NIQE_PRISTINE = Asset(
    "niqe-pristine", "niqe_pris_params.npz",
    "NIQE pristine model (mean and covariance of 36 NSS features) of Mittal et al.'s MATLAB release",
    location="vbench", sources=("pypi:basicsr==1.4.2:sdist:basicsr/metrics/niqe_pris_params.npz",),
    sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296", size=11850,
    licence="Apache-2.0 (BasicSR)", bundled=Path(__file__).parent / "data" / "niqe_pris_params.npz")


class NIQE(ImageMetric):
    """NIQE with the pristine natural-image model of Mittal et al. (asset ``niqe-pristine``, shipped
    with this plugin)."""

    name = "niqe"
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
                self._model = NiqeModel(mu=params["mu_pris_param"].ravel(), cov=params["cov_pris_param"],
                                        source=str(path))
        return self._model

    def score(self, pred, ref):
        from . import niqe

        return niqe.niqe(matlab_gray8(pred), self.model())


def matlab_gray8(rgb):
    """MATLAB rgb2gray of 8-bit images (float64 N x H x W in 0..255); see ``color.luma8``."""
    from .color import luma8

    return luma8(rgb)


MATLAB_GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)

__all__ = ["PSNR", "PSNRLuma", "SSIM", "SSIMRGB", "NIQE", "MetricNotApplicable", "matlab_gray8"]
