"""Pixel metrics: PSNR, SSIM and CIEDE2000, each class stating its real pipeline. The numerical
code (``psnr.py``, ``ssim.py``, ``ciede2000.py``) is imported on first use, so the CLI starts
without importing torch."""

from __future__ import annotations

from vbench.metric import FULL_REFERENCE, ImageMetric

from ..pairings import CURVE, LUMA, PAIRED, SSIM_WINDOW


class PSNR(ImageMetric):
    name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    unit = "dB"
    rank_priority = 0  # ranks a board that has it
    default_for = PAIRED
    curve_for = CURVE
    pipeline = (
        "RGB in [0,1] as predicted (float32, no 8-bit rounding), MSE over all 3 channels and pixels "
        "summed in float64, peak 1, MSE + 1e-8 (identical tiles: 80 dB), no border crop"
    )

    def score(self, pred, ref):
        from .psnr import psnr

        return psnr(pred, ref)


class PSNRLuma(ImageMetric):
    name = "psnr-y"
    kind = FULL_REFERENCE
    higher_is_better = True
    unit = "dB"
    pipeline = f"{LUMA} scaled to 255 and rounded to 8 bit, float64, peak 255, MSE + 1e-8 x 255^2, no border crop"

    def score(self, pred, ref):
        from .psnr import psnr_luma

        return psnr_luma(pred, ref)


class SSIM(ImageMetric):
    name = "ssim"
    kind = FULL_REFERENCE
    higher_is_better = True
    rank_priority = 1  # ranks a board without psnr
    default_for = PAIRED
    curve_for = CURVE
    min_size = 11
    pipeline = (
        f"{LUMA} scaled to 255 and rounded to 8 bit, float64; {SSIM_WINDOW}; no downsampling, no "
        f"clamping (Wang et al. 2004, MATLAB ssim_index.m)"
    )

    def score(self, pred, ref):
        from .ssim import ssim_luma

        return ssim_luma(pred, ref)


class SSIMRGB(ImageMetric):
    name = "ssim-rgb"
    kind = FULL_REFERENCE
    higher_is_better = True
    min_size = 11
    pipeline = (
        f"R, G and B each scaled to 255 and rounded to 8 bit, float64; SSIM per channel ({SSIM_WINDOW}), "
        f"mean over the 3 channels; no downsampling, no clamping"
    )

    def score(self, pred, ref):
        from .ssim import ssim_rgb

        return ssim_rgb(pred, ref)


class CIEDE2000(ImageMetric):
    name = "ciede2000"
    kind = FULL_REFERENCE
    higher_is_better = False
    unit = "ΔE00"
    default_for = PAIRED
    pipeline = (
        "sRGB in [0,1] -> CIELAB (D65, 2 deg observer), float64, no 8-bit rounding; per-pixel CIEDE2000 "
        "(kL = kC = kH = 1, Sharma et al. 2005), mean over the tile"
    )

    def score(self, pred, ref):
        from .ciede2000 import mean_delta_e00

        return mean_delta_e00(pred, ref)


__all__ = ["CIEDE2000", "PSNR", "PSNRLuma", "SSIM", "SSIMRGB"]
