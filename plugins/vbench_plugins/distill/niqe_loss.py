"""The optional NIQE-guided term of the hybrid no-reference loss: a differentiable NIQE.

NIQE's pipeline (vbench's metric: luma, MSCN with the 7 x 7 Gaussian, AGGD features of 36 per
block at two scales, Mahalanobis-type distance to a model) with two changes that make it
differentiable: no 8-bit rounding, and the AGGD shape is found by piecewise-linear inversion of
its moment ratio instead of a nearest-grid-point search (the same grid 0.2:0.001:10). The model
is NIQE's pristine one when its parameter file is installed, else ``niqe-stain``'s fitted on the
train targets. Images must hold at least 2 x 2 blocks (192 px for 96 px blocks).

Training crops of that size come from the train inputs stitched back into regions by their
positions (``meta`` source / y / x); where no region holds one (unpaired data: scattered tiles),
from a mosaic of random tiles (its seams are part of what NIQE then sees).
"""

from __future__ import annotations

import math
import types
from functools import lru_cache

import torch

from .enhance import LUMA, interp


@lru_cache(maxsize=4)
def _shape_table(device: str):
    shapes = torch.arange(0.2, 10.0005, 0.001, dtype=torch.float64)
    ratio = torch.exp(2 * torch.lgamma(2 / shapes) - torch.lgamma(1 / shapes) - torch.lgamma(3 / shapes))
    return shapes.to(device), ratio.to(device)


def _gamma_ratio(a: torch.Tensor, p: float, q: float) -> torch.Tensor:
    return torch.exp(torch.lgamma(p / a) - torch.lgamma(q / a))


def aggd(v: torch.Tensor):
    """Differentiable AGGD fit of each row of ``v`` (B x M): (shape, left scale, right scale)."""
    eps = 1e-12
    sq = v * v
    neg = (v < 0).to(v.dtype)
    left = torch.sqrt((sq * neg).sum(1) / neg.sum(1).clamp_min(1) + eps)
    right = torch.sqrt((sq * (1 - neg)).sum(1) / (1 - neg).sum(1).clamp_min(1) + eps)
    g = left / right
    r_hat = v.abs().mean(1) ** 2 / (sq.mean(1) + eps)
    r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    shapes, ratio = _shape_table(str(v.device))
    alpha = interp(r_norm, ratio.to(v.dtype), shapes.to(v.dtype))
    factor = torch.sqrt(_gamma_ratio(alpha, 1.0, 3.0))
    return alpha, left * factor, right * factor


def _blocks(x: torch.Tensor, size: int) -> torch.Tensor:
    """N x H x W -> (N * blocks) x size x size, whole blocks only."""
    n, h, w = x.shape
    rb, cb = h // size, w // size
    b = x[:, : rb * size, : cb * size].reshape(n, rb, size, cb, size).permute(0, 1, 3, 2, 4)
    return b.reshape(n * rb * cb, size, size), rb * cb


def _block_features(coeffs: torch.Tensor, size: int) -> torch.Tensor:
    from vbench_plugins.metrics.no_reference.niqe import SHIFTS

    flat, nb = _blocks(coeffs, size)
    alpha, bl, br = aggd(flat.flatten(1))
    feats = [alpha, (bl + br) / 2]
    for dy, dx in SHIFTS:
        alpha, bl, br = aggd((flat * torch.roll(flat, shifts=(dy, dx), dims=(1, 2))).flatten(1))
        feats += [alpha, (br - bl) * _gamma_ratio(alpha, 2.0, 1.0), bl, br]
    return torch.stack(feats, 1).reshape(coeffs.shape[0], nb, 18)


def _mscn(img: torch.Tensor) -> torch.Tensor:
    from vbench_plugins.metrics.filters import correlate_replicate, gaussian_taps

    taps = gaussian_taps(7, 7.0 / 6.0)
    mu = correlate_replicate(img, taps)
    var = (correlate_replicate(img * img, taps) - mu * mu).abs()
    return (img - mu) / (torch.sqrt(var + 1e-8) + 1.0)  # eps: sqrt has no gradient at 0


