"""NIQE (Mittal, Soundararajan and Bovik, "Making a 'completely blind' image quality analyzer",
IEEE SPL 2013), following the conventions of the authors' MATLAB release so that their pristine
model parameters apply unchanged.

Pipeline of one image: 8-bit grey levels (0..255, float64); crop to whole 96 x 96 blocks; at two
scales (full, then MATLAB ``imresize(., 0.5)`` bicubic antialiased without rounding) compute MSCN
coefficients (x - mu) / (sigma + 1) with a 7 x 7 Gaussian window (sigma 7/6, replicated borders);
per block (96 px, then 48 px) fit an asymmetric generalised Gaussian (moment matching over the
shape grid 0.2:0.001:10) to the coefficients (2 features: shape, mean of left/right scales) and to
their products with the horizontal, vertical and both diagonal neighbours (circularly shifted
inside the block; 4 features each: shape, mean, left and right scale): 18 features per scale,
36 per block. The image's features are summarised by their mean (ignoring NaN per feature) and
covariance (over blocks without NaN) and the score is
sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d)).

Fitting a model (for ``niqe-stain``) follows the release's ``estimatemodelparam.m``: the blocks
whose mean local sigma exceeds 0.75 x the image's sharpest block are pooled over all images.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..filters import correlate_replicate, gaussian_taps, imresize

BLOCK = 96
N_FEATURES = 36
SHARPNESS_THRESHOLD = 0.75
# (row, column) shifts of MATLAB's circshift for the four neighbour products.
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass
class NiqeModel:
    """A multivariate Gaussian of NIQE features (the 'pristine' model)."""

    mu: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    n_patches: int | None = None
    source: str = ""
    block: int = BLOCK  # side of the blocks the model was fitted on (and images are scored with)


@lru_cache(maxsize=1)
def _gamma_table() -> tuple[torch.Tensor, torch.Tensor]:
    from scipy.special import gamma

    shapes = 0.2 + 0.001 * np.arange(9801)  # 0.2:0.001:10
    ratio = gamma(2.0 / shapes) ** 2 / (gamma(1.0 / shapes) * gamma(3.0 / shapes))
    with torch.inference_mode(False):  # cached: usable under autograd whoever calls first
        return torch.from_numpy(shapes), torch.from_numpy(ratio)


def _gamma_fn(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.lgamma(x))  # arguments here are positive (1/alpha, 2/alpha, 3/alpha)


def aggd_fit(v: torch.Tensor):
    """Moment-matching fit of an asymmetric generalised Gaussian to each row of ``v`` (B x M).

    Returns (shape, left scale, right scale), each of length B. Like the MATLAB release, a row
    without negative (or positive) values gets NaN scales and, since MATLAB's ``min`` returns the
    first index when every difference is NaN, the smallest shape of the grid (0.2).
    """
    neg = v < 0
    sq = v * v
    m = v.shape[1]
    n_neg, n_pos = neg.sum(dim=1), (v > 0).sum(dim=1)
    sq_all = sq.sum(dim=1)
    sq_neg = torch.where(neg, sq, 0.0).sum(dim=1)
    left = torch.sqrt(sq_neg / n_neg)  # 0/0 -> NaN, as mean([]) in MATLAB
    right = torch.sqrt((sq_all - sq_neg) / n_pos)  # zeros add nothing to either side
    gamma_hat = left / right
    r_hat = (v.abs().sum(dim=1) / m) ** 2 / (sq_all / m)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    shapes, ratio = _gamma_table()
    shapes, ratio = shapes.to(v.device), ratio.to(v.device)
    # ratio grows monotonically with the shape, so the grid point nearest to r_norm is one of the
    # two neighbours of its insertion point (equivalent to MATLAB's min((ratio - r_norm).^2)).
    target = torch.nan_to_num(r_norm, nan=-1.0)
    hi = torch.searchsorted(ratio, target.contiguous()).clamp(1, len(ratio) - 1)
    lo = hi - 1
    pick = torch.where((ratio[hi] - target).abs() < (ratio[lo] - target).abs(), hi, lo)
    pick = torch.where(torch.isnan(r_norm), torch.zeros_like(pick), pick)
    alpha = shapes[pick]
    factor = torch.sqrt(_gamma_fn(1.0 / alpha) / _gamma_fn(3.0 / alpha))
    return alpha, left * factor, right * factor


def _block_features(mscn: torch.Tensor, size: int) -> torch.Tensor:
    """N x H x W MSCN maps -> N x blocks x 18 features of non-overlapping size x size blocks, in
    MATLAB blkproc order (down the rows first)."""
    n, h, w = mscn.shape
    rb, cb = h // size, w // size
    blocks = mscn[:, : rb * size, : cb * size].reshape(n, rb, size, cb, size).permute(0, 3, 1, 2, 4)
    return _features_of_blocks(blocks.reshape(n, cb * rb, size, size))


def _features_of_blocks(blocks: torch.Tensor) -> torch.Tensor:
    n, nb, s, _ = blocks.shape
    flat = blocks.reshape(n * nb, s, s)
    feats = []
    alpha, bl, br = aggd_fit(flat.reshape(n * nb, -1))
    feats += [alpha, (bl + br) / 2.0]
    for dy, dx in SHIFTS:
        pair = (flat * torch.roll(flat, shifts=(dy, dx), dims=(1, 2))).reshape(n * nb, -1)
        alpha, bl, br = aggd_fit(pair)
        mean = (br - bl) * (_gamma_fn(2.0 / alpha) / _gamma_fn(1.0 / alpha))
        feats += [alpha, mean, bl, br]
    return torch.stack(feats, dim=1).reshape(n, nb, 18)


def mscn(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(MSCN coefficients, local sigma) of N x H x W float64 grey images."""
    taps = gaussian_taps(7, 7.0 / 6.0)
    mu = correlate_replicate(img, taps)
    sigma = torch.sqrt((correlate_replicate(img * img, taps) - mu * mu).abs())
    return (img - mu) / (sigma + 1.0), sigma


