"""Peak signal-to-noise ratio, batched."""

from __future__ import annotations

import torch

from ..color import luma8

# Added to the MSE (as pyiqa does) so identical images score a finite 80 dB instead of infinity.
MSE_EPS = 1e-8


def psnr(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of N x C x H x W images in [0, 1]: MSE over all channels and pixels (differences
    in the inputs' precision, squares summed in float64), peak 1, no rounding, no border crop."""
    diff = (pred - ref).flatten(1)
    mse = torch.linalg.vector_norm(diff, dim=1, dtype=torch.float64) ** 2 / diff.shape[1]
    return 10.0 * torch.log10(1.0 / (mse + MSE_EPS))


def psnr_luma(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """PSNR on the BT.601 luma channel, rounded to 8 bit, peak 255."""
    diff = luma8(pred) - luma8(ref)
    mse = diff.square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(255.0**2 / (mse + MSE_EPS * 255.0**2))
