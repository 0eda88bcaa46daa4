"""`vbench run`, `vbench leaderboard`, `vbench runs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError
from .common import AT_BUDGET_HELP, DbOption, app, check_format, err, loaded_plugins, out, say, split_names, write_text

HELD_EXIT = 3  # `vbench run` left runs that live owners elsewhere hold (docs/runs.md)


@app.command()
def run(
    suite: str | None = typer.Option(
        None, help="Suite name (see vbench/run/suites.toml) or a suite TOML file; default: 'default'"
    ),
    stainer: list[str] | None = typer.Option(None, "--stainer", "-s", help="Stainer NAME or NAME:PRESET (repeatable)"),
    dataset: list[str] | None = typer.Option(None, "--dataset", "-d", help="Dataset name (repeatable)"),
    seed: list[int] | None = typer.Option(None, "--seed", help="Seed (repeatable)"),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metric (repeatable); default: the dataset pairing's set"
    ),
    set_: list[str] | None = typer.Option(
        None,
        "--set",
        help="KEY=VALUE over the preset's parameters (repeatable); KEY=V1,V2 runs a grid, one run per combination",
    ),
    db: str | None = DbOption,
    resume: bool = typer.Option(False, "--resume", help="Skip runs already completed in the database"),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="With --resume: wait for runs a live process elsewhere holds, until each is completed or its "
        "owner is gone (then run it here); without it they are left to it and the exit code is 3",
    ),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:N or mps; default cuda when available"),
    max_seconds: float | None = typer.Option(
        None, help="Cap on training seconds; a run that hits it is marked truncated"
    ),
    batch_size: int = typer.Option(8, min=1, help="Tiles per predict/score batch"),
    repeats: int | None = typer.Option(
        None,
        min=1,
        help="Predictions per test tile; > 1 stores the per-pixel std/CV across them (default: the stainer's)",
    ),
    isolate: bool = typer.Option(
        True,
        "--isolate/--no-isolate",
        help="Run each run in its own process (isolates crashes, measures peak memory per run)",
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="local: one run at a time, each in its own process; ray: runs in parallel as Ray tasks "
        "(needs vbench's ray extra)",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="With --executor ray: the Ray cluster (auto or HOST:PORT); default: a local Ray for this sweep",
    ),
    cpus_per_run: int | None = typer.Option(
        None, "--cpus-per-run", help="With --executor ray: CPUs (and torch threads) each run reserves; default 1"
    ),
    gpus_per_run: float | None = typer.Option(
        None,
        "--gpus-per-run",
        help="With --executor ray: GPUs each run reserves (a fraction shares one); > 0 runs on cuda; default 0",
    ),
    budgets: str | None = typer.Option(
        None,
        "--budgets",
        help="Multiples of each preset's step budget, e.g. 0.25,1,4: one run (and leaderboard row) per "
        "multiple, every step schedule scaled with it",
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="fp32, or bf16: forward passes under bf16 autocast (weights and optimiser state stay fp32); "
        "part of the run's identity. Default: bf16 on CUDA for the stainers that support it, else fp32",
    ),
    evaluation: str = typer.Option(
        "tiles",
        "--eval",
        help="tiles: score the test tiles; whole: stain the dataset's whole-image test regions on overlapping "
        "tiles, blend and score each whole (its own leaderboard section)",
    ),
    eval_tile: int | None = typer.Option(
        None, "--eval-tile", help="With --eval whole: tile side in input pixels [default: 512 / the dataset's scale]"
    ),
    eval_overlap: int | None = typer.Option(
        None,
        "--eval-overlap",
        help="With --eval whole: overlap of neighbouring tiles in input pixels [default: tile / 8]",
    ),
    eval_blend: str | None = typer.Option(
        None, "--eval-blend", help="With --eval whole: hann, mean or none (naive stitching) [default: hann]"
    ),
    curve: bool = typer.Option(
        True,
        "--curve/--no-curve",
        help="Score validation tiles at 8 geometrically spaced points of training (the anytime curve)",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
    all_metrics: bool = typer.Option(
        False, "--all-metrics", help="The leaderboard printed at the end shows every metric (default: headline ones)"
    ),
):
    """Train, predict, score and store every (stainer, dataset, seed), then print the leaderboard."""
    from ..compute import parse_multiples
    from ..report import build_leaderboard
    from ..report.terminal import rich_tables
    from ..run import load_suite, plan, plan_suite, run_sweep
    from ..run.artifacts import artifacts_root
    from ..run.options import check_device_available, check_options
    from ..run.overrides import parse as parse_settings
    from ..run.provenance import default_device
    from ..run.ray_executor import from_options
    from ..store import Store

    check_options(seed or [], device, max_seconds, precision)  # before anything is opened or created
    multiples = parse_multiples(budgets) if budgets is not None else None
    if evaluation != "whole" and (eval_tile, eval_overlap, eval_blend) != (None, None, None):
        raise ConfigError("--eval-tile, --eval-overlap and --eval-blend set --eval whole's tiling: add --eval whole")
    if wait and not resume:
        raise ConfigError("--wait waits for runs another process holds, which only --resume leaves to it: add --resume")
    runner = from_options(executor, ray_address, cpus_per_run, gpus_per_run, isolate)  # None: the local executor
    device = runner.device(device) if runner is not None else device
    if runner is None and device is not None:
        check_device_available(device, precision)
    chosen = load_suite(suite or "default")
    settings = parse_settings(set_ or [])
    store = Store(db)
    plugins = loaded_plugins()
    options = dict(
        device=device or default_device(),
        max_seconds=max_seconds,
        repeats=repeats,
        batch_size=batch_size,
        artifacts_root=artifacts_root(store),
        warn=lambda m: err.print(m, style="yellow", markup=False, highlight=False),
        settings=settings,
        budgets=multiples,
        curve=curve,
        precision=precision,
        evaluation=evaluation,
        whole=dict(tile=eval_tile, overlap=eval_overlap, blend=eval_blend),
    )
    if stainer or dataset:
        # A suite's metric list applies to the suite: runs named with -s/-d alone get each dataset
        # pairing's default set, as --metric's help says.
        specs = plan(
            plugins,
            stainer or chosen.stainers,
            dataset or chosen.datasets,
            seed or chosen.seeds,
            metrics=split_names(metric) or (chosen.metrics if suite else []),
            strict=bool(stainer and dataset),
            **options,
        )
    else:
        specs = plan_suite(plugins, chosen, seeds=seed, metrics=split_names(metric), **options)
    err.print(f"{len(specs)} run(s) → {store.display_url}")

    def report(o):
        colour = {"completed": "green", "skipped": "blue", "failed": "red", "interrupted": "yellow", "held": "yellow"}[
            o.status
        ]
        extra = f": {o.message}" if o.message else ""
        say(err, o.status, colour, f"run {o.run_id} {o.spec.label}{extra}")

    def waiting(held, pause):
        until = ", ".join(f"run {o.run_id} until {o.expires:%H:%M:%S}" for o in held)
        say(
            err,
            "waiting",
            "yellow",
            f"for {len(held)} run(s) held elsewhere (leases expire, UTC: {until}); looking again in {pause:.0f} s",
        )

    outcomes = run_sweep(
        specs,
        store,
        plugins,
        resume=resume,
        isolate=isolate,
        progress=not quiet,
        on_event=report,
        executor=runner,
        wait=wait,
        on_wait=waiting,
    )
    datasets = sorted({s.dataset for s in specs})
    for ds in datasets:
        boards = build_leaderboard(store, dataset=ds, plugins=plugins)
        for table in rich_tables(boards, metrics=split_names(metric) or None, all_metrics=all_metrics):
            out.print(table)
    failed = [o for o in outcomes if o.status == "failed"]
    held = [o for o in outcomes if o.status == "held"]
    if held:
        say(
            err,
            f"{len(held)} run(s) left to live owners elsewhere",
            "yellow",
            "(listed above with when each lease expires): add --wait to wait for them, or --resume again later.",
        )
    if failed:
        say(err, f"{len(failed)} run(s) failed;", "red", "see `vbench runs RUN_ID` for the stored traceback.")
        raise typer.Exit(1)
    if held:
        raise typer.Exit(HELD_EXIT)


@app.command()
def leaderboard(
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset"),
    metric: list[str] | None = typer.Option(
        None,
        "--metric",
        "-m",
        help="Metric column (repeatable; this order, the first ranks); default: every metric computed (the "
        "terminal table: the headline ones that fit), ranked by the metric that declares the lowest rank priority",
    ),
    all_metrics: bool = typer.Option(
        False, "--all-metrics", help="The terminal table shows every metric (other formats always do)"
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | md | csv | json | latex | html"),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write to this file instead of printing; for html a folder (index.html, leaderboard.json, "
        "the runs' sample grids)",
    ),
    at_budget: str | None = typer.Option(None, "--at-budget", help=AT_BUDGET_HELP),
    db: str | None = DbOption,
):
    """Rank stainers per dataset from the stored results."""
    from ..compute import parse_budget
    from ..report import FORMATS, build_leaderboard, render
    from ..report.publish import write_page
    from ..report.terminal import rich_tables
    from ..store import Store

    check_format(fmt, FORMATS)
    budget = parse_budget(at_budget) if at_budget is not None else None
    if fmt == "html" and output is None:
        raise ConfigError(
            "--format html writes a folder (index.html, leaderboard.json and the runs' sample grids "
            "it links): add -o DIR"
        )
    if fmt == "table" and output is not None:
        raise ConfigError("-o writes a file: choose its format with --format md | csv | json | latex | html")
    store = Store(db)
    chosen = split_names(metric)
    boards = build_leaderboard(store, dataset=dataset, metrics=chosen, at_budget=budget)
    if fmt == "table":
        if not boards and budget is not None:
            err.print(f"no completed run within the budget of {budget} ({budget.describe()})")
        elif not boards:
            err.print("no completed runs yet; start with `vbench run`")
        for t in rich_tables(boards, metrics=chosen or None, all_metrics=all_metrics):
            out.print(t)
        return
    if fmt == "html":
        written = write_page(store, boards, output)
        say(err, "wrote", "green", f"{output / 'index.html'} ({len(written)} files)")
        return
    text = render(boards, fmt) + ("\n" if fmt not in ("csv",) else "")
    if output is None:
        from ..report.escape import json_visible

        # the other formats escape hidden characters as they render; JSON keeps them, as \u escapes here
        sys.stdout.write(json_visible(text) if fmt == "json" else text)
        return
    write_text(output, text)
    say(err, "wrote", "green", str(output))


@app.command()
def runs(
    run_id: int | None = typer.Argument(None, help="Show this run in full"),
    status: str | None = typer.Option(None, help="Only runs with this status"),
    dataset: str | None = typer.Option(None, "--dataset", "-d"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    db: str | None = DbOption,
):
    """List runs, or show one with its provenance, runtime, scores and error."""
    from ..report.convergence import run_verdicts
    from ..store import Store
    from ..store.stored_rows import readable_runs

    store = Store(db)
    # A run stored by another tool with values vbench cannot read is named, not a traceback.
    rows, unreadable = (
        readable_runs(store, run_id=run_id) if run_id is not None else readable_runs(store, status, dataset)
    )
    if run_id is not None:
        bad = next((u for u in unreadable if u.run_id == run_id), None)
        if bad is not None:
            raise ConfigError(f"{bad.note.replace(' is left out', ' cannot be shown')} ({store.display_url})")
        data = store.run_detail(run_id)
        found = run_verdicts(store, [run_id]).get(run_id)
        data["convergence"] = found.to_dict() if found else None
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            return
        t = Table(title=f"run {run_id}", show_header=False)
        t.add_column("field", style="bold")
        t.add_column("value", overflow="fold")
        for key, value in data.items():
            if key in ("error", "summaries", "curve", "convergence"):
                continue
            t.add_row(key, json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value))
        out.print(t)
        if data["summaries"]:
            s = Table(title="scores")
            for col in ("metric", "status", "n", "mean", "95% CI", "pipeline / reason"):
                s.add_column(col, overflow="fold")
            for x in data["summaries"]:
                ci = f"[{x['ci_low']:.4g}, {x['ci_high']:.4g}]" if x["ci_low"] is not None else "-"
                mean = f"{x['mean']:.4g}" if x["mean"] is not None else "-"
                s.add_row(x["metric"], x["status"], str(x["n"]), mean, ci, x["reason"] or x["pipeline"])
            out.print(s)
        if data["curve"]:
            out.print(curve_table(data["curve"], found))
        if data["error"]:
            out.print("error:", style="red")
            out.print(data["error"], markup=False, highlight=False)
        return
    for u in unreadable:
        say(err, "warning:", "yellow", u.note)
    verdicts = run_verdicts(store, [r.id for r in rows])
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        c: getattr(r, c)
                        for c in (
                            "id",
                            "status",
                            "stainer",
                            "preset",
                            "dataset",
                            "seed",
                            "started_at",
                            "train_seconds",
                            "train_flops",
                            "truncated",
                        )
                    }
                    | {"convergence": verdicts[r.id].text if r.id in verdicts else None}
                    for r in rows
                ],
                indent=2,
                default=str,
            )
            + "\n"
        )
        return
    t = Table(title=f"runs in {store.display_url}")
    for col in ("id", "status", "stainer", "dataset", "seed", "started", "train s", "convergence", "note"):
        t.add_column(col)
    for r in rows:
        name = r.label
        note = "truncated" if r.truncated else ((r.error or "").split("\n", 1)[0][:80])
        t.add_row(
            str(r.id),
            r.status,
            name,
            r.dataset,
            str(r.seed),
            f"{r.started_at:%Y-%m-%d %H:%M}",
            f"{r.train_seconds:.1f}" if r.train_seconds is not None else "-",
            verdicts[r.id].short if r.id in verdicts else "-",
            note,
        )
    out.print(t)


def curve_table(curve: list[dict], found) -> Table:
    """A run's anytime curve: one row per point, one column per metric; the verdict as caption."""
    metrics = sorted({m for p in curve for m in p["metrics"]})
    t = Table(title="anytime validation curve", caption=found.text if found else None)
    for col in ("step", "train s", "train FLOPs", *metrics):
        t.add_column(col, justify="right")
    for p in curve:
        flops = f"{p['train_flops']:.3g}" if p["train_flops"] is not None else "-"
        seconds = f"{p['train_seconds']:.1f}" if p["train_seconds"] is not None else "-"
        values = [f"{p['metrics'][m]:.4g}" if p["metrics"].get(m) is not None else "n/c" for m in metrics]
        t.add_row(str(p["step"]), seconds, flops, *values)
    return t