def niqe_score(rgb: torch.Tensor, model) -> torch.Tensor:
    """Differentiable NIQE of N x 3 x H x W images in [0, 1] against ``model`` (a NiqeModel)."""
    from vbench_plugins.metrics.filters import imresize

    block = model.block
    if min(rgb.shape[-2:]) < 2 * block:
        raise ValueError(
            f"the NIQE term needs crops of at least {2 * block} px, got {tuple(rgb.shape[-2:])}; raise niqe_tile"
        )
    w = torch.tensor(LUMA, dtype=torch.float64, device=rgb.device).view(1, 3, 1, 1)
    gray = (rgb.double().clamp(0, 1) * w).sum(1) * 255.0
    gray = gray[:, : gray.shape[1] // block * block, : gray.shape[2] // block * block]
    f1 = _block_features(_mscn(gray), block)
    f2 = _block_features(_mscn(imresize(gray, 0.5)), block // 2)
    feats = torch.cat([f1, f2], 2)  # N x B x 36
    mu_d = feats.mean(1)
    centred = feats - mu_d[:, None]
    cov_d = centred.transpose(1, 2) @ centred / max(feats.shape[1] - 1, 1)
    mu_p = torch.as_tensor(model.mu, dtype=torch.float64, device=rgb.device).ravel()
    cov_p = torch.as_tensor(model.cov, dtype=torch.float64, device=rgb.device)
    diff = (mu_p - mu_d)[..., None]
    q = diff.transpose(1, 2) @ torch.linalg.pinv((cov_p + cov_d) / 2) @ diff
    return torch.sqrt(q.reshape(-1).clamp_min(1e-12)).float()


def load_model(kind: str, train) -> tuple[object, str]:
    """(NIQE model, what it is). ``kind``: 'auto' (pristine if installed, else fitted on the
    train targets), 'pristine' or 'stain'."""
    from vbench.errors import ConfigError, MetricNotApplicable

    if kind not in ("auto", "pristine", "stain"):
        raise ConfigError(f"distill: niqe_model must be auto, pristine or stain, got {kind!r}")
    if kind in ("auto", "pristine"):
        from vbench_plugins.metrics.no_reference import NIQE

        try:
            return NIQE().model(), "NIQE pristine model (Mittal et al. 2013)"
        except MetricNotApplicable:
            if kind == "pristine":
                raise
    from vbench_plugins.metrics.no_reference import niqe_stain

    # fit_dataset reads only .name and .samples("train"); the train tiles are what it needs
    source = types.SimpleNamespace(name="train split", samples=lambda split: list(train))
    model = niqe_stain.fit_dataset(source)
    return model, f"niqe-stain model {model.source}"


class Regions:
    """Random crops of ``size`` px from the train inputs stitched back into regions (inputs here
    are lists of C x H x W tensors at target resolution, with the samples' meta)."""

    def __init__(self, tensors, metas, size: int, seed: int):
        self.size, self.g = size, torch.Generator().manual_seed(seed)
        self.tensors = tensors
        self.canvases, self.windows = [], []
        groups: dict[str, list] = {}
        for t, m in zip(tensors, metas):
            m = m or {}
            if isinstance(m.get("y"), int) and isinstance(m.get("x"), int) and m.get("size"):
                f = t.shape[-1] / m["size"]
                groups.setdefault(str(m.get("source", "")), []).append((round(m["y"] * f), round(m["x"] * f), t))
        for tiles in groups.values():
            y0, x0 = min(y for y, _, _ in tiles), min(x for _, x, _ in tiles)
            h = max(y + t.shape[-2] for y, _, t in tiles) - y0
            w = max(x + t.shape[-1] for _, x, t in tiles) - x0
            canvas = torch.zeros(tiles[0][2].shape[0], h, w)
            cover = torch.zeros(h + 1, w + 1)
            for y, x, t in tiles:
                canvas[:, y - y0 : y - y0 + t.shape[-2], x - x0 : x - x0 + t.shape[-1]] = t
                cover[y - y0 + 1 : y - y0 + 1 + t.shape[-2], x - x0 + 1 : x - x0 + 1 + t.shape[-1]] = 1
            ii = cover.cumsum(0).cumsum(1)  # windows wholly covered by tiles
            s = size
            if h < s or w < s:
                continue
            full = ii[s:, s:] - ii[:-s, s:] - ii[s:, :-s] + ii[:-s, :-s]
            ys, xs = torch.nonzero(full[: h - s + 1, : w - s + 1] >= s * s - 0.5, as_tuple=True)
            if len(ys):
                self.canvases.append(canvas)
                self.windows.append(torch.stack([ys, xs], 1))

    @property
    def stitched(self) -> bool:
        return bool(self.windows)

    def _int(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.g))

    def crop(self) -> torch.Tensor:
        """One C x size x size crop: a covered window of a region, else a mosaic of tiles."""
        s = self.size
        if self.windows:
            k = self._int(len(self.windows))
            y, x = self.windows[k][self._int(len(self.windows[k]))].tolist()
            return self.canvases[k][:, y : y + s, x : x + s]
        side = min(min(t.shape[-2:]) for t in self.tensors)
        n = math.ceil(s / side)
        rows = [
            torch.cat([self.tensors[self._int(len(self.tensors))][:, :side, :side] for _ in range(n)], 2)
            for _ in range(n)
        ]
        return torch.cat(rows, 1)[:, :s, :s]
