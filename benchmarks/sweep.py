"""Sweep executors: the local executor (one run at a time, each in its own process) against
``--executor ray`` (each run a Ray task) on this machine, Ray's per-task scheduling cost, and the
per-run start-up cost of both.

Run:  .venv/bin/python benchmarks/sweep.py [--runs 16] [--seconds 10] [--threads N] [--probes 5] [--no-tasks]

Workload: ``--runs`` runs (seeds 0..N-1) of a benchmark stainer whose fit takes a fixed number of
steps of float32 matrix products, calibrated before the sweeps to take about ``--seconds`` with
``--threads`` torch threads (default: the cores; on a machine other jobs load, 1 is steadier:
threads that wait for a busy core spin), on a toy dataset of 16 px tiles (predicting and scoring
cost milliseconds), scored with PSNR.

- ``local``: ``run_sweep`` with the local executor (each run in its own process, one at a time,
  ``OMP_NUM_THREADS`` = ``--threads``), for each start method the runner has
  (``VBENCH_START_METHOD`` spawn | forkserver; spawn alone where it has none).
- ``ray x1``: the Ray executor on a local Ray of ``--threads`` CPUs with ``cpus_per_run`` =
  ``--threads``: one run at a time, the same threads (equal concurrency). ``ray xK``: a local Ray
  of all cores, K = cores / threads runs at once. Each local Ray is started for its sweep
  (``ray.init``: printed apart, not in the sweep's wall time; the workers' first imports are).
- Ray overhead = ray x1 wall / the faster local start method's wall - 1 (target: under 20%).
- Per-task scheduling: 1000 no-op tasks submitted at once (ms per task), and 100 submitted and
  awaited one at a time (round trip).
- Per-run start-up: ``--probes`` runs of a stainer that only notes when its fit starts; start-up =
  time from the end of the previous run (or the sweep's start) to that fit, i.e. claiming the run,
  starting the process (or task), importing, loading plugins and the dataset, seeding; idle run =
  start-up plus the rest of such a run (predicting and scoring 4 tiny tiles, the modules that
  first need, storing), i.e. what every run costs besides its own work.

Wall times on a shared machine are noisy: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BENCH_PLUGIN = '''
import os
import time
import torch
import vbench

class Toy(vbench.Dataset):
    """Paired toy data: 16 px tiles, so predicting and scoring cost milliseconds."""
    name = "bench-toy"
    pairing = "paired"
    scale = 1
    in_channels = 1

    def load(self, split):
        g = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
        out = []
        for i in range({"train": 4, "val": 2, "test": 4}[split]):
            x = torch.rand(1, 16, 16, generator=g)
            y = torch.cat([x * 0.8 + 0.1, 1 - x * 0.5, x * 0.3 + 0.2])
            out.append(vbench.Sample(id=f"{split}-{i}", input=x, target=y, truth=y))
        return out

class Busy(vbench.Stainer):
    """Each step: matrix products of 384 x 384 float32 (about 0.4 GFLOP), a fixed amount of work."""
    name = "bench-busy"
    pairings = {"paired"}
    presets = {"default": {"steps": 10}}

    def fit(self, train, ctx):
        g = torch.Generator().manual_seed(ctx.seed)
        a = torch.rand(384, 384, generator=g)
        b = torch.rand(384, 384, generator=g)
        while ctx.step():
            for _ in range(4):
                a = torch.tanh(a @ b)
        self.colour = a.mean().clamp(0, 1).item()

    def predict(self, inputs):
        n, _, h, w = inputs.shape
        return torch.full((n, 3, h, w), self.colour)

class Probe(Busy):
    """Notes when its fit starts (the run's start-up is over), and does nothing else."""
    name = "bench-probe"
    presets = {"default": {"steps": 1}}

    def fit(self, train, ctx):
        with open(os.environ["VBENCH_BENCH_PROBE_LOG"], "a") as f:
            f.write(f"{time.time()}\\n")
        self.colour = 0.5

@vbench.hookimpl
def vbench_register_datasets(register):
    register(Toy)

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Busy)
    register(Probe)
