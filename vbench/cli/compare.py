"""`vbench compare`: a paired test of two runs on the same test tiles."""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer
from rich.table import Table

from .common import DbOption, app, check_format, err, out, say, split_names


@app.command()
def compare(
    run_a: int = typer.Argument(..., help="Run id A"),
    run_b: int = typer.Argument(..., help="Run id B"),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", help="Metric (repeatable); default: every metric both runs computed per tile"),
    test: str = typer.Option("bootstrap", "--test", help="bootstrap (paired bootstrap of the mean difference) | wilcoxon (signed-rank)"),
    alpha: float = typer.Option(0.05, help="Significance level"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
    db: Optional[str] = DbOption,
    seed: int = typer.Option(0, help="Seed of the bootstrap"),
):
    """Paired test of two runs on the same test tiles: which is better per metric, by how much
    (95% CI of the mean difference) and whether it is significant."""
    from ..compare import compare_runs
    from ..store import Store

    check_format(fmt, ("table", "json"))
    res = compare_runs(Store(db), run_a, run_b, split_names(metric), test=test, alpha=alpha, seed=seed)
    a, b, rows = res.a, res.b, res.metrics
    label = {"a": f"run {a.id} ({_label(a)})", "b": f"run {b.id} ({_label(b)})"}
    if fmt == "json":
        sys.stdout.write(json.dumps({"a": {"run": a.id, "label": _label(a)}, "b": {"run": b.id, "label": _label(b)},
                                     "dataset": a.dataset, "alpha": alpha, "metrics": rows}, indent=2) + "\n")
        return
    t = Table(title=f"{label['a']} vs {label['b']} on {a.dataset} ({test}, alpha {alpha})")
    for col in ("metric", "n", "mean A", "mean B", "A - B [95% CI]", "p", "verdict"):
        t.add_column(col, overflow="fold")
    for r in rows:
        if r["n"] == 0:
            t.add_row(r["metric"], "0", "-", "-", "-", "-", "no tiles in common")
            continue
        ci = f"{r['diff']:+.4g} [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]"
        if r["better"] is None:
            verdict = "identical"
        else:
            winner = "A" if r["better"] == "a" else "B"
            arrow = "higher" if r["higher_is_better"] else "lower"
            verdict = (f"{winner} better ({arrow} is better), significant" if r["significant"]
                       else f"{winner} better ({arrow} is better), not significant")
        p = "-" if r["p"] is None else f"{r['p']:.3g}"
        t.add_row(r["metric"], str(r["n"]), f"{r['mean_a']:.4g}", f"{r['mean_b']:.4g}", ci, p, verdict)
    out.print(t)
    skipped = [r for r in rows if r["only_a"] or r["only_b"]]
    for r in skipped:
        say(err, f"{r['metric']}:", "yellow", f"{r['only_a']} tile(s) only in A and {r['only_b']} only in B were left out")


def _label(run) -> str:
    return run.label + (" external" if run.external else "")
