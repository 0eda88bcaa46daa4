"""pyiqa's metric zoo as a bundled plugin (entry point ``pyiqa-metrics``): every pyiqa metric under
its pyiqa name (psnr, ssim and niqe, which vbench implements itself, as pyiqa-psnr, pyiqa-ssim and
pyiqa-niqe). Listing them does not import pyiqa; each is built on first use, offline."""

from __future__ import annotations

import vbench
from vbench.metrics.zoo import metric_classes


@vbench.hookimpl
def vbench_register_metrics(register):
    for cls in metric_classes():
        register(cls)