def features(gray: torch.Tensor, block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """NIQE features of N x H x W grey images (0..255, float64) on the grid of whole blocks.

    Returns (features N x blocks x 36, sharpness N x blocks)."""
    h, w = gray.shape[-2:]
    if h < block or w < block:
        raise ValueError(f"NIQE needs images of at least {block} x {block} px, got {h} x {w}")
    img = gray[:, : (h // block) * block, : (w // block) * block]
    out, sharpness = [], None
    for scale in (1, 2):
        coeffs, sigma = mscn(img)
        out.append(_block_features(coeffs, block // scale))
        if scale == 1:
            sharpness = _block_means(sigma, block)
            img = imresize(img, 0.5)
    return torch.cat(out, dim=2), sharpness


def _block_means(x: torch.Tensor, size: int) -> torch.Tensor:
    n, h, w = x.shape
    rb, cb = h // size, w // size
    return x[:, : rb * size, : cb * size].reshape(n, rb, size, cb, size).mean(dim=(2, 4)).transpose(1, 2).reshape(n, -1)


def strided_features(
    gray: torch.Tensor, keep: torch.Tensor | None, block: int = BLOCK, stride: int = 32, chunk: int = 256
):
    """Features of overlapping blocks (top-left corners every ``stride`` px) of one H x W grey image,
    MSCN computed over the whole image as in NIQE. ``keep`` (H x W bool) marks usable pixels: a
    block is used only when it and a 10 px margin around it (the reach of the filters at both
    scales) are usable or outside the image. Returns (features B x 36, sharpness B)."""
    h, w = gray.shape
    h2, w2 = h - h % 2, w - w % 2
    img = gray[None, :h2, :w2]
    ys = torch.arange(0, h2 - block + 1, stride)
    xs = torch.arange(0, w2 - block + 1, stride)
    corners = torch.cartesian_prod(ys, xs)
    if keep is not None and len(corners):
        margin = 10
        bad = torch.nn.functional.pad((~keep[:h2, :w2]).double()[None, None], (margin + 1, margin, margin + 1, margin))[
            0, 0
        ]
        integral = bad.cumsum(0).cumsum(1)
        y0, x0 = corners[:, 0], corners[:, 1]
        y1, x1 = y0 + block + 2 * margin, x0 + block + 2 * margin
        count = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        corners = corners[count == 0]
    if len(corners) == 0:
        return torch.zeros(0, N_FEATURES, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    coeffs1, sigma1 = mscn(img)
    coeffs2, _ = mscn(imresize(img, 0.5))
    offsets = torch.arange(block)
    feats, sharp = [], []
    for part in corners.split(chunk):
        rows = part[:, 0, None] + offsets  # b x 96
        cols = part[:, 1, None] + offsets
        b1 = coeffs1[0][rows[:, :, None], cols[:, None, :]]
        b2 = coeffs2[0][(rows[:, ::2] // 2)[:, :, None], (cols[:, ::2] // 2)[:, None, :]]
        sharp.append(sigma1[0][rows[:, :, None], cols[:, None, :]].mean(dim=(1, 2)))
        feats.append(torch.cat([_features_of_blocks(b1[None])[0], _features_of_blocks(b2[None])[0]], dim=1))
    return torch.cat(feats), torch.cat(sharp)


def nanmean_cov(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB nanmean (per feature, ignoring NaN) and nancov (rows with any NaN removed, N-1
    normalisation) of ... x B x F features."""
    finite = ~torch.isnan(feats)
    mean = torch.where(finite, feats, 0.0).sum(dim=-2) / finite.sum(dim=-2)
    complete = finite.all(dim=-1, keepdim=True)
    k = complete.sum(dim=-2, keepdim=True).to(feats.dtype)  # ... x 1 x 1
    cmean = torch.where(complete, feats, 0.0).sum(dim=-2, keepdim=True) / k
    centred = torch.where(complete, feats - cmean, 0.0)
    cov = centred.transpose(-1, -2) @ centred / (k - 1).clamp(min=1.0)
    cov = torch.where(k > 0, cov, torch.nan)
    return mean, cov


def score(feats: torch.Tensor, model: NiqeModel) -> torch.Tensor:
    """NIQE of each image from its N x B x 36 block features."""
    mu_d, cov_d = nanmean_cov(feats)
    mu_p = torch.as_tensor(np.ravel(model.mu), dtype=torch.float64, device=feats.device)
    cov_p = torch.as_tensor(model.cov, dtype=torch.float64, device=feats.device)
    diff = (mu_p - mu_d).unsqueeze(-1)  # N x 36 x 1
    bad = torch.isnan(diff).any(dim=(1, 2)) | torch.isnan(cov_d).any(dim=(1, 2))
    pooled = torch.where(bad[:, None, None], 0.0, (cov_p + cov_d) / 2.0)
    # MATLAB pinv: singular values below max(size) * eps * the largest one are dropped. numpy's
    # batched SVD is much faster than torch's for many small matrices on the CPU.
    inv = torch.from_numpy(np.linalg.pinv(pooled.cpu().numpy(), rcond=N_FEATURES * np.finfo(np.float64).eps))
    inv = inv.to(feats.device)
    q = (diff.transpose(1, 2) @ inv @ torch.nan_to_num(diff)).reshape(-1)
    q = torch.sqrt(q.clamp(min=0.0))
    return torch.where(bad, torch.nan, q)


def niqe(gray: torch.Tensor, model: NiqeModel) -> torch.Tensor:
    """NIQE of N x H x W grey images (0..255 float64)."""
    feats, _ = features(gray, model.block)
    return score(feats, model)


def fit(
    images, keeps=None, stride: int | None = None, threshold: float = SHARPNESS_THRESHOLD, block: int = BLOCK
) -> NiqeModel:
    """Fits a NIQE model on grey images (each H x W, 0..255 float64): per image, the blocks sharper
    than ``threshold`` x its sharpest block; then the mean and covariance of all of them.

    ``stride`` None uses NIQE's non-overlapping grid; an int uses overlapping blocks (see
    :func:`strided_features`), for training regions too small to hold many whole blocks."""
    pooled = []
    keeps = keeps if keeps is not None else [None] * len(images)
    for img, keep in zip(images, keeps):
        if min(img.shape[-2:]) < block:
            continue
        if stride is None:
            f, s = features(img[None], block)
            f, s = f[0], s[0]
        else:
            f, s = strided_features(img, keep, block=block, stride=stride)
        if len(s) == 0:
            continue
        pooled.append(f[s > threshold * s.max()])
    allf = torch.cat(pooled) if pooled else torch.zeros(0, N_FEATURES, dtype=torch.float64)
    mean, cov = nanmean_cov(allf[None])
    return NiqeModel(mu=mean[0].numpy(), cov=cov[0].numpy(), n_patches=int(allf.shape[0]), block=block)
