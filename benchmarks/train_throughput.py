"""Training and inference throughput of every bundled method against the machine's matrix-product
peak, measured in the same run.

Run:  .venv/bin/python benchmarks/train_throughput.py [--device cpu|cuda] [--json FILE]
      [--method cyclegan ...] [--preset quick|paper ...] [--steps 200] [--paper-steps 3]
      [--threads N] [--precision fp32 --precision bf16] [--rounds 3] [--kernels]
      [--set batch=16 ...]

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
within one run; ``--rounds N`` alternates the precisions N times in one process and reports
medians (and the median of the per-round bf16 / fp32 ratios). ``--kernels`` adds the GFLOP/s
of the convolutions and matrix products alone, timed inside the training steps, and their share
of the step: the ceiling of the network's shapes (kernel_clock.py).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

import vbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_check  # noqa: E402 (the paper presets' datasets, registered by that module)
from kernel_clock import StageWindows  # noqa: E402

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


def train_rate(
    method: str,
    preset: str,
    steps: int,
    device: str,
    plugins,
    precision: str = "fp32",
    kernels: bool = False,
    sets: tuple[str, ...] = (),
) -> dict:
    from vbench.run import plan

    dataset = QUICK_DATA[method] if preset == "quick" else paper_check.CHECKS[method][0]
    budget = [f"steps={steps}"] if steps else []
    if method == "distill" and steps:  # the teacher's stage, then as many student steps
        budget = [f"steps={2 * steps}", f"teacher_steps={steps}"]
    overrides = budget + list(sets)
    label = f"{method}:{preset}" + (f"[{','.join(overrides)}]" if overrides else "")
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
    windows = StageWindows(device, skip=WARMUP) if kernels else None

    def progress(done, total, logs):
        sync(device)
        marks.append((time.perf_counter(), s.ctx.samples_seen, s.ctx.stage))
        if windows is not None:
            windows.after_step(s.ctx.stage)

    s.ctx.on_progress = progress
    s.ctx.start_clock()
    try:
        s.fit(train, s.ctx)
    finally:
        if windows is not None:
            windows.close(keep=False)
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
    more = kernel_figures(windows.done, [stage for _, _, stage in timed]) if windows is not None else {}
    return dict(
        **more,
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


def kernel_figures(done: dict, stages: list[str]) -> dict:
    """The matrix-product kernels' GFLOP/s and seconds per step, over the timed steps' stages."""
    if not done or any(stage not in done for stage in set(stages)):
        return {}
    seconds = sum(done[stage]["seconds"] for stage in stages)
    flops = sum(done[stage]["flops"] for stage in stages)
    return dict(kernel_gflop_per_s=flops / seconds / 1e9, kernel_seconds_per_step=seconds / len(stages))


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


RATES = ("train_samples_per_s", "train_steps_per_s", "train_gflop_per_s", "infer_tiles_per_s", "infer_gflop_per_s")


def measure(method, preset, steps, device, plugins, precisions, rounds, kernels=False, sets=()) -> list[dict]:
    """One row per precision: each round trains every precision once, in turn, so that a noisy
    machine's drift hits them alike; figures are medians over the rounds, and
    ``bf16_train_speedup`` / ``bf16_infer_speedup`` the medians of the per-round ratios. With
    ``kernels``, one more run per precision times the matrix-product kernels (kernel_clock.py;
    the clock slows the steps it watches, so that run's rates are not used)."""
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    for r in range(rounds):
        for precision in precisions if r % 2 == 0 else precisions[::-1]:  # neither always goes first
            try:
                row = train_rate(method, preset, steps, device, plugins, precision, sets=sets)
                row.update(infer_rate(row.pop("stainer_obj"), row.pop("test"), device))
            except Exception as exc:  # one method's failure must not hide the others' figures
                print(f"{method}:{preset}@{precision} failed: {type(exc).__name__}: {exc}")
                continue
            runs[precision].append(dict(row, round=r))
            note = f" (round {r + 1} of {rounds})" if rounds > 1 else ""
            print(
                f"{row['stainer']:60.60s} train {row['train_samples_per_s']:7.2f} samples/s "
                f"{row['train_gflop_per_s']:6.1f} GFLOP/s  infer {row['infer_tiles_per_s']:6.2f} tiles/s "
                f"{row['infer_gflop_per_s']:6.1f} GFLOP/s{note}",
                flush=True,
            )
    rows = []
    for precision, done in runs.items():
        if not done:
            continue
        row = dict(done[0], precision=precision, rounds=len(done))
        del row["round"]
        for key in RATES:
            row[key] = statistics.median(d[key] for d in done)
        rows.append(row)
    fp32, bf16 = runs.get("fp32", []), runs.get("bf16", [])
    for row in rows:
        if row["precision"] == "bf16" and fp32 and bf16:
            by_round = {f["round"]: f for f in fp32}
            pairs = [(by_round[b["round"]], b) for b in bf16 if b["round"] in by_round]
            for key, name in (("train_samples_per_s", "train"), ("infer_tiles_per_s", "infer")):
                row[f"bf16_{name}_speedup"] = statistics.median(b[key] / f[key] for f, b in pairs)
    if kernels:
        for row in rows:
            try:
                clocked = train_rate(method, preset, steps, device, plugins, row["precision"], True, sets)
            except Exception as exc:
                print(f"{method}:{preset}@{row['precision']} kernel clock failed: {type(exc).__name__}: {exc}")
                continue
            if "kernel_gflop_per_s" in clocked:
                # the kernels' time per step against the unclocked rounds' median step time
                share = clocked["kernel_seconds_per_step"] * row["train_steps_per_s"]
                row.update(kernel_gflop_per_s=clocked["kernel_gflop_per_s"], kernel_time_share=min(share, 1.0))
    return rows


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
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="train each precision this many times, in turn (medians; for noisy machines)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable: a preset parameter to override (batch=16, width=32), as in NAME:PRESET[KEY=VALUE]",
    )
    ap.add_argument(
        "--kernels",
        action="store_true",
        help="also time the matrix-product kernels inside the steps: their GFLOP/s is the shapes' ceiling",
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
            precisions = args.precision or ["fp32"]
            rows += measure(
                method, preset, steps, args.device, plugins, precisions, args.rounds, args.kernels, tuple(args.set)
            )
    peak = max(peak, paper_check.matmul_peak(args.device, "float32"))
    print(f"fp32 torch.mm peak: {peak / 1e9:.0f} GFLOP/s (best of before and after)")
    head = "  kernels (their share of the step)" if args.kernels else ""
    print(f"{'stainer':60s} {'train':>7s} {'infer':>7s}{head}  (fraction of the fp32 peak)")
    for row in rows:
        row["peak_gflop_per_s"] = peak / 1e9
        row["train_fraction"] = row["train_gflop_per_s"] * 1e9 / peak
        row["infer_fraction"] = row["infer_gflop_per_s"] * 1e9 / peak
        more = ""
        if "kernel_gflop_per_s" in row:
            row["kernel_fraction"] = row["kernel_gflop_per_s"] * 1e9 / peak
            more = f"  {row['kernel_fraction']:7.0%} ({row['kernel_time_share']:.0%})"
        print(f"{row['stainer']:60.60s} {row['train_fraction']:7.0%} {row['infer_fraction']:7.0%}{more}")
    for row in rows:
        if "bf16_train_speedup" in row:
            print(
                f"{row['stainer'].replace('@bf16', ''):60.60s} bf16 / fp32: train {row['bf16_train_speedup']:.2f}x, "
                f"infer {row['bf16_infer_speedup']:.2f}x (median of {row['rounds']} rounds)"
            )
    if args.json:
        meta = dict(device=args.device, threads=torch.get_num_threads(), torch=torch.__version__)
        args.json.write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
