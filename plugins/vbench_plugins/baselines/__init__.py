"""Simple baselines every method must beat."""

from __future__ import annotations

import vbench

from ..parameters import count, fraction


class MeanColorBaseline(vbench.Stainer):
    """Predicts the mean target colour of the training set everywhere."""

    name = "baseline-mean"
    pairings = {"paired", "misaligned", "unpaired"}

    def fit(self, train, ctx):
        import torch

        total, count = torch.zeros(3, dtype=torch.float64), 0
        for s in train:
            total += s.target.double().sum(dim=(1, 2))
            count += s.target.shape[1] * s.target.shape[2]
            ctx.step(samples=1)
        self.color = (total / max(count, 1)).float()

    def predict(self, inputs):
        n, _, h, w = inputs.shape
        s = self.ctx.scale
        return self.color.to(inputs.device).view(1, 3, 1, 1).expand(n, 3, h * s, w * s).clone()


class LinearBaseline(vbench.Stainer):
    """Per-pixel linear colour regression from the input channels (plus a bias) to RGB.

    Inputs are upsampled bicubically by the dataset scale first, so the map is fitted and applied
    at target resolution. Least squares in float64 over every training pixel (torch.linalg.lstsq).
    """

    name = "baseline-linear"
    pairings = {"paired", "misaligned"}

    def fit(self, train, ctx):
        import torch

        xtx, xty = None, None
        for s in train:
            x = _design(_upsample(s.input.unsqueeze(0), ctx.scale)).double()
            y = s.target.permute(1, 2, 0).reshape(-1, 3).double()
            xtx = x.T @ x if xtx is None else xtx + x.T @ x
            xty = x.T @ y if xty is None else xty + x.T @ y
            ctx.step(samples=1)
        # Normal equations accumulated per tile keep memory flat; lstsq solves them robustly.
        self.weights = torch.linalg.lstsq(xtx, xty).solution.float()

    def predict(self, inputs):
        x = _upsample(inputs, self.ctx.scale)
        n, _, h, w = x.shape
        design = _design(x)
        out = design @ self.weights.to(x.device)
        return out.reshape(n, h, w, 3).permute(0, 3, 1, 2).clamp(0.0, 1.0)


class ColorMapBaseline(vbench.Stainer):
    """Per-pixel non-linear colour map: a lookup table from the (quantised) input value to the
    mean target colour of the training pixels with that value.

    The table stores the mean residual of the per-pixel linear fit (baseline-linear) per bin, and
    predicts linear fit + residual of the pixel's bin: within a coarse multi-channel bin the
    linear part still follows the input, so it never does worse than the linear map on its
    training data. One input channel: 256 levels; C channels: ``levels ** C`` bins with at most
    ``max_bins`` (16 levels for 3 channels, 8 for 4). Sparse bins shrink towards the linear fit
    (a prior worth ``prior`` pixels); empty bins are the linear fit. Scale is handled like
    baseline-linear (inputs upsampled bicubically first). No spatial context at all: the floor
    that shows whether a method uses it.
    """

    name = "baseline-colormap"
    pairings = {"paired", "misaligned"}
    presets = {"default": {"max_bins": 4096, "prior": 4.0}}
    parameters = {
        "max_bins": count("the most colour bins of a multi-channel input (one channel: 256)", min=2, max=2**20),
        "prior": fraction("pixels' worth of the linear fit that sparse bins shrink towards", max=1e9),
    }

    def __init__(self, **params):
        super().__init__(**{"max_bins": 4096, "prior": 4.0, **params})

    def _levels(self, channels: int) -> int:
        return 256 if channels == 1 else max(2, int(self.max_bins ** (1.0 / channels) + 1e-9))

    def _index(self, x):
        """N x C x H x W in [0, 1] -> the bin of every pixel, (N*H*W,)."""
        import torch

        c = x.shape[1]
        levels = self._levels(c)
        q = (x.clamp(0, 1) * levels).long().clamp_max(levels - 1).permute(0, 2, 3, 1).reshape(-1, c)
        return (q * levels ** torch.arange(c, device=x.device)).sum(dim=1)

    def fit(self, train, ctx):
        import torch

        xtx, xty = None, None
        for s in train:
            d = _design(_upsample(s.input.unsqueeze(0), ctx.scale)).double()
            y = s.target.permute(1, 2, 0).reshape(-1, 3).double()
            xtx = d.T @ d if xtx is None else xtx + d.T @ d
            xty = d.T @ y if xty is None else xty + d.T @ y
        self.weights = torch.linalg.lstsq(xtx, xty).solution.float()

        nbins = self._levels(ctx.in_channels) ** ctx.in_channels
        sums = torch.zeros(nbins, 3, dtype=torch.float64)
        counts = torch.zeros(nbins, dtype=torch.float64)
        for s in train:  # second pass: mean residual of the linear fit per bin
            x = _upsample(s.input.unsqueeze(0), ctx.scale)
            idx = self._index(x)
            residual = s.target.permute(1, 2, 0).reshape(-1, 3).double() - (_design(x) @ self.weights).double()
            counts += torch.bincount(idx, minlength=nbins).double()
            sums.index_add_(0, idx, residual)
            ctx.step(samples=1)
        self.table = (sums / (counts + self.prior).unsqueeze(1)).float()

    def predict(self, inputs):
        x = _upsample(inputs, self.ctx.scale)
        n, _, h, w = x.shape
        out = _design(x) @ self.weights.to(x.device) + self.table.to(x.device)[self._index(x)]
        return out.reshape(n, h, w, 3).permute(0, 3, 1, 2).clamp(0.0, 1.0)


def _upsample(x, scale: int):
    import torch.nn.functional as F

    if scale == 1:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0.0, 1.0)


def _design(x):
    """N x C x H x W -> (N*H*W) x (C+1) pixel rows with a bias column."""
    import torch

    n, c, h, w = x.shape
    flat = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
    return torch.cat([flat, torch.ones(flat.shape[0], 1, dtype=flat.dtype, device=flat.device)], dim=1)


@vbench.hookimpl
def vbench_register_stainers(register):
    register(MeanColorBaseline)
    register(LinearBaseline)
    register(ColorMapBaseline)
