"""Training and inference throughput of every bundled method against the machine's matrix-product
peak, measured in the same run.

Run:  .venv/bin/python benchmarks/train_throughput.py [--device cpu|cuda] [--json FILE]
      [--method cyclegan ...] [--preset quick|paper ...] [--steps 200] [--paper-steps 3]
      [--threads N]

For each method and preset: training samples/s (steps after the first ``WARMUP``, where kernels
are picked and the FLOP count runs), FLOPs of one full training step (forward and backward of
every network that trains, torch's FlopCounterMode: vbench's own per-step count,
``RunContext.flops``, where the run context has one, else counted here over one step), achieved
GFLOP/s and its fraction of the fp32 peak; then inference tiles/s, GFLOP/s and fraction on 4
test tiles at a time. The peak is torch.mm on 2048^2 fp32 matrices (8192^2 on CUDA), the best of
a few, measured before and after the methods (the larger counts). Quick presets train on their
demo datasets for ``--steps`` steps (their whole budget with ``--steps 0``); paper presets for
``--paper-steps`` on the 256 px training tiles of benchmarks/paper_check.py (bbdm:paper only on
CUDA: one CPU step needs about 60 GB). On a shared machine figures are noisy: compare ratios
within one run, and repeat a run that looks off.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

import vbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_check  # noqa: E402 (the paper presets' datasets, registered by that module)

WARMUP = 3
QUICK_DATA = {"phasestain": "qpi-he", "cyclegan": "unstained-he-unpaired", "distill": "unstained-he-unpaired"}
QUICK_DATA["bbdm"] = "af-he-x4"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def count_step_flops(cls, params: dict, ctx_args: dict, train) -> dict:
    """FLOPs of one training step per stage, counted here (run contexts without their own count)."""
    from torch.utils.flop_counter import FlopCounterMode

    s = cls(**dict(params, steps=WARMUP))
    s.ctx = vbench.RunContext(**ctx_args, budget=vbench.Budget(steps=WARMUP))
    per: dict[str, float] = {}
    counter = [None]
    orig = s.ctx.step

    def step(n=1, samples=0, stage=None, **logs):
        if counter[0] is not None:
            counter[0].__exit__(None, None, None)
            per.setdefault(stage or "train", counter[0].get_total_flops() / n)
        go_on = orig(n, samples, **logs)
        counter[0] = FlopCounterMode(display=False)
        counter[0].__enter__()
        return go_on

    s.ctx.step = step
    try:
        s.fit(train, s.ctx)
    finally:
        if counter[0] is not None:
            counter[0].__exit__(None, None, None)
    return per


def train_rate(method: str, preset: str, steps: int, device: str, plugins, precision: str = "fp32") -> dict:
    from vbench.run import plan

    dataset = QUICK_DATA[method] if preset == "quick" else paper_check.CHECKS[method][0]
    label = f"{method}:{preset}" + (f"[steps={steps}]" if steps else "")
    if method == "distill" and steps:  # the teacher's stage, then as many student steps
        label = f"distill:{preset}[steps={2 * steps},teacher_steps={steps}]"
    (spec,) = plan(plugins, [label], [dataset], [0], device=device, precision=precision)
    ds = plugins.datasets.get(dataset)
    train, val = ds.samples("train"), ds.samples("val")
    cls = plugins.stainers.get(spec.stainer)
    ctx_args = dict(
        device=device,
        seed=0,
        val=val,
        scale=ds.scale,
        pairing=ds.pairing,
        in_channels=ds.in_channels,
        modality=getattr(ds, "modality", ""),
        precision=spec.precision,
    )
    s = cls(**spec.params)
    s.ctx = vbench.RunContext(**ctx_args, budget=vbench.Budget(steps=spec.params["steps"]))
    marks: list[tuple[float, int, str]] = []  # (time, samples seen, stage) after each step

    def progress(done, total, logs):
        sync(device)
        marks.append((time.perf_counter(), s.ctx.samples_seen, s.ctx.stage))

    s.ctx.on_progress = progress
    s.ctx.start_clock()
    s.fit(train, s.ctx)
    if hasattr(s.ctx, "end_training"):
        s.ctx.end_training()
    per = dict(getattr(getattr(s.ctx, "flops", None), "per_step", {}) or {})
    if not per:
        per = count_step_flops(cls, spec.params, ctx_args, train)
    timed = marks[WARMUP:] if len(marks) > WARMUP + 1 else marks[1:]
    first = marks[len(marks) - len(timed) - 1]
    span = timed[-1][0] - first[0]
    samples = timed[-1][1] - first[1]
    flops = sum(per.get(stage, math.nan) for _, _, stage in timed)
    return dict(
        stainer=spec.label,
        dataset=dataset,
        steps=len(marks),
        train_samples_per_s=samples / span,
        train_steps_per_s=len(timed) / span,
        train_gflop_per_step={k: v / 1e9 for k, v in per.items()},
        train_gflop_per_s=flops / span / 1e9,
        stainer_obj=s,
        test=ds.samples("test"),
    )


def infer_rate(s, test, device: str, batches: int = 3) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.stack([t.input for t in test[:4]]).to(device)
    with torch.inference_mode(), s.ctx.autocast():
        s.predict(x)
        with FlopCounterMode(display=False) as counter:
            s.predict(x)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(batches):
            s.predict(x)
        sync(device)
    dt = (time.perf_counter() - t0) / batches
    return dict(
        infer_tile=tuple(x.shape[-2:]),
        infer_tiles_per_s=len(x) / dt,
        infer_gflop_per_s=counter.get_total_flops() / dt / 1e9,
    )


def main() -> None:
    from vbench.plugins import load_plugins

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--method", action="append", choices=list(QUICK_DATA))
    ap.add_argument("--preset", action="append", choices=["quick", "paper"])
    ap.add_argument("--steps", type=int, default=200, help="quick presets' steps (0: the preset's budget)")
    ap.add_argument("--paper-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--precision", action="append", choices=["fp32", "bf16"], help="repeatable: each precision side by side"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("--device cuda: torch sees no CUDA device here")
        torch.backends.cudnn.benchmark = True
    plugins = load_plugins(extra=[paper_check])
    peak = paper_check.matmul_peak(args.device, "float32")
    print(f"{args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = []
    for preset in args.preset or ["quick", "paper"]:
        for method in args.method or list(QUICK_DATA):
            if preset == "paper" and method == "bbdm" and not args.device.startswith("cuda"):
                print("bbdm:paper      skipped on CPU: one step at batch 8 needs about 60 GB")
                continue
            steps = args.steps if preset == "quick" else args.paper_steps
            for precision in args.precision or ["fp32"]:
                try:
                    row = train_rate(method, preset, steps, args.device, plugins, precision)
                    row.update(infer_rate(row.pop("stainer_obj"), row.pop("test"), args.device))
                except Exception as exc:  # one method's failure must not hide the others' figures
                    print(f"{method}:{preset}@{precision} failed: {type(exc).__name__}: {exc}")
                    continue
                row["precision"] = precision
                rows.append(row)
                print(
                    f"{row['stainer']:60.60s} train {row['train_samples_per_s']:7.2f} samples/s "
                    f"{row['train_gflop_per_s']:6.1f} GFLOP/s  infer {row['infer_tiles_per_s']:6.2f} tiles/s "
                    f"{row['infer_gflop_per_s']:6.1f} GFLOP/s",
                    flush=True,
                )
    peak = max(peak, paper_check.matmul_peak(args.device, "float32"))
    print(f"fp32 torch.mm peak: {peak / 1e9:.0f} GFLOP/s (best of before and after)")
    print(f"{'stainer':60s} {'train':>7s} {'infer':>7s}  (fraction of the fp32 peak)")
    for row in rows:
        row["peak_gflop_per_s"] = peak / 1e9
        row["train_fraction"] = row["train_gflop_per_s"] * 1e9 / peak
        row["infer_fraction"] = row["infer_gflop_per_s"] * 1e9 / peak
        print(f"{row['stainer']:60.60s} {row['train_fraction']:7.0%} {row['infer_fraction']:7.0%}")
    by = {(r["stainer"].replace("@bf16", ""), r["precision"]): r for r in rows}
    for (label, precision), row in by.items():
        fp32 = by.get((label, "fp32"))
        if precision == "bf16" and fp32:
            ratio = row["train_samples_per_s"] / fp32["train_samples_per_s"]
            infer = row["infer_tiles_per_s"] / fp32["infer_tiles_per_s"]
            print(f"{label:60.60s} bf16 / fp32: train {ratio:.2f}x, infer {infer:.2f}x")
    if args.json:
        meta = dict(device=args.device, threads=torch.get_num_threads(), torch=torch.__version__)
        args.json.write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
