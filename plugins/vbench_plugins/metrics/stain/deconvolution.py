"""Stain density by colour deconvolution (Ruifrok and Johnston, "Quantification of histochemical
staining by color deconvolution", Anal. Quant. Cytol. Histol. 23(4), 2001).

Optical density per RGB channel is OD = -log10(I), with I in [0, 1] clipped below at 1/255 (the
darkest non-zero 8-bit level, so OD <= 2.41); stain amounts are OD multiplied by the inverse of
the haematoxylin / eosin / DAB stain matrix that scikit-image publishes as ``hed_from_rgb``, and
clipped at 0.
"""

from __future__ import annotations

import torch

STAINS = ("h", "e", "dab")
STAIN_NAMES = {"h": "haematoxylin", "e": "eosin", "dab": "DAB"}
# Which stains a target stain name holds (Dataset.stain, or the part after '->' in Dataset.task).
TASK_STAINS = {"he": ("h", "e"), "h&e": ("h", "e"), "hne": ("h", "e"), "ihc": ("h", "dab"), "dab": ("h", "dab")}
MIN_INTENSITY = 1.0 / 255.0


def stains_of_name(stain: str) -> tuple[str, ...] | None:
    """The stains a target stain name (``he``, ``ihc-dab``, ``ihc_her2``...) holds, or None when
    colour deconvolution does not apply (for example Masson's trichrome or Jones silver, which have
    no vectors here)."""
    name = (stain or "").strip().lower()
    for key in (name, name.split("-")[0], name.split("_")[0]):
        if key in TASK_STAINS:
            return TASK_STAINS[key]
    return None


def stains_of_task(task: str) -> tuple[str, ...] | None:
    """The stains of a dataset's target modality, read from its task (``qpi->he``)."""
    return stains_of_name((task or "").split("->")[-1])


def stains_of_dataset(dataset) -> tuple[tuple[str, ...] | None, str]:
    """(stains, where they were read): the dataset's declared ``stain`` when it has one, else its task."""
    declared = getattr(dataset, "stain", "") or ""
    if declared:
        return stains_of_name(declared), f"stain {declared!r}"
    return stains_of_task(getattr(dataset, "task", "")), f"task {getattr(dataset, 'task', '')!r}"


def stain_density(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB in [0, 1] -> N x 3 x H x W amounts of (haematoxylin, eosin, DAB)."""
    from skimage.color import hed_from_rgb

    od = -torch.log10(rgb.to(torch.float64).clamp(min=MIN_INTENSITY, max=1.0))
    m = torch.as_tensor(hed_from_rgb, dtype=torch.float64, device=rgb.device)
    return torch.einsum("nchw,cs->nshw", od, m).clamp(min=0.0)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of N x M tensors; NaN where either row is constant."""
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    den = torch.sqrt(xc.square().sum(dim=1) * yc.square().sum(dim=1))
    r = (xc * yc).sum(dim=1) / den
    return torch.where(den > 1e-12, r, torch.nan)


def agreement(pred: torch.Tensor, ref: torch.Tensor, stains: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(Pearson correlation, mean absolute difference) of the stain amounts, N x len(stains) each."""
    idx = [STAINS.index(s) for s in stains]
    dp = stain_density(pred)[:, idx].flatten(2)
    dr = stain_density(ref)[:, idx].flatten(2)
    n, k, m = dp.shape
    corr = pearson(dp.reshape(n * k, m), dr.reshape(n * k, m)).reshape(n, k)
    mae = (dp - dr).abs().mean(dim=2)
    return corr, mae
