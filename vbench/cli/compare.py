"""`vbench compare`: a paired test of two runs on the same test tiles."""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError
from .common import DbOption, app, err, out, split_names


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
    from ..stats import PAIRED_TESTS, paired_compare
    from ..store import Store

    if fmt not in ("table", "json"):
        raise ConfigError(f"unknown format {fmt!r}; use table or json")
    if test not in PAIRED_TESTS:
        raise ConfigError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must lie between 0 and 1, got {alpha}")
    store = Store(db)
    runs = []
    for rid in (run_a, run_b):
        r = store.get_run(rid)
        if r is None:
            raise ConfigError(f"no run {rid} in {store.url}; `vbench runs` lists them")
        if r.status != "completed":
            raise ConfigError(f"run {rid} is {r.status}, not completed; only completed runs can be compared")
        runs.append(r)
    a, b = runs
    if (a.dataset, a.manifest_hash) != (b.dataset, b.manifest_hash):
        raise ConfigError(
            f"run {a.id} scored {a.dataset} (manifest {str(a.manifest_hash)[:12]}) and run {b.id} scored {b.dataset} "
            f"(manifest {str(b.manifest_hash)[:12]}): a paired test needs the same test tiles")
    sa = {s.metric: s for s in store.summaries([a.id]) if s.status == "computed"}
    sb = {s.metric: s for s in store.summaries([b.id]) if s.status == "computed"}
    names = split_names(metric) or sorted(set(sa) & set(sb))
    rows = []
    for m in names:
        if m not in sa or m not in sb:
            which = a.id if m not in sa else b.id
            raise ConfigError(f"metric {m!r} was not computed in run {which}; metrics of both: "
                              f"{', '.join(sorted(set(sa) & set(sb))) or '(none)'}")
        va, vb = store.scores(a.id, m), store.scores(b.id, m)
        if not va or not vb:
            continue  # set-level metrics (one number per run) have no per-tile scores to pair
        res = paired_compare(va, vb, higher_is_better=sa[m].higher_is_better, test=test, seed=seed, alpha=alpha)
        res.update(metric=m, higher_is_better=bool(sa[m].higher_is_better), only_a=len(set(va) - set(vb)),
                   only_b=len(set(vb) - set(va)))
        rows.append(res)
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
        err.print(f"[yellow]{r['metric']}:[/] {r['only_a']} tile(s) only in A and {r['only_b']} only in B were left out",
                  highlight=False)


def _label(run) -> str:
    return (f"{run.stainer}:{run.preset}" if run.preset else run.stainer) + (" external" if run.external else "")
