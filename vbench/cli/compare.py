"""`vbench compare`: a paired test of two runs, or of two methods over their seeds, on the same test tiles."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from .common import DbOption, app, check_format, err, out, say, split_names


@app.command()
def compare(
    run_a: str = typer.Argument(..., help="Run id A, or a method (stainer or stainer:preset) compared over its seeds"),
    run_b: str = typer.Argument(..., help="Run id B, or a method"),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="For methods: the dataset (needed when they share more than one)"
    ),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metric (repeatable); default: every metric both runs computed per tile"
    ),
    test: str = typer.Option(
        "bootstrap",
        "--test",
        help="bootstrap (paired bootstrap of the mean difference; for methods over seeds, then tiles) | "
        "wilcoxon (signed-rank; two runs)",
    ),
    alpha: float = typer.Option(0.05, help="Significance level"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
    db: str | None = DbOption,
    seed: int = typer.Option(0, help="Seed of the bootstrap"),
    at_budget: str | None = typer.Option(
        None,
        "--at-budget",
        help="For methods: compare each one's largest run per seed within this training budget (300s, 2e15), "
        "naming methods without their budget multiple",
    ),
):
    """Paired test on the same test tiles: which is better per metric, by how much (95% CI of the
    mean difference) and whether it is significant. Two run ids compare those runs; two methods
    (`phasestain:quick baseline-linear`) compare them over the seeds both ran, resampling seeds,
    then tiles within each seed. Where the runs recorded their tiles' source images, source images
    are resampled instead of tiles, as for leaderboard intervals."""
    from ..compare import compare_methods, compare_runs
    from ..compute import parse_budget
    from ..errors import ConfigError
    from ..store import Store

    check_format(fmt, ("table", "json"))
    budget = parse_budget(at_budget) if at_budget is not None else None
    ids = [x.isdigit() for x in (run_a, run_b)]
    if all(ids):
        if dataset or budget:
            which = "--dataset" if dataset else "--at-budget"
            raise ConfigError(f"{which} is for comparing methods; runs already name their dataset and budget")
        res = compare_runs(Store(db), int(run_a), int(run_b), split_names(metric), test=test, alpha=alpha, seed=seed)
        label = {"a": f"run {res.a.id} ({_label(res.a)})", "b": f"run {res.b.id} ({_label(res.b)})"}
    elif any(ids):
        raise ConfigError(f"compare two run ids or two methods, not one of each ({run_a!r}, {run_b!r})")
    else:
        if test != "bootstrap":
            raise ConfigError(
                f"--test {test} compares two runs; methods over seeds are compared with the "
                f"two-level bootstrap (leave out --test)"
            )
        res = compare_methods(
            Store(db), run_a, run_b, dataset, split_names(metric), alpha=alpha, seed=seed, at_budget=budget
        )
        label = {k: f"{name} (seeds {', '.join(map(str, res.seeds))})" for k, name in zip("ab", res.labels)}
    a, b, rows = res.a, res.b, res.metrics
    if fmt == "json":
        side = (
            {"a": {"run": a.id, "label": _label(a)}, "b": {"run": b.id, "label": _label(b)}}
            if all(ids)
            else {
                "a": {"method": res.labels[0], "runs": res.run_ids[0]},
                "b": {"method": res.labels[1], "runs": res.run_ids[1]},
            }
        )
        if not all(ids):
            side["seeds"] = res.seeds
        sys.stdout.write(
            json.dumps({**side, "dataset": a.dataset, "test": res.test, "alpha": alpha, "metrics": rows}, indent=2)
            + "\n"
        )
        return
    t = Table(title=f"{label['a']} vs {label['b']} on {a.dataset} ({res.test}, alpha {alpha})")
    for col in ("metric", "n" if all(ids) else "tiles (seeds)", "mean A", "mean B", "A - B [95% CI]", "p", "verdict"):
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
            verdict = (
                f"{winner} better ({arrow} is better), significant"
                if r["significant"]
                else f"{winner} better ({arrow} is better), not significant"
            )
        p = "-" if r["p"] is None else f"{r['p']:.3g}"
        n = str(r["n"]) if all(ids) else f"{r['n']} ({r['n_seeds']})"
        if r.get("n_sources"):
            n += f", {r['n_sources']} source images"
        t.add_row(r["metric"], n, f"{r['mean_a']:.4g}", f"{r['mean_b']:.4g}", ci, p, verdict)
    out.print(t)
    if any(r.get("n_sources") for r in rows):
        say(
            err,
            "note:",
            "blue",
            "the runs recorded their tiles' source images: source images were resampled, not tiles "
            "(tiles of one image are not independent), as leaderboard intervals are.",
        )
    skipped = [r for r in rows if r["only_a"] or r["only_b"]]
    for r in skipped:
        say(
            err,
            f"{r['metric']}:",
            "yellow",
            f"{r['only_a']} tile(s) only in A and {r['only_b']} only in B were left out",
        )


def _label(run) -> str:
    return run.label + (" external" if run.external else "")
