"""Learning-to-Align: a registration network that warps the student's output onto the misaligned
target, so the target's pixels can supervise the student (training only; never at inference).

Flow convention: ``flow`` is N x 2 x H x W in pixels, (dy, dx); ``warp(img, flow)(p) =
img(p + flow(p))``, sampled bilinearly with border padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def identity_grid(n: int, h: int, w: int, device, dtype) -> torch.Tensor:
    ys = torch.arange(h, device=device, dtype=dtype)
    xs = torch.arange(w, device=device, dtype=dtype)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))
    return grid.unsqueeze(0).expand(n, 2, h, w)


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    n, _, h, w = img.shape
    loc = identity_grid(n, h, w, img.device, img.dtype) + flow
    # grid_sample wants (x, y) in [-1, 1], corner pixels at +-1 (align_corners=True)
    gy = 2.0 * loc[:, 0] / max(h - 1, 1) - 1.0
    gx = 2.0 * loc[:, 1] / max(w - 1, 1) - 1.0
    return F.grid_sample(img, torch.stack([gx, gy], dim=-1), mode="bilinear", padding_mode="border", align_corners=True)


def smoothness(flow: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring displacements (both directions)."""
    dy = flow[:, :, 1:, :] - flow[:, :, :-1, :]
    dx = flow[:, :, :, 1:] - flow[:, :, :, :-1]
    return (dy * dy).mean() + (dx * dx).mean()


class Aligner(nn.Module):
    """Predicts the flow that warps ``moving`` onto ``fixed`` from their concatenation: the shared
    residual U-Net with a zero-initialised head, so training starts from the identity."""

    def __init__(self, channels: int = 3, width: int = 32, depth: int = 4):
        super().__init__()
        from vbench_plugins.nets import UNet

        self.net = UNet(2 * channels, 2, width, depth)
        nn.init.zeros_(self.net.head.weight)
        nn.init.zeros_(self.net.head.bias)
        self.stride = self.net.stride

    def forward(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        from vbench_plugins.nets import pad_to_multiple

        x, (h, w) = pad_to_multiple(torch.cat([moving, fixed], dim=1), self.stride)
        return self.net(x)[..., :h, :w]


def dihedral(x: torch.Tensor, ks, flips, inverse: bool = False) -> torch.Tensor:
    """Per-sample flips then 90-degree rotations (k quarter turns) of N x C x H x W, or their inverse."""
    out = []
    for t, k, f in zip(x, ks, flips):
        if inverse:
            t = torch.rot90(t, -k, dims=(-2, -1))
            out.append(t.flip(-1) if f else t)
        else:
            out.append(torch.rot90(t.flip(-1) if f else t, k, dims=(-2, -1)))
    return torch.stack(out)


def align_losses(aligner: Aligner, output: torch.Tensor, target: torch.Tensor):
    """(correspondence L1 of the warped output to the target, flow smoothness, flow)."""
    flow = aligner(output, target)
    return F.l1_loss(warp(output, flow), target), smoothness(flow), flow
