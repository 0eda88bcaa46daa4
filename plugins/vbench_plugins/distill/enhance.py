"""Teacher stage 1, light enhancement: a fixed monotone grey-level transform of the input.

The input's grey level (BT.601 luma for RGB, the channel mean otherwise), smoothed by a Gaussian
of ``sigma`` px (dim inputs are shot-noise limited and matching stretches the noise with the
signal), is inverted when the tissue is bright on a dark background (dark-field, phase,
fluorescence) and then histogram-matched to the lightness (CIE L*/100) of the train targets, so
the teacher's colouriser sees an image with the grey levels of a stained section. The transform
is two quantile tables stored in the checkpoint; the stainer applies it inside ``predict``, so
users pass only the raw input.
"""

from __future__ import annotations

import math

import torch

# Modalities whose background is dark (tissue scatters, emits or delays light on a black field).
DARK_BACKGROUND = {"darkfield", "dark-field", "quantitative-phase", "qpi", "phase", "autofluorescence", "fluorescence"}
BRIGHT_BACKGROUND = {"brightfield", "bright-field"}
LUMA = (0.299, 0.587, 0.114)
MAX_VALUES = 2_000_000  # quantiles of at most this many values (torch.quantile has a size limit)


def grey(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """N x C x H x W in [0, 1] -> N x 1 x H x W grey level, Gaussian-smoothed when sigma > 0."""
    if x.shape[1] == 3:
        w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        g = (x * w).sum(dim=1, keepdim=True)
    else:
        g = x.mean(dim=1, keepdim=True)
    if sigma > 0:
        from torchvision.transforms.v2.functional import gaussian_blur

        g = gaussian_blur(g, [2 * math.ceil(3 * sigma) + 1] * 2, [sigma, sigma])
    return g


def background_is_dark(values: torch.Tensor) -> bool:
    """Data rule for an undeclared modality, from train input grey levels only.

    The background (glass) is one narrow peak of the histogram at one end, tissue a long tail
    towards the other; so the grey levels are skewed away from the background: right-skewed
    (positive third moment) on a dark background, left-skewed on a bright one."""
    v = values.double()
    centred = v - v.mean()
    return bool((centred**3).mean() > 0)


def decide_inversion(modality: str, train_inputs: list[torch.Tensor]) -> tuple[bool, str]:
    """Whether to invert the grey level, and why (for the log): the declared modality when it is
    known, otherwise the shape of the train inputs' histogram. Never looks at targets."""
    m = (modality or "").strip().lower()
    if m in DARK_BACKGROUND:
        return True, f"declared modality {m!r}: dark background, inverted"
    if m in BRIGHT_BACKGROUND:
        return False, f"declared modality {m!r}: bright background, not inverted"
    values = _sample(torch.cat([grey(x[None]).flatten() for x in train_inputs]))
    dark = background_is_dark(values)
    why = f"modality {m!r} not known" if m else "no modality declared"
    side = "dark background (right-skewed), inverted" if dark else "bright background (left-skewed), not inverted"
    return dark, f"{why}; train inputs' grey levels: {side}"


def _sample(values: torch.Tensor) -> torch.Tensor:
    if values.numel() <= MAX_VALUES:
        return values.float()
    step = -(-values.numel() // MAX_VALUES)
    return values[::step].float()


def quantile_table(values: torch.Tensor, levels: int) -> torch.Tensor:
    q = torch.linspace(0.0, 1.0, levels, dtype=torch.float32)
    return torch.quantile(_sample(values.flatten()), q)


def fit_matching(train_inputs, target_lightness, invert: bool, levels: int = 256, sigma: float = 0.0):
    """Quantile tables (source, destination) that map the (smoothed, inverted) grey level of the
    train inputs onto the distribution of the train targets' lightness L*/100."""
    src = torch.cat([grey(x[None], sigma).flatten() for x in train_inputs])
    if invert:
        src = 1.0 - src
    dst = torch.cat([t.flatten() for t in target_lightness])
    return quantile_table(src, levels), quantile_table(dst, levels)


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation (numpy.interp) of ``x`` on the non-decreasing table xp -> fp;
    values outside the table take its end values."""
    xp, fp = xp.to(x), fp.to(x)
    hi = torch.searchsorted(xp, x.contiguous().flatten()).clamp(1, len(xp) - 1).view_as(x)
    lo = hi - 1
    x0, x1, f0, f1 = xp[lo], xp[hi], fp[lo], fp[hi]
    t = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return f0 + t * (f1 - f0)


def enhance(x: torch.Tensor, invert: bool, src: torch.Tensor, dst: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """The enhanced channel (N x 1 x H x W, lightness in [0, 1]) of raw inputs N x C x H x W."""
    g = grey(x, sigma)
    if invert:
        g = 1.0 - g
    return interp(g, src, dst).clamp(0.0, 1.0)
