"""pyiqa's metric zoo as a bundled plugin (entry point ``pyiqa-metrics``): every pyiqa metric under
its pyiqa name (psnr, ssim and niqe, which vbench implements itself, as pyiqa-psnr, pyiqa-ssim and
pyiqa-niqe). Listing them does not import pyiqa; each is built on first use, offline.

``zoo.py`` builds the metric classes; ``files.py`` declares the files they load (their assets)
and keeps pyiqa from downloading while scoring. Switched off with
``VBENCH_DISABLE_PLUGINS=pyiqa-metrics``, its metrics and their files leave every command.
"""

from __future__ import annotations

import vbench

from .zoo import metric_classes


@vbench.hookimpl
def vbench_register_metrics(register):
    for cls in metric_classes():
        register(cls)
