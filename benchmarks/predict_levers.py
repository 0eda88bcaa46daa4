"""Inference levers: `vbench predict`'s path on a 2000 x 2000 image (phasestain, cyclegan, distill)
and bbdm's sampling on test tiles, in fp32 and under bf16 autocast, side by side in one run.

Run:  .venv/bin/python benchmarks/predict_levers.py [--method cyclegan ...] [--size 2000]
      [--batch-size 4 --batch-size 16] [--rounds 2] [--threads N]

Each method is trained for a few steps of its quick preset (speed does not depend on the weights),
then stains a synthetic SIZE x SIZE output image through `vbench.predict.stain_image` (the
command's default tiling for the method's scale: 512 px output tiles, 1/8 overlap, Hann blending)
with every (precision, batch size) variant, the variants alternated for ``--rounds`` rounds (the
fastest round is kept: the machine is shared and noisy). bbdm (af-he-x4) samples 8 test tiles with
its preset sampler instead: a whole 2000 px image is about 1,000 of its tiles. Prints seconds per
image (bbdm: per tile) and each variant's speed-up over the first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_check  # noqa: E402
import train_throughput  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def image_variants(stainer, scale: int, size: int, batches: list[int]):
    from vbench.predict import LoadedRun, default_tiling, stain_image

    c = stainer.ctx.in_channels
    image = torch.rand(c, size // scale, size // scale, generator=torch.Generator().manual_seed(0))
    tile, overlap = default_tiling(scale)
    loaded = LoadedRun(0, stainer, stainer.name, "synthetic", scale, c)

    def stain(precision, batch):
        stainer.ctx.precision = precision  # stain_image predicts under the context's autocast
        stain_image(loaded, image, tile=tile, overlap=overlap, batch_size=batch)

    return {(p, b): (lambda p=p, b=b: stain(p, b)) for p in ("fp32", "bf16") for b in batches}


def tile_variants(stainer, test):
    x = torch.stack([s.input for s in test[:8]])

    def sample(precision):
        stainer.ctx.precision = precision
        with torch.inference_mode(), stainer.ctx.autocast():
            stainer.predict(x)

    return {(p, len(x)): (lambda p=p: sample(p)) for p in ("fp32", "bf16")}, len(x)


def main() -> None:
    from vbench.plugins import load_plugins

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", action="append", choices=list(train_throughput.QUICK_DATA))
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, action="append")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    plugins = load_plugins(extra=[paper_check])
    print(f"cpu, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for method in args.method or list(train_throughput.QUICK_DATA):
        row = train_throughput.train_rate(method, "quick", 4, "cpu", plugins)
        stainer = row["stainer_obj"]
        if method == "bbdm":
            variants, n = tile_variants(stainer, row["test"])
            unit = f"s per tile ({n} tiles a call)"
        else:
            variants = image_variants(stainer, stainer.ctx.scale, args.size, args.batch_size or [4])
            n, unit = 1, f"s per {args.size}^2 image"
        best = {k: float("inf") for k in variants}
        for _ in range(args.rounds):
            for key, fn in variants.items():
                best[key] = min(best[key], timed(fn) / n)
        first = next(iter(best.values()))
        for (precision, batch), seconds in best.items():
            print(
                f"{method:10s} {precision:4s} batch {batch:3d}: {seconds:8.2f} {unit}  {first / seconds:5.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
