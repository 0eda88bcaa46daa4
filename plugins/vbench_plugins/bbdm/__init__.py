"""BBDM pixel super-resolved virtual staining (see stainer.py for what it follows and where it deviates).

Only the stainer class is imported here; torch and the networks load when the stainer is used.
"""

from __future__ import annotations

import vbench

from .stainer import BBDM


@vbench.hookimpl
def vbench_register_stainers(register):
    register(BBDM)
