"""A U-Net with residual convolution blocks, average-pool downsampling and bilinear upsampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResConvBlock(nn.Module):
    """Three 3x3 convolutions with leaky ReLU and a residual connection (1x1 projection when the
    width changes)."""

    def __init__(self, cin: int, cout: int, slope: float = 0.1):
        super().__init__()
        layers = []
        for i in range(3):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), nn.LeakyReLU(slope, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.body(x) + self.skip(x)


class UNet(nn.Module):
    """``depth`` downsampling levels; widths ``width * 2**level``. Output is linear (no squashing):
    the stainer clamps to [0, 1] when it predicts. Input size must be a multiple of ``stride``."""

    def __init__(self, in_channels: int, out_channels: int = 3, width: int = 64, depth: int = 4):
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.stride = 2**depth
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.down = nn.ModuleList(ResConvBlock(widths[max(i - 1, 0)], widths[i]) for i in range(depth))
        self.bottom = ResConvBlock(widths[depth - 1], widths[depth])
        self.up = nn.ModuleList(ResConvBlock(widths[i + 1] + widths[i], widths[i]) for i in range(depth))
        self.head = nn.Conv2d(width, out_channels, 1)

    def forward(self, x):
        h = self.stem(x)
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = F.avg_pool2d(h, 2)
        h = self.bottom(h)
        for block, skip in zip(reversed(self.up), reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], dim=1))
        return self.head(h)
