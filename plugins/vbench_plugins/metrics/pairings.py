"""What the metric families share: the pairings a metric defaults to, and the luma convention."""

from __future__ import annotations

PAIRED = frozenset({"paired", "misaligned"})
ALL_PAIRINGS = frozenset({"paired", "misaligned", "unpaired"})
# anytime curves: psnr/ssim on aligned pairs (and on unpaired data against its aligned truth, where
# it has one), psnr@reg on misaligned pairs, niqe on unpaired data without a truth
CURVE = frozenset({"paired", "unpaired"})
LUMA = "luma as MATLAB rgb2gray (0.2989 R + 0.5870 G + 0.1140 B)"
SSIM_WINDOW = "11x11 Gaussian sigma 1.5, 'valid' filtering, K1 0.01, K2 0.03, L 255, mean of the SSIM map"


def matlab_gray8(rgb):
    """MATLAB rgb2gray of 8-bit images (float64 N x H x W in 0..255); see ``color.luma8``."""
    from .color import luma8

    return luma8(rgb)


MATLAB_GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)
