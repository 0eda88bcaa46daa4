"""`phasestain`: the PhaseStain conditional GAN (Rivenson et al. 2018); see stainer.py."""

from __future__ import annotations

import vbench

from .stainer import PhaseStain


@vbench.hookimpl
def vbench_register_stainers(register):
    register(PhaseStain)
