"""Registration of a misaligned target (an adjacent section) to a prediction, for ``@reg`` metrics.

Low freedom on purpose, so that registration can undo a section's shift and smooth stretch but
cannot reshape an unrelated image into the prediction:

1. both images to luma, each normalised to zero mean and unit spread (stains and predictions
   differ in brightness), and reduced by ``downsample`` (the field is smooth; 4x less work);
2. the tile's overall shift by cross-correlation of the whole tile
   (``skimage.registration.phase_cross_correlation``, unnormalised), ignored beyond ``max_px``;
   then a dense flow for what is left by TV-L1 optical flow
   (``skimage.registration.optical_flow_tvl1``) with a low ``attachment`` (a smooth flow);
3. an affine transform fitted to the flow by least squares (``skimage.transform.AffineTransform``),
   plus the residual flow smoothed by a Gaussian of ``smooth_px`` (it keeps stretch that varies
   over a tile, drops anything finer);
4. the displacement clipped to ``max_px``, the largest the dataset declares
   (``Dataset.max_displacement_px``), then the target resampled with ``skimage.transform.warp``
   (cubic). Pixels that would come from outside the tile are marked invalid, and metrics score
   only the valid ones;
5. the result is kept only when the registered target's luma correlates with the prediction's
   (Pearson r over the valid pixels) at least ``min_corr`` and better than without registration;
   otherwise the target is used as given. An output with inverted contrast (anti-correlated with
   the stain) is registered by its negative luma, kept when r <= -``min_corr``: it shows where the
   structure is all the same, and aligning it never raises its score. The sign of the unregistered
   correlation is tried first, then the other (a misaligned pair can correlate with either sign).
   On the validation split of the misaligned datasets, another tile's stain correlates at most
   0.29 with a target after registration, so a prediction of the wrong tile gains nothing.

The settings were chosen on the validation split of ``unstained-he-misaligned`` and
``darkfield-he-misaligned``, by the error of the estimated field against the simulated warp
(RMS over the tile, colour-map baseline, unstained / dark-field: 0.4 / 1.2 px at attachment 2,
1.0 / 2.2 px at attachment 10).

A prediction with no structure (a flat colour) gives the identity: there is nothing to align to.
Results are cached per (prediction, target) pair, so ``psnr@reg`` and ``ssim@reg`` register once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

# Undeclared bound: an eighth of the tile side (32 px on 256 px tiles).
DEFAULT_FRACTION = 0.125
FLAT_STD = 1e-3  # luma spread (0..1 scale) below which an image has nothing to align to


@dataclass(frozen=True)
class Settings:
    max_px: float | None = None  # None: DEFAULT_FRACTION of the tile side
    downsample: int = 2
    smooth_px: float = 24.0
    attachment: float = 2.0
    tightness: float = 0.3
    num_warp: int = 5
    num_iter: int = 10
    min_corr: float = 0.4

    def bound(self, shape) -> float:
        return self.max_px if self.max_px is not None else DEFAULT_FRACTION * min(shape[-2:])

    def text(self) -> str:
        """The procedure as metrics state it in their pipeline (the bound as a rule: it is per dataset)."""
        return (
            f"target registered to the prediction: luma normalised to zero mean / unit std, downsampled "
            f"{self.downsample}x; whole-tile shift by cross-correlation (skimage phase_cross_correlation), then "
            f"TV-L1 optical flow (skimage, attachment {self.attachment:g}, tightness {self.tightness:g}, "
            f"{self.num_warp} warps x {self.num_iter} iterations) -> least-squares affine + residual smoothed by "
            f"a Gaussian of sigma {self.smooth_px:g} px, displacement clipped at the dataset's "
            f"max_displacement_px (else {DEFAULT_FRACTION:g} x the tile side); target resampled (skimage warp, "
            f"cubic); kept only when its luma correlation with the prediction reaches {self.min_corr:g} in "
            f"magnitude and improves (negative for an output with inverted contrast), else the target as "
            f"given (always for flat predictions); pixels mapped from outside the tile are not scored"
        )


@dataclass
class Registered:
    target: object  # 3 x H x W float32 tensor, the target resampled onto the prediction
    valid: object  # H x W bool tensor, pixels that came from inside the target tile
    max_shift: float  # largest displacement applied (px); 0 when the target is used as given
    corr: float  # luma correlation of the prediction with the target used (NaN for a flat image)


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64


def register(pred, target, settings: Settings) -> Registered:
    """Registers one 3 x H x W target to one 3 x H x W prediction (float tensors in [0, 1])."""
    key = _key(pred, target, settings)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    result = _register(pred, target, settings)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def _key(pred, target, settings) -> tuple:
    digest = hashlib.sha1()
    for t in (pred, target):
        arr = t.detach().cpu().contiguous().float().numpy()
        digest.update(repr(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest(), settings


def _register(pred, target, settings: Settings) -> Registered:
    import numpy as np
    import torch

    p = _luma(pred)
    t = _luma(target)
    h, w = p.shape
    given = Registered(target.detach().cpu().float().clone(), torch.ones(h, w, dtype=torch.bool), 0.0, float("nan"))
    if p.std() < FLAT_STD or t.std() < FLAT_STD:
        return given
    given.corr = _corr(p, t, np.ones((h, w), bool))
    # An output with inverted contrast still shows where the structure is: align it by its negative.
    # The sign of the unregistered correlation goes first; a misaligned pair can show either sign.
    first = -1.0 if given.corr < 0 else 1.0
    for sign in (first, -first):
        registered = _aligned(target, p, t, sign, given.corr, settings)
        if registered is not None:
            return registered
    return given


def _aligned(target, p, t, sign: float, given_corr: float, settings: Settings):
    """``target`` registered to the prediction's luma ``p`` times ``sign`` (``t``: the target's luma),
    or None when not kept."""
    import numpy as np
    import torch

    h, w = p.shape
    dv, du = _field(sign * _normalised(p), _normalised(t), settings)
    rows, cols = np.mgrid[:h, :w].astype(np.float64)
    src_r, src_c = rows + dv, cols + du
    valid = (src_r >= 0) & (src_r <= h - 1) & (src_c >= 0) & (src_c <= w - 1)
    warped = _warp(target.detach().cpu().double().numpy(), src_r, src_c)
    corr = _corr(p, _luma(warped), valid)
    if not (sign * corr >= settings.min_corr and sign * corr > sign * given_corr):
        return None
    return Registered(torch.from_numpy(warped).float(), torch.from_numpy(valid), float(np.hypot(dv, du).max()), corr)


def _luma(rgb):
    import numpy as np

    x = rgb.detach().cpu().double().numpy() if hasattr(rgb, "detach") else rgb
    return np.asarray(0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])


def _corr(a, b, mask) -> float:
    """Pearson correlation of two images over ``mask`` (NaN when either is constant there)."""
    from scipy.stats import pearsonr

    x, y = a[mask], b[mask]
    if x.size < 3 or x.std() < FLAT_STD or y.std() < FLAT_STD:
        return float("nan")
    return float(pearsonr(x, y).statistic)


def _normalised(gray):
    return (gray - gray.mean()) / gray.std()


def _field(p, t, s: Settings):
    """(row, column) displacement H x W: where in the target each prediction pixel is found."""
    import numpy as np
    from scipy.ndimage import gaussian_filter
    from scipy.ndimage import shift as ndimage_shift
    from skimage.registration import optical_flow_tvl1, phase_cross_correlation
    from skimage.transform import downscale_local_mean, resize

    h, w = p.shape
    k = s.downsample
    small = [downscale_local_mean(x, (k, k)) if k > 1 else x for x in (p, t)]
    # The tile's overall shift first, by cross-correlation of the whole tile (robust when the
    # prediction resembles the stain only weakly); the flow then finds what is left.
    shift = -phase_cross_correlation(small[0], small[1], upsample_factor=4, normalization=None)[0]
    if np.hypot(*shift) * k > s.bound((h, w)):
        shift = np.zeros(2)
    moved = ndimage_shift(small[1], -shift, order=1, mode="nearest")
    v, u = optical_flow_tvl1(
        small[0],
        moved,
        attachment=s.attachment,
        tightness=s.tightness,
        num_warp=s.num_warp,
        num_iter=s.num_iter,
        dtype=np.float64,
    )
    v, u = v + shift[0], u + shift[1]
    if k > 1:
        v = resize(v, (h, w), order=1, mode="edge") * k
        u = resize(u, (h, w), order=1, mode="edge") * k
    rows, cols = np.mgrid[:h, :w].astype(np.float64)
    step = max(4, min(h, w) // 16)  # 16 x 16 points: skimage fits by a full SVD of 2N rows
    src = np.stack([cols[::step, ::step].ravel(), rows[::step, ::step].ravel()], axis=1)
    dst = src + np.stack([u[::step, ::step].ravel(), v[::step, ::step].ravel()], axis=1)
    affine = _fit_affine(src, dst)
    if affine is None:  # degenerate fit (cannot happen on a full grid, but never warp by garbage)
        return np.zeros((h, w)), np.zeros((h, w))
    grid = np.stack([cols.ravel(), rows.ravel()], axis=1)
    moved = affine(grid) - grid
    au, av = moved[:, 0].reshape(h, w), moved[:, 1].reshape(h, w)
    du = au + gaussian_filter(u - au, s.smooth_px, mode="nearest")
    dv = av + gaussian_filter(v - av, s.smooth_px, mode="nearest")
    length = np.hypot(du, dv)
    limit = s.bound((h, w))
    scale = np.where(length > limit, limit / np.maximum(length, 1e-12), 1.0)
    return dv * scale, du * scale


def _fit_affine(src, dst):
    """Least-squares affine transform taking ``src`` to ``dst`` (N x 2, x/y), or None."""
    from skimage.transform import AffineTransform

    if hasattr(AffineTransform, "from_estimate"):  # scikit-image >= 0.26
        tf = AffineTransform.from_estimate(src, dst)
        return tf if tf else None
    tf = AffineTransform()
    return tf if tf.estimate(src, dst) else None


def _warp(image, src_r, src_c):
    """3 x H x W image sampled at (src_r, src_c), cubic, clipped to [0, 1]."""
    import numpy as np
    from skimage.transform import warp

    coords = np.stack([src_r, src_c])
    out = np.stack([warp(c, coords, order=3, mode="edge", preserve_range=True) for c in image])
    return np.clip(out, 0.0, 1.0)


def clear_cache() -> None:
    _CACHE.clear()
