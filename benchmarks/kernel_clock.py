"""The matrix-product kernels' own speed inside a training step: the ceiling of a network's shapes.

``KernelClock`` is a torch dispatch mode that times every call of the operations torch's FLOP
counter counts (convolutions forward and backward, matrix products, attention) and adds up their
FLOPs. Their GFLOP/s is the rate a training step would reach if everything else (normalisation,
activations, the optimiser, Python) cost nothing: when that is under a share of the machine's
peak, no overhead removal reaches the share; only other shapes (width, batch, crop) or other
kernels can. Used by ``train_throughput.py --kernels``."""

from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class KernelClock(TorchDispatchMode):
    def __init__(self, device: str = "cpu"):
        super().__init__()
        self.cuda = str(device).startswith("cuda")
        self.seconds = 0.0
        self.flops = 0
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        count = flop_registry.get(func._overloadpacket)
        if count is None:
            return func(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = func(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.flops += count(*args, **kwargs, out_val=out)
        self.calls += 1
        return out


class StageWindows:
    """Opens a ``KernelClock`` after ``skip`` steps of each training stage and closes it ``steps``
    steps later; call ``after_step(stage)`` after every step. A window that a stage change cuts
    (it would hold the work between stages) is dropped."""

    def __init__(self, device: str, skip: int = 3, steps: int = 5):
        self.device, self.skip, self.steps = device, skip, steps
        self.stage, self.in_stage, self.clock = None, 0, None
        self.done: dict[str, dict] = {}

    def after_step(self, stage: str) -> None:
        if stage != self.stage:
            self.close(keep=False)
            self.stage, self.in_stage = stage, 0
        self.in_stage += 1
        if self.clock is None and self.in_stage == self.skip and stage not in self.done:
            self.clock = KernelClock(self.device)
            self.clock.__enter__()
        elif self.clock is not None and self.in_stage == self.skip + self.steps:
            self.close(keep=True)

    def close(self, keep: bool) -> None:
        if self.clock is None:
            return
        self.clock.__exit__(None, None, None)
        c, self.clock = self.clock, None
        if keep:
            self.done[self.stage] = dict(seconds=c.seconds / self.steps, flops=c.flops / self.steps, calls=c.calls)