'''

MODULE = "vbench_bench_sweep"
TARGET = 0.20


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def start_methods() -> list[str]:
    """The start methods the local executor offers (``VBENCH_START_METHOD``); spawn alone where
    the runner has no choice. Add one here when the runner gets another."""
    try:
        from vbench.run.processes import METHODS
    except ImportError:
        return ["spawn"]
    return list(METHODS)


def calibrate(seconds: float) -> int:
    """Steps of the busy stainer that take about ``seconds`` here, with torch's default threads."""
    import torch

    a, b = torch.rand(384, 384), torch.rand(384, 384)
    for _ in range(8):  # warm-up
        a = torch.tanh(a @ b)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for _ in range(4):
            a = torch.tanh(a @ b)
        n += 1
    return max(1, round(seconds * n / (time.perf_counter() - t0)))


class Bench:
    def __init__(self, folder: Path):
        from vbench.plugins import load_plugins

        self.folder = folder
        self.plugins = load_plugins(extra=[MODULE])
        self.n = 0

    def specs(self, stainer: str, runs: int, steps: int | None = None):
        from vbench.run import plan

        settings = {"steps": [steps]} if steps is not None else None
        return plan(
            self.plugins,
            [stainer],
            ["bench-toy"],
            list(range(runs)),
            metrics=["psnr"],
            artifacts_root=str(self.folder / "artifacts"),
            settings=settings,
        )

    def sweep(self, specs, executor=None, on_event=lambda o: None) -> float:
        """Wall seconds of one sweep into a fresh database; every run must complete."""
        from vbench.run import run_sweep
        from vbench.store import Store

        self.n += 1
        store = Store(f"sqlite:///{self.folder / f'sweep-{self.n}.db'}")
        t0 = time.perf_counter()
        outcomes = run_sweep(specs, store, self.plugins, progress=False, executor=executor, on_event=on_event)
        wall = time.perf_counter() - t0
        bad = [o for o in outcomes if o.status != "completed"]
        if bad:
            raise SystemExit(f"run {bad[0].run_id} {bad[0].status}: {bad[0].message}")
        return wall

    def startup(self, probes: int, executor=None) -> tuple[float, float]:
        """Medians over runs that do no work of (seconds from the previous run's end, or the
        sweep's start, to the run's fit; seconds from there to the run's end)."""
        log = self.folder / f"probe-{self.n + 1}.log"
        os.environ["VBENCH_BENCH_PROBE_LOG"] = str(log)
        ends = [time.time()]
        self.sweep(self.specs("bench-probe", probes), executor, on_event=lambda o: ends.append(time.time()))
        starts = [float(x) for x in log.read_text().split()]
        return (
            statistics.median(s - e for s, e in zip(starts, ends)),
            statistics.median(e - s for s, e in zip(starts, ends[1:])),
        )


def task_overhead(ray) -> tuple[float, float]:
    """(ms per no-op task submitted at once, ms per round trip one at a time)."""

    @ray.remote(num_cpus=1)
    def noop(i):
        return i

    ray.get([noop.remote(i) for i in range(50)])  # workers up
    t0 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(1000)])
    batch = (time.perf_counter() - t0) / 1000 * 1000
    t0 = time.perf_counter()
    for i in range(100):
        ray.get(noop.remote(i))
    return batch, (time.perf_counter() - t0) / 100 * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16, help="runs per sweep (default 16)")
    ap.add_argument("--seconds", type=float, default=10.0, help="training seconds of each run (default 10)")
    ap.add_argument("--threads", type=int, default=cores(), help="torch threads of a run (default: the cores)")
    ap.add_argument("--probes", type=int, default=5, help="runs measuring the per-run start-up (default 5)")
    ap.add_argument("--no-tasks", action="store_true", help="skip the no-op task measurement")
    args = ap.parse_args()

    n_cores, threads = cores(), args.threads
    # Before torch is imported anywhere: the local executor's workers (and this process) take
    # their thread count from it, as Ray's tasks take theirs from --cpus-per-run.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    folder = Path(tempfile.mkdtemp(prefix="vbench-bench-sweep-"))
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(BENCH_PLUGIN))
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("VBENCH_HOME", str(folder / "home"))

    import ray

    from vbench.run.ray_executor import RayExecutor

    bench = Bench(folder)
    steps = calibrate(args.seconds)
    busy = bench.specs("bench-busy", args.runs, steps)
    print(
        f"{args.runs} runs of {steps} steps (about {args.seconds:g} s each here with {threads} threads); "
        f"{n_cores} cores; load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(
        "start-up: from the previous run's end to the run's fit; idle run: a run doing nothing, start to end "
        f"(medians of {args.probes})"
    )

    def line(name: str, wall: float, probe=None, base=None, target=False) -> None:
        text = f"{name:<28} {wall:8.1f} s  ({wall / args.runs:6.2f} s/run)"
        if probe is not None:
            text += f"   start-up {probe[0]:5.2f} s, idle run {probe[0] + probe[1]:5.2f} s"
        if base is not None:
            text += f"   ratio to local {wall / base:.3f}"
            text += f" (overhead {wall / base - 1:+.1%}, target < {TARGET:.0%})" if target else ""
        print(text, flush=True)

    local = {}
    for method in start_methods():
        os.environ["VBENCH_START_METHOD"] = method
        probe = bench.startup(args.probes)
        local[method] = bench.sweep(busy)
        line(f"local ({method})", local[method], probe)
    base = min(local.values())

    # One run at a time with the runs' threads (a Ray of `threads` CPUs: equal concurrency), then
    # as many at once as the cores allow.
    for slots in (1, n_cores // threads) if n_cores // threads > 1 else (1,):
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=threads * slots, include_dashboard=False, logging_level="WARNING")
        print(f"ray.init (local Ray, {threads * slots} CPUs): {time.perf_counter() - t0:.1f} s, not in the sweep times")
        try:
            executor = RayExecutor(cpus_per_run=threads)
            # The probes also start the workers and import what a run needs, as the local
            # executor's probes start its forkserver: the sweep then measures runs, not warm-up.
            probe = bench.startup(max(args.probes, slots), executor)
            line(
                f"ray x{slots} ({threads} CPUs/run)",
                bench.sweep(busy, executor),
                probe if slots == 1 else None,
                base,
                target=slots == 1,
            )
            if slots == 1 and not args.no_tasks:
                batch, round_trip = task_overhead(ray)
                print(
                    f"ray no-op task: {batch:.2f} ms each submitted at once (1000), "
                    f"{round_trip:.2f} ms round trip one at a time (100)"
                )
        finally:
            ray.shutdown()
    print(f"load average at the end {os.getloadavg()[0]:.2f}; files in {folder}")


if __name__ == "__main__":
    main()
