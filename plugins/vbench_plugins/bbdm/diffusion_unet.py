"""Networks: the shallow dimension-matching CNN and the time-conditioned U-Net of the bridge."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, ch), ch)


def _zero(module: nn.Module) -> nn.Module:
    # Residual branches start as the identity, which keeps early training stable.
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer times (Transformer / DDPM style)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class DimensionMatch(nn.Module):
    """Maps the C_in x h x w input to a 3 x (h*scale) x (w*scale) image: the bridge's end y.

    Shallow CNN: a per-pixel linear colour map of the bicubically upsampled input, plus a
    sub-pixel branch (two 3x3 convolutions at input resolution, then a convolution to
    3 * scale^2 channels rearranged by PixelShuffle) that learns the detail interpolation misses.
    """

    def __init__(self, in_channels: int, scale: int, width: int = 32):
        super().__init__()
        self.scale = int(scale)
        self.color = nn.Conv2d(in_channels, 3, 1)
        self.detail = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, padding_mode="reflect"),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1, padding_mode="reflect"),
            nn.SiLU(),
            _zero(nn.Conv2d(width, 3 * self.scale**2, 3, padding=1, padding_mode="reflect")),
            nn.PixelShuffle(self.scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = x if self.scale == 1 else F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return self.color(up) + self.detail(x)


def _resample(x: torch.Tensor, how: str) -> torch.Tensor:
    if how == "down":
        return F.avg_pool2d(x, 2)
    if how == "up":
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    return x


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice; the time embedding scales and shifts the second norm.
    ``resample`` "down" / "up" halves / doubles the resolution between the first norm and conv
    (ADM's resblock_updown, which BBDM's reference U-Net uses)."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float = 0.0, resample: str = ""):
        super().__init__()
        self.resample = resample
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.drop = _norm(cout), nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_resample(F.silu(self.norm1(x)), self.resample))
        x = _resample(x, self.resample)
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over pixels (torch's scaled_dot_product_attention)."""

    def __init__(self, ch: int, head_channels: int = 32):
        super().__init__()
        self.heads = max(1, ch // head_channels)
        self.norm = _norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """Time-conditioned U-Net (DDPM/ADM layout): one level per channel multiplier in ``mult``,
    ``blocks`` residual blocks each, self-attention at the levels listed in ``attention``
    (0 = the top level) and always in the middle. ``updown``: strided / nearest-neighbour
    convolutions between levels ("conv") or ADM's down / up residual blocks ("resblock", as
    BBDM's reference). ``patch`` > 1 folds patch x patch pixels into
    channels first (PixelUnshuffle) and unfolds them at the end, so every level runs at 1/patch
    resolution: the CPU preset's economy. Inputs of any size are reflect-padded to a multiple of
    the total downsampling and cropped back."""

    def __init__(
        self,
        in_channels: int = 6,
        out_channels: int = 3,
        width: int = 32,
        mult: tuple[int, ...] = (1, 2, 2),
        blocks: int = 1,
        attention: tuple[int, ...] = (2,),
        head_channels: int = 32,
        dropout: float = 0.0,
        patch: int = 1,
        updown: str = "conv",
    ):
        super().__init__()
        if updown not in ("conv", "resblock"):
            raise ValueError(f"unknown updown {updown!r}; use conv or resblock")
        self.width, self.patch = width, int(patch)
        self.factor = self.patch * 2 ** (len(mult) - 1)
        emb_dim = 4 * width
        self.time = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.fold = nn.PixelUnshuffle(self.patch) if self.patch > 1 else nn.Identity()
        self.unfold = nn.PixelShuffle(self.patch) if self.patch > 1 else nn.Identity()
        self.inp = nn.Conv2d(in_channels * self.patch**2, width, 3, padding=1)
        self.down = nn.ModuleList()
        chans, ch = [width], width
        for level, m in enumerate(mult):
            for _ in range(blocks):
                layer = nn.ModuleList([ResBlock(ch, width * m, emb_dim, dropout)])
                ch = width * m
                if level in attention:
                    layer.append(SelfAttention(ch, head_channels))
                self.down.append(layer)
                chans.append(ch)
            if level < len(mult) - 1:
                if updown == "resblock":
                    self.down.append(nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout, resample="down")]))
                else:
                    self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                chans.append(ch)
        self.mid = nn.ModuleList(
            [ResBlock(ch, ch, emb_dim, dropout), SelfAttention(ch, head_channels), ResBlock(ch, ch, emb_dim, dropout)]
        )
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for i in range(blocks + 1):
                layer = nn.ModuleList([ResBlock(ch + chans.pop(), width * m, emb_dim, dropout)])
                ch = width * m
                if level in attention:
                    layer.append(SelfAttention(ch, head_channels))
                if level > 0 and i == blocks:
                    up = ResBlock(ch, ch, emb_dim, dropout, resample="up") if updown == "resblock" else _Upsample(ch)
                    layer.append(up)
                self.up.append(layer)
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), _zero(nn.Conv2d(ch, out_channels * self.patch**2, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h0, w0 = x.shape[-2:]
        ph, pw = (-h0) % self.factor, (-w0) % self.factor
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        emb = self.time(timestep_embedding(t, self.width))
        h = self.inp(self.fold(x))
        skips = [h]
        for layer in self.down:
            for mod in layer:
                h = mod(h, emb) if isinstance(mod, (ResBlock, SelfAttention)) else mod(h)
            skips.append(h)
        for mod in self.mid:
            h = mod(h, emb)
        for layer in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            for mod in layer:
                h = mod(h, emb) if isinstance(mod, (ResBlock, SelfAttention)) else mod(h)
        return self.unfold(self.out(h))[..., :h0, :w0]


class _Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class BridgeNet(nn.Module):
    """The two trained parts together, so one EMA copy follows both."""

    def __init__(self, in_channels: int, scale: int, match_width: int = 32, **unet):
        super().__init__()
        self.match = DimensionMatch(in_channels, scale, match_width)
        self.unet = UNet(in_channels=6, out_channels=3, **unet)
