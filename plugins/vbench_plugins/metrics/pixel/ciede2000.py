"""CIEDE2000 colour difference (CIE 142-2001), following the implementation notes of Sharma, Wu
and Dalal, "The CIEDE2000 color-difference formula: implementation notes, supplementary test
data, and mathematical observations", Color Res. Appl. 30(1), 2005 (kL = kC = kH = 1)."""

from __future__ import annotations

import torch

from ..color import srgb_to_lab


def delta_e00(lab1: torch.Tensor, lab2: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Per-element CIEDE2000 between two CIELAB tensors whose L, a, b are along ``dim``."""
    l1, a1, b1 = lab1.to(torch.float64).unbind(dim)
    l2, a2, b2 = lab2.to(torch.float64).unbind(dim)
    c1 = torch.hypot(a1, b1)
    c2 = torch.hypot(a2, b2)
    c_bar7 = ((c1 + c2) / 2.0) ** 7
    g = 0.5 * (1.0 - torch.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    # hue angles in [0, 360); 0 where the chroma is 0 (a' = b = 0)
    h1p = torch.rad2deg(torch.atan2(b1, a1p)) % 360.0
    h2p = torch.rad2deg(torch.atan2(b2, a2p)) % 360.0
    zero = (c1p * c2p) == 0

    dlp = l2 - l1
    dcp = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(zero, torch.zeros_like(dh), dh)
    dhp = 2.0 * torch.sqrt(c1p * c2p) * torch.sin(torch.deg2rad(dh) / 2.0)

    lbp = (l1 + l2) / 2.0
    cbp = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    far = (h1p - h2p).abs() > 180.0
    hbp = torch.where(far, torch.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0), hsum / 2.0)
    hbp = torch.where(zero, hsum, hbp)

    t = (
        1.0
        - 0.17 * torch.cos(torch.deg2rad(hbp - 30.0))
        + 0.24 * torch.cos(torch.deg2rad(2.0 * hbp))
        + 0.32 * torch.cos(torch.deg2rad(3.0 * hbp + 6.0))
        - 0.20 * torch.cos(torch.deg2rad(4.0 * hbp - 63.0))
    )
    d_theta = 30.0 * torch.exp(-(((hbp - 275.0) / 25.0) ** 2))
    cbp7 = cbp**7
    rc = 2.0 * torch.sqrt(cbp7 / (cbp7 + 25.0**7))
    sl = 1.0 + 0.015 * (lbp - 50.0) ** 2 / torch.sqrt(20.0 + (lbp - 50.0) ** 2)
    sc = 1.0 + 0.045 * cbp
    sh = 1.0 + 0.015 * cbp * t
    rt = -torch.sin(torch.deg2rad(2.0 * d_theta)) * rc
    tl, tc, th = dlp / sl, dcp / sc, dhp / sh
    return torch.sqrt(tl * tl + tc * tc + th * th + rt * tc * th)


def mean_delta_e00(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 over the pixels of N x 3 x H x W sRGB images in [0, 1]."""
    return delta_e00(srgb_to_lab(pred), srgb_to_lab(ref), dim=1).flatten(1).mean(dim=1)


__all__ = ["delta_e00", "mean_delta_e00"]
