"""Training and inference speed of the phasestain and cyclegan plugins (quick preset), on CPU by
default, with and without channels-last memory format and torch.compile.

Run:  .venv/bin/python benchmarks/train_infer.py [--device cpu] [--threads N] [--steps 12]
      [--tile 256] [--no-compile]

Training: samples/s over ``--steps`` steps on synthetic 64 px tiles (the first 2 steps, where
kernels are chosen and compiled, are excluded). Inference: tiles/s predicting ``--tile`` px
tiles in batches of 4 under torch.inference_mode (one warm-up batch excluded).
Variants: ``contiguous`` (NCHW), ``channels_last`` (phasestain's preset default), ``compile``
(NCHW plus torch.compile of every network, default inductor backend) and
``compile+channels_last``; compile time is printed separately (first step), not counted in the
rate. Prints each rate and the speed-up over ``contiguous``. Timings on a shared machine are
noisy: run it when the machine is quiet.
"""

from __future__ import annotations

import argparse
import time

import torch

import vbench
from vbench_plugins.cyclegan import CycleGAN
from vbench_plugins.phasestain import PhaseStain

WARMUP = 2


def make_stainer(cls, variant: str, steps: int, device: str):
    s = cls(**dict(cls.presets["quick"], steps=steps, channels_last="channels_last" in variant))
    s.ctx = vbench.RunContext(in_channels=1, device=device, budget=vbench.Budget(steps=steps))
    s._build()
    if isinstance(s, PhaseStain):
        s.in_stats = torch.tensor([[0.5], [0.25]])  # set by fit; inference-only stainers need it too
    if variant.startswith("compile"):
        for attr, value in list(vars(s).items()):
            if isinstance(value, torch.nn.Module):
                compiled = torch.compile(value)
                compiled.stride = getattr(value, "stride", None)
                setattr(s, attr, compiled)
    return s


def train_rate(cls, variant: str, steps: int, device: str) -> tuple[float, float]:
    g = torch.Generator().manual_seed(0)
    train = [
        vbench.Sample(id=str(i), input=torch.rand(1, 64, 64, generator=g), target=torch.rand(3, 64, 64, generator=g))
        for i in range(32)
    ]
    s = make_stainer(cls, variant, steps + WARMUP, device)
    marks = {}

    def progress(done, total, logs):
        if done in (1, WARMUP):
            marks[done] = time.perf_counter()

    s.ctx.on_progress = progress
    t0 = time.perf_counter()
    s.fit(train, s.ctx)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return s.batch * steps / (time.perf_counter() - marks[WARMUP]), marks[1] - t0


def infer_rate(cls, variant: str, tile: int, batches: int, device: str) -> float:
    s = make_stainer(cls, variant, 1, device)
    x = torch.rand(4, 1, tile, tile, device=device)
    with torch.inference_mode():
        s.predict(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            s.predict(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return 4 * batches / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = ["contiguous", "channels_last"] + ([] if args.no_compile else ["compile", "compile+channels_last"])
    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for cls in (PhaseStain, CycleGAN):
        base_train = base_infer = None
        for variant in variants:
            try:
                train, first_step = train_rate(cls, variant, args.steps, args.device)
                infer = infer_rate(cls, variant, args.tile, args.batches, args.device)
            except Exception as exc:  # e.g. no C++ compiler for inductor
                print(f"{cls.name:10s} {variant:14s} failed: {type(exc).__name__}: {exc}")
                continue
            base_train, base_infer = base_train or train, base_infer or infer
            print(
                f"{cls.name:10s} {variant:14s} train {train:7.2f} samples/s (x{train / base_train:.2f})  "
                f"infer {infer:7.2f} tiles/s of {args.tile} px (x{infer / base_infer:.2f})  "
                f"first step {first_step:.1f} s"
            )


if __name__ == "__main__":
    main()
