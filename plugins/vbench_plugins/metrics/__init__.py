"""vbench's own metrics as a bundled plugin (entry point ``vbench-metrics``): PSNR, SSIM (luma and
RGB), NIQE, CIEDE2000, stain-density agreement and niqe-stain. They are written from the papers in
``vbench.metrics`` and work offline, except NIQE, whose pristine model is an asset
(``vbench assets fetch niqe-pristine``). pyiqa's zoo is registered by ``vbench_plugins.metrics.zoo``.
"""

from __future__ import annotations

import vbench
from vbench.metrics.staining import CIEDE2000, NIQEStain, STAIN_METRICS
from vbench.metrics.standard import NIQE, PSNR, SSIM, SSIMRGB, PSNRLuma

METRICS = [PSNR, PSNRLuma, SSIM, SSIMRGB, NIQE, NIQEStain, CIEDE2000, *STAIN_METRICS]


@vbench.hookimpl
def vbench_register_metrics(register):
    for cls in METRICS:
        register(cls)
