"""Simple baselines every method must beat."""

from __future__ import annotations

import vbench


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
