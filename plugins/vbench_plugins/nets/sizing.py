"""Fully convolutional inference on any size: pad to the network stride, crop back afterwards;
inputs of super-resolution datasets are brought to target resolution first."""

from __future__ import annotations

import torch.nn.functional as F


def pad_to_multiple(x, multiple: int):
    """Pads N x C x H x W on the bottom/right to multiples of ``multiple``; returns (padded, (H, W)).

    Reflection keeps image statistics at the border (zeros would read as a dark frame); inputs
    too small to reflect fall back to replication.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def upsample(x, scale: int):
    """Bicubic upsampling of N x C x h x w inputs in [0, 1] by the dataset scale (1: unchanged)."""
    if scale == 1:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0.0, 1.0)
