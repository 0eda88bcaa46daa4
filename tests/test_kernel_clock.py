"""benchmarks/kernel_clock.py: the matrix-product kernels' time and FLOPs inside training steps
(`train_throughput.py --kernels`), whose GFLOP/s the issue's throughput bars are judged against."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "kernel_clock.py"
spec = importlib.util.spec_from_file_location("vbench_kernel_clock_benchmark", PATH)
kernel_clock = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = kernel_clock
spec.loader.exec_module(kernel_clock)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.InstanceNorm2d(8), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1)
    )


def _step(net):
    net(torch.randn(2, 3, 16, 16)).square().mean().backward()


def test_the_clock_counts_what_torchs_flop_counter_counts_and_times_only_those_kernels():
    net = _net()
    with FlopCounterMode(display=False) as counter:
        _step(net)
    with kernel_clock.KernelClock() as clock:
        _step(net)
    assert clock.flops == counter.get_total_flops() > 0
    assert clock.calls == 4  # two convolutions forward, two backward; norm, relu and the loss are not kernels
    assert clock.seconds > 0


def test_windows_skip_the_first_steps_of_each_stage_and_drop_one_cut_by_a_stage_change():
    net = _net()
    windows = kernel_clock.StageWindows("cpu", skip=2, steps=3)
    for stage, steps in (("teacher", 4), ("student", 6)):  # the teacher's window (steps 3-5) is cut at 4
        for _ in range(steps):
            _step(net)
            windows.after_step(stage)
    windows.close(keep=False)
    assert set(windows.done) == {"student"}
    assert windows.done["student"]["calls"] == 3 * 4
    with FlopCounterMode(display=False) as counter:
        _step(net)
    assert windows.done["student"]["flops"] == counter.get_total_flops()  # per step
