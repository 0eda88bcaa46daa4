"""SSIM as defined by Wang et al. (2004) and their MATLAB reference ``ssim_index.m``.

Per window: SSIM = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
with an 11 x 11 Gaussian window (sigma 1.5) applied by ``filter2(..., 'valid')``, K1 = 0.01,
K2 = 0.03, L = 255 (images are scaled to 0..255 and rounded to 8 bit first), and the score is the
mean of the SSIM map. No downsampling and no clamping of negative terms (pyiqa clamps the
contrast-structure term at 0, which changes images with locally anti-correlated structure).
"""

from __future__ import annotations

import torch

from ..color import luma8, rgb8
from ..filters import correlate_valid, gaussian_taps

WINDOW, SIGMA, K1, K2, PEAK = 11, 1.5, 0.01, 0.03, 255.0


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM map of N x H x W float64 images in 0..255 ('valid' region, N x (H-10) x (W-10))."""
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW} x {WINDOW} px, got {tuple(x.shape[-2:])}")
    taps = gaussian_taps(WINDOW, SIGMA)
    c1, c2 = (K1 * PEAK) ** 2, (K2 * PEAK) ** 2
    n = x.shape[0]
    stats = correlate_valid(torch.cat([x, y, x * x, y * y, x * y]), taps)
    mx, my, xx, yy, xy = stats.split(n)
    mx2, my2, mxy = mx * mx, my * my, mx * my
    num = (2.0 * mxy + c1) * (2.0 * (xy - mxy) + c2)
    den = (mx2 + my2 + c1) * ((xx - mx2) + (yy - my2) + c2)
    return num / den


def ssim_luma(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SSIM of N x 3 x H x W RGB images in [0, 1] on BT.601 luma rounded to 8 bit."""
    return ssim_map(luma8(pred), luma8(ref)).flatten(1).mean(dim=1)


def ssim_rgb(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SSIM computed on each of R, G, B (rounded to 8 bit) and averaged over the channels."""
    n, c = pred.shape[:2]
    x = rgb8(pred).reshape(n * c, *pred.shape[-2:])
    y = rgb8(ref).reshape(n * c, *ref.shape[-2:])
    return ssim_map(x, y).flatten(1).mean(dim=1).reshape(n, c).mean(dim=1)
