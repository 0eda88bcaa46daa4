"""``@reg`` metrics: full-reference metrics scored against the target registered to the prediction.

For misaligned data (an adjacent section as target) without an aligned truth. They always compare
with the target *as given* (``against = "target"``), registered by ``estimate.py``, never with
the truth, so on datasets that have the truth they can be validated against it. Stored under their
own names (``psnr@reg``), so they never mix with unregistered figures. Only the pixels the
registered target covers are scored.
"""

from __future__ import annotations

from typing import ClassVar

from vbench.errors import MetricNotApplicable
from vbench.metric import FULL_REFERENCE, ImageMetric

from ..pairings import LUMA
from .estimate import Settings

MISALIGNED = frozenset({"misaligned"})
REGISTRATION = Settings().text()


class RegisteredMetric(ImageMetric):
    """A full-reference metric of the prediction against the registered target, on valid pixels."""

    kind = FULL_REFERENCE
    against = "target"
    default_for = MISALIGNED
    base: ClassVar[str] = ""

    def __init__(self):
        self.settings = Settings()

    def setup(self, dataset) -> None:
        super().setup(dataset)
        if dataset is None:
            self.settings = Settings()
            return
        if dataset.pairing == "unpaired":
            raise MetricNotApplicable(
                f"{self.name} registers each target to its prediction, and dataset {dataset.name!r} is unpaired: its "
                f"targets show other tissue. Use {self.base} against the aligned truth, or no-reference metrics"
            )
        self.settings = Settings(max_px=getattr(dataset, "max_displacement_px", None))

    def score(self, pred, ref):
        import torch

        from .estimate import register

        values = []
        for p, r in zip(pred, ref):
            reg = register(p, r, self.settings)
            values.append(float(self.masked(p[None], reg.target[None].to(p), reg.valid)))
        return torch.tensor(values, dtype=torch.float64)

    def masked(self, pred, ref, valid):  # pragma: no cover - abstract
        raise NotImplementedError


class PSNRReg(RegisteredMetric):
    name = "psnr@reg"
    curve_for = MISALIGNED
    base = "psnr"
    higher_is_better = True
    unit = "dB"
    pipeline = (
        f"{REGISTRATION}; then as psnr: RGB in [0,1] as predicted, MSE over the 3 channels of the scored "
        f"pixels in float64, peak 1, MSE + 1e-8"
    )

    def masked(self, pred, ref, valid):
        import torch

        from ..pixel.psnr import MSE_EPS

        diff = (pred - ref)[0][:, valid.to(pred.device)].to(torch.float64)
        mse = diff.square().mean()
        return 10.0 * torch.log10(1.0 / (mse + MSE_EPS))


class SSIMReg(RegisteredMetric):
    name = "ssim@reg"
    base = "ssim"
    higher_is_better = True
    min_size = 11
    pipeline = (
        f"{REGISTRATION}; then as ssim: {LUMA} rounded to 8 bit, float64; 11x11 Gaussian sigma 1.5, K1 0.01, "
        f"K2 0.03, L 255; mean of the SSIM map over the windows lying wholly on scored pixels"
    )

    def masked(self, pred, ref, valid):
        import numpy as np
        import torch
        from scipy.ndimage import binary_erosion

        from ..color import luma8
        from ..pixel.ssim import WINDOW, ssim_map

        ssim = ssim_map(luma8(pred), luma8(ref))[0]
        half = WINDOW // 2
        inside = binary_erosion(valid.cpu().numpy(), np.ones((WINDOW, WINDOW), bool), border_value=0)
        inside = torch.from_numpy(inside[half:-half, half:-half])
        if not inside.any():
            return torch.tensor(float("nan"))
        return ssim[inside.to(ssim.device)].mean()


REGISTERED_METRICS = [PSNRReg, SSIMReg]
