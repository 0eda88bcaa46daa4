"""Colour conversions with their conventions spelled out (all float64)."""

from __future__ import annotations

import torch

# Luma as MATLAB's rgb2gray computes it: the first row of the inverse of the NTSC (YIQ) matrix, i.e.
# BT.601's 0.299 / 0.587 / 0.114 to the precision MATLAB derives them. The official SSIM and NIQE
# values were computed on rgb2gray images (pyiqa uses 0.299 / 0.587 / 0.114 exactly, which moves a
# few pixels by one grey level after rounding).
LUMA_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)

# sRGB (IEC 61966-2-1) linear RGB -> CIE XYZ, D65 white, and the D65 / 2-degree reference white.
SRGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
D65_WHITE = (0.95047, 1.0, 1.08883)
_EPS, _KAPPA = 216.0 / 24389.0, 24389.0 / 27.0  # CIE's exact constants


def matlab_round(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero (MATLAB's round), not torch's round-half-to-even."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def luma8(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB in [0, 1] -> N x H x W luma as MATLAB ``rgb2gray`` gives it for 8-bit
    images: scaled to 0..255 and rounded half away from zero (floor(y + 0.5): y >= 0); float64."""
    r, g, b = (w * 255.0 for w in LUMA_WEIGHTS)
    y = rgb[:, 0].to(torch.float64) * r
    y.add_(rgb[:, 1].to(torch.float64), alpha=g).add_(rgb[:, 2].to(torch.float64), alpha=b)
    return y.add_(0.5).floor_()


def rgb8(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] scaled to 0..255 and rounded to 8-bit integers, float64."""
    return matlab_round(rgb.to(torch.float64) * 255.0)


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W sRGB in [0, 1] -> CIELAB (D65, 2-degree observer), float64."""
    c = rgb.to(torch.float64).clamp(0.0, 1.0)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = torch.tensor(SRGB_TO_XYZ, dtype=torch.float64, device=c.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    white = torch.tensor(D65_WHITE, dtype=torch.float64, device=c.device).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(t > _EPS, t.clamp(min=_EPS) ** (1.0 / 3.0), (_KAPPA * t + 16.0) / 116.0)
    lab_l = 116.0 * f[:, 1] - 16.0
    lab_a = 500.0 * (f[:, 0] - f[:, 1])
    lab_b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack([lab_l, lab_a, lab_b], dim=1)
