"""vbench's metrics: its own implementations of the core metrics, the pyiqa zoo, assets, scoring.

Own implementations (written from the papers and the authors' MATLAB releases, checked in the
tests against published values and against pyiqa; batched over N x 3 x H x W tensors):

=============  =====================================================================================
psnr           RGB in [0, 1] as predicted, MSE over all channels (float64 sums), peak 1 (``psnr.py``)
psnr-y         luma (MATLAB rgb2gray) rounded to 8 bit, peak 255
ssim           Wang et al. 2004 / ``ssim_index.m``: luma (MATLAB rgb2gray) rounded to 8 bit, 11x11
               Gaussian sigma 1.5, valid filtering, no downsampling, no clamping (``ssim.py``);
               reproduces the published values of pyiqa's calibration images to 4 decimals
ssim-rgb       the same on R, G and B, averaged
niqe           Mittal et al. 2013 with the authors' pristine model (asset ``niqe-pristine``) (``niqe.py``)
niqe-stain     NIQE with a model fitted on the dataset's train-split targets (``niqe_stain.py``)
ciede2000      mean CIEDE2000 in CIELAB (D65), Sharma et al.'s implementation notes (``ciede2000.py``)
stain-corr     Pearson r / mean absolute difference of stain amounts after Ruifrok-Johnston colour
stain-mae      deconvolution, over the two stains of the dataset's task (``stain.py``); per stain:
               stain-h-*, stain-e-*, stain-dab-*
=============  =====================================================================================

Kinds: full-reference (against the aligned truth; never on unpaired data without it),
no-reference, and distribution (the set of predictions against the set of targets, e.g. pyiqa's
FID; see ``base.DistributionMetric``).

``zoo.py`` exposes every pyiqa metric by its pyiqa name (pyiqa's psnr, ssim and niqe as
pyiqa-psnr, pyiqa-ssim, pyiqa-niqe); ``assets.py`` manages the files metrics need;
``scoring.py`` and ``images.py`` back ``vbench score``.

This package imports nothing heavy at import time: numerical modules (torch) load on first use.
"""
