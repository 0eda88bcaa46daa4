"""Whole-image evaluation benchmark: peak memory and time per megapixel of predicting and scoring
one whole region (vbench.whole_image.evaluate_region), for regions of 2048^2, 5000^2 and 10000^2 px.

Run:  .venv/bin/python benchmarks/whole_image.py [--sizes 2048 5000 10000] [--metrics psnr,ssim,seam,stain-drift]

Each size runs in a fresh process (peak RSS only grows within a process). The stainer is a fixed
3 x 3 convolution from one grey channel to RGB, so the figures are vbench's own cost (tiling,
blending, 8-bit output, streamed scoring), not a network's. Input: uint16, target: uint8 RGB, built
band by band. Tiles of 512 px overlapping by 64, Hann blending, on the CPU.

Target: peak memory under 2 GB for 10000 x 10000 (the output, input and target alone take
100 + 200 + 300 MB).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

LIMIT_MB = 2048


class Gray2RGB:
    name = "gray2rgb"

    def __init__(self):
        import torch

        from vbench.context import RunContext

        self.ctx = RunContext(scale=1, device="cpu", seed=0, in_channels=1)
        self.kernel = torch.full((3, 1, 3, 3), 1 / 9) * torch.tensor([0.5, 0.6, 0.3]).view(3, 1, 1, 1)

    def predict(self, x):
        import torch

        return (
            torch.tensor([0.9, 0.8, 0.9]).view(1, 3, 1, 1) - torch.nn.functional.conv2d(x, self.kernel, padding=1)
        ).clamp(0, 1)


def one(size: int, names: list[str]) -> dict:
    import numpy as np
    import torch

    from vbench.dataset import WholeRegion
    from vbench.plugins import load_plugins
    from vbench.whole_image import evaluate_region

    plugins = load_plugins()
    metrics = [(n, plugins.metrics.get(n)) for n in names]
    inp = np.empty((1, size, size), np.uint16)
    target = np.empty((3, size, size), np.uint8)
    xs = np.arange(size)
    for y in range(0, size, 512):
        ys = np.arange(y, min(y + 512, size))[:, None]
        wave = (np.sin(xs / 37.0) * np.cos(ys / 53.0) + 1) / 2 * 0.8 + 0.1 * ((xs * 7 + ys * 13) % 17) / 17
        inp[0, y : y + 512] = (wave * 65535).astype(np.uint16)
        for c, (a, b) in enumerate(((0.9, 0.5), (0.8, 0.6), (0.9, 0.3))):
            target[c, y : y + 512] = (np.clip(a - b * wave, 0, 1) * 255).astype(np.uint8)
    torch.set_num_threads(2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    region = WholeRegion(f"{size}", size, size, lambda: inp, lambda: target)
    t = time.perf_counter()
    result = evaluate_region(Gray2RGB(), region, metrics, scale=1, tile=512, overlap=64, blend="hann")
    total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mp = size * size / 1e6
    return {
        "size": size,
        "megapixels": mp,
        "predict_s_per_mp": result.predict_seconds / mp,
        "score_s_per_mp": result.score_seconds / mp,
        "total_s": total,
        "peak_mb": peak,
        "before_mb": before,
        "values": result.values,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2048, 5000, 10000])
    ap.add_argument("--metrics", default="psnr,ssim,seam,stain-drift")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = [n for n in args.metrics.split(",") if n]
    if args.child:
        print(json.dumps(one(args.child, names)))
        return
    print(f"metrics: {', '.join(names)}; tiles 512 px, overlap 64, hann; CPU, 2 torch threads")
    heads = ("size", 7), ("MP", 6), ("predict s/MP", 13), ("score s/MP", 11), ("total s", 8), ("peak MB", 8)
    print(" ".join(f"{h:>{w}}" for h, w in heads), f"{'after imports MB':>17}")
    worst = 0.0
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(size), "--metrics", args.metrics]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        worst = max(worst, r["peak_mb"]) if size >= 10000 else worst
        print(
            f"{size:>7} {r['megapixels']:>6.1f} {r['predict_s_per_mp']:>13.3f} {r['score_s_per_mp']:>11.3f} "
            f"{r['total_s']:>8.1f} {r['peak_mb']:>8.0f} {r['before_mb']:>17.0f}"
        )
    if worst:
        print(f"10000^2 peak {worst:.0f} MB: {'within' if worst < LIMIT_MB else 'OVER'} the {LIMIT_MB} MB target")


if __name__ == "__main__":
    main()
