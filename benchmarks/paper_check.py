"""Trains each bundled method's paper preset for a fixed number of steps at its paper tile size
and batch on a bundled dataset, predicts and scores the test tiles, and writes one JSON per
method: steps/s, samples/s, peak memory, training FLOP/s and its fraction of the device's peak,
the losses at the first and the last step, and the scores.

Run:  .venv/bin/python benchmarks/paper_check.py [--device cuda] [--steps 30] [--out DIR]
      [--method cyclegan ...] [--sample-steps 20]

benchmarks/gpu_check.sh runs it on a GPU; tests/test_paper_presets.py runs its CPU path (2 steps).
The bundled datasets' training tiles are 64 px, so the scale-1 methods train on the same datasets
cut into 256 px training tiles (``-t256``, built once, about 4 s each); bbdm's 256 px output crops
fit af-he-x4 as shipped. Only step counts are shrunk: the training steps, the teacher's share of
distill's and bbdm's sampling steps (``--sample-steps``; 1000 in the preset), never a network.
Timing: steps/s over the steps after the first two (the first allocates and picks kernels; the
second is the one vbench's FLOP counter runs under). The peak is torch.mm's on 4096^2 (8192^2 on
CUDA) matrices in the precision named, measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import vbench
from vbench_datasets.tissue import QpiHe, UnstainedHeMisaligned, UnstainedHeUnpaired

TRAIN256 = dict(train_tile=256, train_stride=256)


def _no_wholes(self, shape, regions) -> list:
    return []  # whole-image regions sit where the default tiling puts them: none here


def _t256(cls):
    body = dict(name=cls.name + "-t256", defaults=dict(cls.defaults, **TRAIN256), whole_boxes=_no_wholes)
    return type(cls.__name__ + "T256", (cls,), body)


DATASETS = [_t256(QpiHe), _t256(UnstainedHeUnpaired), _t256(UnstainedHeMisaligned)]


@vbench.hookimpl
def vbench_register_datasets(register):
    for d in DATASETS:
        register(d)


# method: (dataset, parameter overrides besides the steps)
CHECKS = {
    "phasestain": ("qpi-he-t256", {}),
    "cyclegan": ("unstained-he-unpaired-t256", {}),
    "distill": ("unstained-he-misaligned-t256", {}),
    "bbdm": ("af-he-x4", {}),
}


def stainer_name(method: str, steps: int, sample_steps: int) -> str:
    sets = {"steps": steps}
    if method == "distill":  # half the budget to the teacher, half to the student
        sets = {"steps": 2 * steps, "teacher_steps": steps}
    if method == "bbdm":
        sets["sample_steps"] = sample_steps
    return f"{method}:paper[{','.join(f'{k}={v}' for k, v in sets.items())}]"


def matmul_peak(device: str, dtype_name: str) -> float:
    """FLOP/s of torch.mm on square matrices (best of a few), the machine's practical peak."""
    import torch

    n = 8192 if device.startswith("cuda") else 2048
    dtype = getattr(torch, dtype_name)
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    best = math.inf
    for i in range(4 if device.startswith("cuda") else 3):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(5 if device.startswith("cuda") else 1):
            a @ b
        _sync(device)
        if i:  # the first call warms up
            best = min(best, (time.perf_counter() - t0) / (5 if device.startswith("cuda") else 1))
    return 2 * n**3 / best


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


class StepLog:
    """Records every ``RunContext.step`` call (time, stage, losses) by wrapping the method."""

    def __init__(self, device: str):
        self.device, self.rows, self.ctx = device, [], None

    def __enter__(self):
        self._orig = orig = vbench.RunContext.step
        log = self

        def step(ctx, n=1, samples=0, **logs):
            _sync(log.device)
            log.ctx = ctx
            log.rows.append(
                dict(t=time.perf_counter(), n=n, samples=samples, stage=logs.get("stage") or ctx.stage, logs=logs)
            )
            return orig(ctx, n, samples, **logs)

        vbench.RunContext.step = step
        return self

    def __exit__(self, *exc):
        vbench.RunContext.step = self._orig


