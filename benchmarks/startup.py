"""Per-run start-up of isolated runs: spawn vs forkserver (VBENCH_START_METHOD).

Run:  .venv/bin/python benchmarks/startup.py [--runs 3] [--method spawn --method forkserver]

For each start method, a fresh driver process (this script again) plans the baseline runs on
qpi-ihc (psnr only), claims each in a fresh SQLite database and starts its worker exactly as
`vbench run` does (vbench.run.sweep.run_worker in the context vbench.run.processes gives). Printed per run:

- start-up: from the driver's ``proc.start()`` to the first line of ``run_one`` in the worker
  (after it opened the store and loaded the plugins). Under spawn torch itself is imported inside
  the run (its first line seeds torch), so this figure leaves that cost out; the wall time shows it;
- wall: from ``proc.start()`` until the worker exited, the whole run;
- the peak memory the run stored (``peak_mem_mb``).

Two in-process runs (``--no-isolate``'s path) are timed last for reference: the first imports what
a run needs, the second finds it imported; an isolated run's wall minus the second's is what
isolation costs a run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAINERS = ["baseline-mean", "baseline-linear", "baseline-colormap"]


def probe(stamp: str, *args) -> None:
    """A run's worker whose ``run_one`` first writes the time it was entered to ``stamp``."""
    import vbench.run.sweep as runner

    real = runner.run_one

    def run_one(*a, **k):
        Path(stamp).write_text(repr(time.time()))
        return real(*a, **k)

    runner.run_one = run_one
    runner.run_worker(*args)


def drive(runs: int) -> list[dict]:
    """This process as the driver: one isolated run per stainer (cycled), then two in-process runs."""
    from vbench.plugins import load_plugins
    from vbench.run import claim_run, plan, processes, run_provenance
    from vbench.run.execute import run_one
    from vbench.run.progress import Reporter
    from vbench.store import Store

    tmp = tempfile.mkdtemp(prefix="vbench-startup-")
    store = Store(f"sqlite:///{tmp}/startup.db")
    plugins = load_plugins()
    specs = plan(plugins, STAINERS, ["qpi-ihc"], [0], metrics=["psnr"], artifacts_root=f"{tmp}/artifacts")
    provenance = run_provenance()
    out = []
    for i in range(runs):
        spec = specs[i % len(specs)]
        claimed = claim_run(store, spec, plugins, provenance, resume=False)
        ctx = processes.context(processes.plugin_modules(plugins))
        stamp = f"{tmp}/stamp-{i}"
        proc = ctx.Process(
            target=probe,
            args=(
                stamp,
                store.url,
                claimed.run_id,
                claimed.owner,
                spec,
                plugins.explicit_modules(),
                False,
                os.getpid(),
                None,
                dict(os.environ),
            ),
        )
        t0 = time.time()
        proc.start()
        proc.join()
        wall = time.time() - t0
        run = store.get_run(claimed.run_id)
        entered = float(Path(stamp).read_text()) if Path(stamp).exists() else float("nan")
        out.append(
            dict(run=spec.label, status=run.status, startup_s=entered - t0, wall_s=wall, peak_mem_mb=run.peak_mem_mb)
        )
    for label in ("in-process, cold", "in-process, warm"):  # the first imports what a run needs
        spec = specs[0]
        claimed = claim_run(store, spec, plugins, provenance, resume=False)
        t0 = time.time()
        run_one(store, claimed.run_id, spec, plugins, Reporter(False), isolated=False, owner=claimed.owner)
        out.append(
            dict(
                run=f"{spec.label} ({label})",
                status=store.get_run(claimed.run_id).status,
                startup_s=0.0,
                wall_s=time.time() - t0,
                peak_mem_mb=None,
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="isolated runs per start method")
    ap.add_argument("--method", action="append", choices=["spawn", "forkserver"], default=None)
    args = ap.parse_args()
    for method in args.method or ["spawn", "forkserver"]:
        env = dict(os.environ, VBENCH_START_METHOD=method)
        done = subprocess.run(
            [sys.executable, __file__, "--drive", str(args.runs)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"{method}: failed\n{done.stderr}", file=sys.stderr)
            continue
        rows = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{method} (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)")
        print(f"  {'run':<52}{'status':<11}{'start-up s':>11}{'wall s':>9}{'peak MB':>9}")
        for r in rows:
            peak = f"{r['peak_mem_mb']:.0f}" if r["peak_mem_mb"] is not None else "-"
            print(f"  {r['run']:<52}{r['status']:<11}{r['startup_s']:>11.2f}{r['wall_s']:>9.2f}{peak:>9}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--drive":
        print(json.dumps(drive(int(sys.argv[2]))))
    else:
        main()
