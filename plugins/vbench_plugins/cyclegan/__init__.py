"""`cyclegan`: CycleGAN (Zhu et al. 2017), the unpaired baseline; see stainer.py."""

from __future__ import annotations

import vbench

from .stainer import CycleGAN


@vbench.hookimpl
def vbench_register_stainers(register):
    register(CycleGAN)
