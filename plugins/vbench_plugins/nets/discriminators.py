"""Discriminators: the PatchGAN of pix2pix/CycleGAN and a global (image-level) one."""

from __future__ import annotations

from torch import nn

from .resnet import norm_layer


class PatchDiscriminator(nn.Module):
    """4x4 convolutions: ``layers`` stride-2 steps, then two stride-1 ones; one score per patch.
    ``layers=3`` is the 70 x 70 PatchGAN. ``sigmoid`` squashes scores to (0, 1)."""

    def __init__(
        self, in_channels: int, width: int = 64, layers: int = 3, norm: str = "instance", sigmoid: bool = False
    ):
        super().__init__()
        seq = [nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        c = width
        for n in range(1, layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(c, out, 4, stride=stride, padding=1), norm_layer(norm, out), nn.LeakyReLU(0.2, True)]
            c = out
        seq.append(nn.Conv2d(c, 1, 4, stride=1, padding=1))
        if sigmoid:
            seq.append(nn.Sigmoid())
        self.net = nn.Sequential(*seq)

    def forward(self, x):
        return self.net(x)


class GlobalDiscriminator(nn.Module):
    """A convolutional stem, ``blocks`` blocks of (3x3 conv, 3x3 stride-2 conv) doubling the width,
    global average pooling and two fully connected layers with a sigmoid: one score per image."""

    def __init__(self, in_channels: int, width: int = 64, blocks: int = 5):
        super().__init__()
        seq = [nn.Conv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(0.1, True)]
        c = width
        for _ in range(blocks):
            seq += [
                nn.Conv2d(c, c, 3, padding=1),
                nn.LeakyReLU(0.1, True),
                nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
                nn.LeakyReLU(0.1, True),
            ]
            c *= 2
        seq += [
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(c, c),
            nn.LeakyReLU(0.1, True),
            nn.Linear(c, 1),
            nn.Sigmoid(),
        ]
        self.net = nn.Sequential(*seq)

    def forward(self, x):
        return self.net(x)
