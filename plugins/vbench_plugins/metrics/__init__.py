"""PSNR and SSIM computed by pyiqa (PolyForm-Noncommercial; used as a dependency, not copied).

Each metric states the pipeline pyiqa really applies, so tables say what the number means.
"""

from __future__ import annotations

import vbench
from vbench.metric import FULL_REFERENCE


class PyiqaMetric(vbench.Metric):
    """A pyiqa metric created lazily on first use (pyiqa imports take seconds)."""

    pyiqa_name = ""
    options: dict = {}
    default_for = {"paired", "misaligned", "unpaired"}

    def __init__(self):
        self._model = None

    def compute(self, pred, ref):
        import pyiqa
        import torch

        if self._model is None:
            self._model = pyiqa.create_metric(self.pyiqa_name, as_loss=False, device=torch.device("cpu"), **self.options)
        with torch.no_grad():
            return self._model(pred.float().cpu(), ref.float().cpu()).reshape(-1)


class PSNR(PyiqaMetric):
    name = "psnr"
    pyiqa_name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    pipeline = "pyiqa psnr: RGB float32 in [0,1], MSE over all 3 channels, data_range 1, eps 1e-8, no crop"


class SSIM(PyiqaMetric):
    name = "ssim"
    pyiqa_name = "ssim"
    kind = FULL_REFERENCE
    higher_is_better = True
    pipeline = ("pyiqa ssim: luma (YIQ Y) scaled to 255 and rounded to 8 bit, float64, "
                "11x11 Gaussian sigma 1.5, valid filtering, K1 0.01 K2 0.03, no downsampling")


@vbench.hookimpl
def vbench_register_metrics(register):
    register(PSNR)
    register(SSIM)
