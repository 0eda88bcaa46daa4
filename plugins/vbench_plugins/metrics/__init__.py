"""vbench's own metrics as a bundled plugin (entry point ``vbench-metrics``).

Written from the papers and the authors' MATLAB releases, checked in the tests against published
values and against pyiqa; batched over N x 3 x H x W tensors. They work offline: NIQE's pristine
model (asset ``niqe-pristine``) is shipped in ``data/``.

=============  =====================================================================================
psnr           RGB in [0, 1] as predicted, MSE over all channels (float64 sums), peak 1 (``pixel/psnr.py``)
psnr-y         luma (MATLAB rgb2gray) rounded to 8 bit, peak 255
ssim           Wang et al. 2004 / ``ssim_index.m``: luma (MATLAB rgb2gray) rounded to 8 bit, 11x11
               Gaussian sigma 1.5, valid filtering, no downsampling, no clamping (``pixel/ssim.py``);
               reproduces the published values of pyiqa's calibration images to 4 decimals
ssim-rgb       the same on R, G and B, averaged
niqe           Mittal et al. 2013 with the authors' pristine model (asset ``niqe-pristine``) (``no_reference/niqe.py``)
niqe-stain     NIQE with a model fitted on the dataset's train-split targets (``no_reference/niqe_stain.py``)
ciede2000      mean CIEDE2000 in CIELAB (D65), Sharma et al.'s implementation notes (``pixel/ciede2000.py``)
stain-corr     Pearson r / mean absolute difference of stain amounts after Ruifrok-Johnston colour
stain-mae      deconvolution, over the two stains of the dataset's target (its declared ``stain``, else
               its task) (``stain/``); per stain: stain-h-*, stain-e-*, stain-dab-*
psnr@reg       psnr and ssim against the target registered to the prediction, on the pixels it covers,
ssim@reg       for misaligned targets (``registration/``); never against the truth
nuclei-f1      nuclei in the haematoxylin channel matched one-to-one within 4 um (F1; also
               nuclei-precision, nuclei-recall), ``cells/``
nuclei-dice    pixel Dice of the nuclear masks
seam           gradient energy along the tile grid a whole image was predicted on over that elsewhere
stain-drift    spread of per-tile mean stain amounts over the reference's (``whole/``)
=============  =====================================================================================

The metrics are grouped by family, one subpackage each: ``pixel/`` (psnr, ssim, ciede2000),
``no_reference/`` (niqe, niqe-stain), ``registration/`` (@reg), ``cells/`` (nuclei) and
``stain/`` (stain amounts); ``color.py`` and ``filters.py`` are the numerics they share. Each
subpackage's ``__init__`` holds the metric classes; the numerical modules (torch) load on first
use, so registering and listing the metrics stays fast. Perceptual metrics (LPIPS, DISTS...) come
from pyiqa's zoo, the separate plugin ``vbench_plugins.pyiqa_metrics``.
"""

from __future__ import annotations

import vbench

from .cells import CELL_METRICS
from .no_reference import NIQE, NIQEStain
from .pixel import CIEDE2000, PSNR, SSIM, SSIMRGB, PSNRLuma
from .registration import REGISTERED_METRICS
from .stain import STAIN_METRICS
from .whole import WHOLE_METRICS

METRICS = [
    PSNR,
    PSNRLuma,
    SSIM,
    SSIMRGB,
    NIQE,
    NIQEStain,
    CIEDE2000,
    *STAIN_METRICS,
    *REGISTERED_METRICS,
    *CELL_METRICS,
    *WHOLE_METRICS,
]


@vbench.hookimpl
def vbench_register_metrics(register):
    for cls in METRICS:
        register(cls)
