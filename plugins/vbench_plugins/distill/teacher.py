"""Teacher stage 2, colourisation: lightness in, chroma out, trained on the stained targets alone.

The network follows the layout of Zhang et al. 2017 ("Real-time user-guided image colorization",
the 'SIGGRAPH' generator the released code uses): convolution blocks at 1, 1/2, 1/4 and 1/8
resolution (strided subsampling between them), two dilated blocks, one more block, then three
transposed-convolution steps back up with additive shortcuts from the encoder, a 1x1 head and
tanh. Lightness enters as (L - 50) / 100, chroma leaves as ab / 110 (the reference scalings).
``width`` scales every layer (64 in the paper).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AB_SCALE = 110.0


def _block(cin: int, cout: int, n: int, dilation: int = 1) -> nn.Sequential:
    """``n`` 3x3 convolutions with ReLU, then instance normalisation (the reference's order)."""
    layers = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(True)]
    layers.append(nn.InstanceNorm2d(cout, affine=False))
    return nn.Sequential(*layers)


class Colorizer(nn.Module):
    stride = 8

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.enc = nn.ModuleList(
            [_block(1, w, 2), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 3), _block(4 * w, 8 * w, 3)]
        )
        self.mid = nn.Sequential(_block(8 * w, 8 * w, 3, 2), _block(8 * w, 8 * w, 3, 2), _block(8 * w, 8 * w, 3))
        self.up = nn.ModuleList(
            [
                nn.ConvTranspose2d(8 * w, 4 * w, 4, 2, 1),
                nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1),
                nn.ConvTranspose2d(2 * w, 2 * w, 4, 2, 1),
            ]
        )
        self.short = nn.ModuleList(
            [
                nn.Conv2d(4 * w, 4 * w, 3, padding=1),
                nn.Conv2d(2 * w, 2 * w, 3, padding=1),
                nn.Conv2d(w, 2 * w, 3, padding=1),
            ]
        )
        self.dec = nn.ModuleList(
            [
                nn.Sequential(nn.ReLU(True), _block(4 * w, 4 * w, 2)),
                nn.Sequential(nn.ReLU(True), _block(2 * w, 2 * w, 1)),
                nn.Sequential(nn.ReLU(True), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.LeakyReLU(0.2)),
            ]
        )
        self.head = nn.Sequential(nn.Conv2d(2 * w, 2, 1), nn.Tanh())

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """N x 1 x H x W, L/100 in [0, 1] (H, W multiples of 8) -> N x 2 x H x W, ab / 110."""
        h = lightness - 0.5
        feats = []
        for i, block in enumerate(self.enc):
            h = block(h if i == 0 else h[:, :, ::2, ::2])
            feats.append(h)
        h = self.mid(h)
        for up, short, dec, skip in zip(self.up, self.short, self.dec, reversed(feats[:3])):
            h = dec(up(h) + short(skip))
        return self.head(h)


def lab_of(rgb: torch.Tensor) -> torch.Tensor:
    """3 x H x W sRGB in [0, 1] -> 3 x H x W CIELAB (float32, on the CPU)."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb.detach().cpu().double().permute(1, 2, 0).clamp(0, 1).numpy())
    return torch.from_numpy(lab).permute(2, 0, 1).float()


def rgb_of(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Lightness (1 x H x W, L/100) and chroma (2 x H x W, ab/110) -> 3 x H x W sRGB in [0, 1]."""
    import warnings

    from skimage.color import lab2rgb

    lab = torch.cat([lightness.detach().cpu() * 100.0, ab.detach().cpu() * AB_SCALE]).double()
    with warnings.catch_warnings():  # predicted chroma may leave the sRGB gamut: clipped, as intended
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(lab.permute(1, 2, 0).numpy())
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()


def colorize(net: Colorizer, lightness: torch.Tensor) -> torch.Tensor:
    """The teacher's stain for one 1 x H x W enhanced channel (any size): 3 x H x W in [0, 1]."""
    from vbench_plugins.nets import pad_to_multiple

    dev = next(net.parameters()).device
    net.eval()
    with torch.no_grad():
        x, (h, w) = pad_to_multiple(lightness[None].to(dev), net.stride)
        ab = net(x)[0, :, :h, :w]
    return rgb_of(lightness, ab)


def train_colorizer(net: Colorizer, lab_targets: list[torch.Tensor], params, ctx, seed: int) -> int:
    """Trains ``net`` on random crops of the targets' L -> ab (L1 on ab / 110). Returns the steps
    done. The steps count towards the run's step budget (``ctx.step``)."""
    from timm.optim import create_optimizer_v2

    from vbench_plugins.nets import CropSampler, check_finite

    light = [t[:1] / 100.0 for t in lab_targets]
    chroma = [t[1:] / AB_SCALE for t in lab_targets]
    sampler = CropSampler(light, chroma, params.teacher_tile, seed=seed, paired=True, augment=params.augment)
    if sampler.size % net.stride:
        sampler.size -= sampler.size % net.stride
    dev = torch.device(ctx.device)
    opt = create_optimizer_v2(net, "adam", lr=params.teacher_lr, betas=(0.9, 0.99), weight_decay=0.0)
    net.train()
    step = 0
    while step < params.teacher_steps:
        x, y = (t.to(dev) for t in sampler.batch(params.teacher_batch))
        with ctx.autocast():
            loss = F.l1_loss(net(x).float(), y)
        check_finite(step + 1, {"teacher": loss.detach()}, f"lower teacher_lr ({params.teacher_lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if not ctx.step(samples=params.teacher_batch, stage="teacher", teacher=float(loss.detach())):
            break
    net.eval()
    return step
