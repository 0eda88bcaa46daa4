"""What the anytime validation curve costs: per method, the seconds spent scoring validation tiles
during training (``curve_seconds``) against the training time (``train_seconds``), at the quick
presets. The bar: at most 10%.

    python benchmarks/curve_cost.py                      # runs each quick preset (seed 0), about 10 min
    python benchmarks/curve_cost.py --db sqlite:///b.db  # reads the runs a database already holds
    python benchmarks/curve_cost.py --steps 100          # each preset cut to 100 steps (a quick look)

Both times come from the same run, so the ratio holds on a loaded machine as well as on a quiet one.
"""

from __future__ import annotations

import argparse
import tempfile

TASKS = (
    ("phasestain:quick", "qpi-he"),
    ("bbdm:quick", "af-he-x4"),
    ("cyclegan:quick", "unstained-he-unpaired"),
    ("distill:quick", "unstained-he-unpaired"),
)
BAR = 0.10


def run_presets(url: str, steps: int | None) -> None:
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins, store = load_plugins(), Store(url)
    for stainer, dataset in TASKS:
        name = f"{stainer}[steps={steps}]" if steps else stainer
        specs = plan(plugins, [name], [dataset], [0], metrics=["psnr"], max_seconds=7200)
        run_sweep(specs, store, plugins, isolate=True, progress=False)


def report(url: str) -> list[dict]:
    from vbench.store import Store

    rows = []
    for r in Store(url).runs(status="completed"):
        if r.curve_seconds is None or not r.train_seconds:
            continue
        rows.append(
            dict(
                run=r.id,
                method=r.label,
                dataset=r.dataset,
                train_s=r.train_seconds,
                curve_s=r.curve_seconds,
                share=r.curve_seconds / r.train_seconds,
            )
        )
    print(f"{'run':>4}  {'method':<34} {'dataset':<22} {'train s':>8} {'curve s':>8} {'curve/train':>11}")
    for x in rows:
        flag = "" if x["share"] <= BAR else f"  over {BAR:.0%}"
        print(
            f"{x['run']:>4}  {x['method']:<34} {x['dataset']:<22} {x['train_s']:>8.1f} {x['curve_s']:>8.1f} "
            f"{x['share']:>10.1%}{flag}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="read the runs of this database instead of running the presets")
    parser.add_argument("--steps", type=int, help="cut each preset to this many steps")
    args = parser.parse_args()
    if args.db:
        report(args.db)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/curve-cost.db"
        run_presets(url, args.steps)
        report(url)


if __name__ == "__main__":
    main()
