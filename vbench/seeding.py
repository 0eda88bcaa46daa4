"""Seeding every random number generator a run touches (Python, NumPy, torch on CPU and CUDA), so a
seed reproduces a run, a prediction and a whole-image evaluation."""

from __future__ import annotations

import random


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