def check(method: str, steps: int, device: str, out: Path, sample_steps: int = 20, peak: float | None = None) -> dict:
    """One method's check; returns (and writes to ``out/METHOD.json``) its figures."""
    import torch

    from vbench.plugins import load_plugins
    from vbench.run import plan
    from vbench.run.execute import compute_run
    from vbench.run.progress import Reporter

    dataset, _ = CHECKS[method]
    plugins = load_plugins(extra=[sys.modules[__name__]])
    (spec,) = plan(
        plugins,
        [stainer_name(method, steps, sample_steps)],
        [dataset],
        [0],
        metrics=["psnr", "ssim"],
        device=device,
        repeats=1,
        artifacts_root=str(out / "artifacts"),
    )
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    with StepLog(device) as log:
        result = compute_run(0, spec, plugins, Reporter(enabled=False), isolated=False)
    wall = time.perf_counter() - started
    rows = log.rows
    timed = rows[2:] if len(rows) > 2 else rows[-1:]
    span = timed[-1]["t"] - rows[len(rows) - len(timed) - 1]["t"] if len(rows) > len(timed) else None
    per_step = getattr(getattr(log.ctx, "flops", None), "per_step", {}) or {}
    flops = sum(per_step.get(r["stage"], math.nan) * r["n"] for r in timed) if per_step else None
    fields = result.fields
    report = dict(
        method=method,
        stainer=spec.label,
        dataset=dataset,
        device=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        steps=len(rows),
        timed_steps=len(timed),
        steps_per_s=len(timed) / span if span else None,
        samples_per_s=sum(r["samples"] for r in timed) / span if span else None,
        train_flops_per_step={k: float(v) for k, v in per_step.items()},
        train_flop_per_s=flops / span if span and flops is not None and math.isfinite(flops) else None,
        loss_start=_floats(rows[0]["logs"]) if rows else None,
        loss_end=_floats(rows[-1]["logs"]) if rows else None,
        peak_gpu_mb=torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        train_seconds=fields.get("train_seconds"),
        infer_ms_p50=fields.get("infer_ms_p50"),
        wall_seconds=wall,
        scores={s["metric"]: s.get("mean") for s in result.summaries},
    )
    if peak and report["train_flop_per_s"]:
        report["peak_flop_per_s"] = peak
        report["fraction_of_peak"] = report["train_flop_per_s"] / peak
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{method}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def _floats(logs: dict) -> dict:
    return {k: float(v) for k, v in logs.items() if k != "stage"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--sample-steps", type=int, default=20, help="bbdm's sampling steps (the preset's: 1000)")
    ap.add_argument("--method", action="append", choices=list(CHECKS), help="default: all four")
    ap.add_argument("--peak-dtype", default=None, help="precision of the peak (default: bfloat16 on CUDA, float32)")
    ap.add_argument("--out", type=Path, default=Path("paper-check"))
    args = ap.parse_args()
    import torch

    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    dtype = args.peak_dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    peak = matmul_peak(args.device, dtype)
    print(f"{args.device}: torch.mm {dtype} peak {peak / 1e9:.0f} GFLOP/s", flush=True)
    failed = 0
    for method in args.method or list(CHECKS):
        try:
            r = check(method, args.steps, args.device, args.out, args.sample_steps, peak)
        except Exception as exc:  # one method's failure must not hide the others' figures
            failed += 1
            print(f"{method}: FAILED {type(exc).__name__}: {exc}", flush=True)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{method}.json").write_text(json.dumps(dict(method=method, error=f"{exc}")) + "\n")
            continue
        frac = r.get("fraction_of_peak")
        print(
            f"{method:10s} {r['steps']} steps, {r['steps_per_s'] or 0:.3f} steps/s, {r['samples_per_s'] or 0:.2f} "
            f"samples/s, {(r['train_flop_per_s'] or 0) / 1e9:.0f} GFLOP/s"
            + (f" ({frac:.0%} of {dtype} peak)" if frac else "")
            + f", peak GPU {r['peak_gpu_mb'] or 0:.0f} MB, RSS {r['peak_rss_mb']:.0f} MB, "
            f"wall {r['wall_seconds']:.0f} s, scores {r['scores']}",
            flush=True,
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
