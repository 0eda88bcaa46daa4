"""The ResNet generator of CycleGAN (Johnson et al. 2016 layout, as Zhu et al. 2017 use it)."""

from __future__ import annotations

from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use instance, batch or none")


class ResBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            norm_layer(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            norm_layer(norm, channels),
        )

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """7x7 stem, two stride-2 downsamplings, ``blocks`` residual blocks at 4x width, two transposed
    convolutions back up, 7x7 head with tanh (images in [-1, 1]). Input size: multiple of 4."""

    stride = 4

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9, norm: str = "instance"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), norm_layer(norm, width), nn.ReLU(True)]
        for i in range(2):
            c = width * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm_layer(norm, 2 * c), nn.ReLU(True)]
        layers += [ResBlock(width * 4, norm) for _ in range(blocks)]
        for i in range(2):
            c = width * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                norm_layer(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
