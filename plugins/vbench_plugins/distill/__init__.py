"""`distill`: digital staining with knowledge distillation and Learning-to-Align (Xu et al. 2025).

Files: enhance.py (teacher stage 1, light enhancement), teacher.py (stage 2, the colouriser and
its training), align.py (Learning-to-Align), niqe_loss.py (the optional differentiable NIQE term),
train.py (the student's training loop), stainer.py (the `vbench.Stainer`: presets, fit, predict;
its docstring lists what follows the paper and the released code and where it deviates).
"""

from __future__ import annotations

import vbench

from .stainer import Distill


@vbench.hookimpl
def vbench_register_stainers(register):
    register(Distill)
