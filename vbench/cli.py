"""The `vbench` command: parses, calls the library, renders."""

from __future__ import annotations

import json
import os
import sys
from typing import List, Optional

import click
import typer
from rich.console import Console
from rich.table import Table

from .errors import ConfigError, VbenchError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Benchmark virtual staining methods on shared splits.")
datasets_app = typer.Typer(no_args_is_help=True, help="List and register datasets.")
metrics_app = typer.Typer(no_args_is_help=True, help="List metrics.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(metrics_app, name="metrics")

def _console(stderr: bool = False) -> Console:
    # Piped output (CI logs, files) gets a wide fixed width instead of Rich's 80-column default.
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=int(os.environ.get("COLUMNS", 160)))


out = _console()
err = _console(stderr=True)

DbOption = typer.Option(None, "--db", help="SQLAlchemy URL of the results database [env VBENCH_DB; default sqlite:///vbench.db]")


def _plugins():
    from .plugins import load_plugins

    plugins = load_plugins()
    for info in plugins.infos.values():
        if info.status == "broken":
            err.print(f"[yellow]warning:[/] plugin {info.provider} is broken and was skipped: {info.error}")
    return plugins


@app.command()
def run(
    suite: Optional[str] = typer.Option(None, help="Suite name (see vbench/suites.toml) or a suite TOML file; default: 'default'"),
    stainer: Optional[List[str]] = typer.Option(None, "--stainer", "-s", help="Stainer NAME or NAME:PRESET (repeatable)"),
    dataset: Optional[List[str]] = typer.Option(None, "--dataset", "-d", help="Dataset name (repeatable)"),
    seed: Optional[List[int]] = typer.Option(None, "--seed", help="Seed (repeatable)"),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", help="Metric (repeatable); default: the dataset pairing's set"),
    db: Optional[str] = DbOption,
    resume: bool = typer.Option(False, "--resume", help="Skip runs already completed in the database"),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1...; default cuda when available"),
    max_seconds: Optional[float] = typer.Option(None, help="Cap on training seconds; a run that hits it is marked truncated"),
    batch_size: int = typer.Option(8, min=1, help="Tiles per predict/score batch"),
    isolate: bool = typer.Option(True, "--isolate/--no-isolate", help="Run each run in its own process (isolates crashes, measures peak memory per run)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
):
    """Train, predict, score and store every (stainer, dataset, seed), then print the leaderboard."""
    from .provenance import default_device
    from .report import build_leaderboard
    from .report.render import rich_tables
    from .runner import artifacts_root_for, load_suite, plan, run_sweep
    from .store import Store

    chosen = load_suite(suite or "default")
    store = Store(db)
    plugins = _plugins()
    specs = plan(plugins, stainer or chosen.stainers, dataset or chosen.datasets, seed or chosen.seeds,
                 metrics=metric or [], device=device or default_device(), max_seconds=max_seconds,
                 batch_size=batch_size, suite=chosen.name if not (stainer or dataset) else None,
                 artifacts_root=artifacts_root_for(store), warn=lambda m: err.print(f"[yellow]{m}[/]"))
    err.print(f"{len(specs)} run(s) → {store.url}")

    def report(o):
        colour = {"completed": "green", "skipped": "blue", "failed": "red", "interrupted": "yellow"}[o.status]
        extra = f": {o.message}" if o.message else ""
        err.print(f"[{colour}]{o.status}[/] run {o.run_id} {o.spec.label}{extra}")

    outcomes = run_sweep(specs, store, plugins, resume=resume, isolate=isolate, progress=not quiet, on_event=report)
    datasets = sorted({s.dataset for s in specs})
    for ds in datasets:
        for table in rich_tables(build_leaderboard(store, dataset=ds)):
            out.print(table)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        err.print(f"[red]{len(failed)} run(s) failed[/]; see `vbench runs RUN_ID` for the stored traceback.")
        raise typer.Exit(1)


@app.command()
def leaderboard(
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset"),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Rank by this metric (default psnr)"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | md | csv | json"),
    db: Optional[str] = DbOption,
):
    """Rank stainers per dataset from the stored results."""
    from .report import FORMATS, build_leaderboard, render
    from .report.render import rich_tables
    from .store import Store

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    boards = build_leaderboard(Store(db), dataset=dataset, metric=metric)
    if fmt == "table":
        if not boards:
            err.print("no completed runs yet; start with `vbench run`")
        for t in rich_tables(boards):
            out.print(t)
    else:
        sys.stdout.write(render(boards, fmt) + ("\n" if fmt != "csv" else ""))


@app.command()
def runs(
    run_id: Optional[int] = typer.Argument(None, help="Show this run in full"),
    status: Optional[str] = typer.Option(None, help="Only runs with this status"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    db: Optional[str] = DbOption,
):
    """List runs, or show one with its provenance, runtime, scores and error."""
    from .store import Store

    store = Store(db)
    if run_id is not None:
        r = store.get_run(run_id)
        if r is None:
            raise ConfigError(f"no run {run_id} in {store.url}; `vbench runs` lists them")
        data = {c: getattr(r, c) for c in r.__table__.columns.keys()}
        for key in ("params", "hardware", "libraries"):
            data[key] = json.loads(data[key] or "{}")
        data["summaries"] = [{k: getattr(s, k) for k in ("metric", "status", "n", "mean", "std", "ci_low", "ci_high",
                                                          "reason", "pipeline")} for s in store.summaries([run_id])]
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            return
        t = Table(title=f"run {run_id}", show_header=False)
        t.add_column("field", style="bold")
        t.add_column("value", overflow="fold")
        for key, value in data.items():
            if key in ("error", "summaries"):
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
        if r.error:
            out.print("[red]error:[/]")
            out.print(r.error, markup=False, highlight=False)
        return
    rows = store.runs(status=status, dataset=dataset)
    if as_json:
        sys.stdout.write(json.dumps([{c: getattr(r, c) for c in ("id", "status", "stainer", "preset", "dataset", "seed",
                                                                 "started_at", "train_seconds", "truncated")}
                                     for r in rows], indent=2, default=str) + "\n")
        return
    t = Table(title=f"runs in {store.url}")
    for col in ("id", "status", "stainer", "dataset", "seed", "started", "train s", "note"):
        t.add_column(col)
    for r in rows:
        name = f"{r.stainer}:{r.preset}" if r.preset else r.stainer
        note = "truncated" if r.truncated else ((r.error or "").split("\n", 1)[0][:80])
        t.add_row(str(r.id), r.status, name, r.dataset, str(r.seed), f"{r.started_at:%Y-%m-%d %H:%M}",
                  f"{r.train_seconds:.1f}" if r.train_seconds is not None else "-", note)
    out.print(t)


@app.command()
def plugins():
    """Installed plugins: what each registers, its distribution and version, and its status."""
    p = _plugins()
    t = Table(title="vbench plugins")
    for col in ("name", "kind", "plugin", "distribution", "version", "status"):
        t.add_column(col, overflow="fold")
    for info in sorted(p.infos.values(), key=lambda i: i.name):
        status = info.status if info.status == "ok" else f"{info.status}: {info.error}" if info.error else info.status
        if not info.registered:
            t.add_row("-", "-", info.name, info.dist or "-", info.version or "-", status)
        for kind, name in sorted(info.registered):
            t.add_row(name, kind, info.name, info.dist or "-", info.version or "-", status)
    out.print(t)


@datasets_app.command("list")
def datasets_list():
    """Registered datasets with task, pairing, scale and input channels."""
    p = _plugins()
    t = Table(title="datasets")
    for col in ("name", "task", "pairing", "scale", "in channels", "provider", "note"):
        t.add_column(col, overflow="fold")
    for e in p.datasets.entries():
        d = p.datasets.get(e.name)
        t.add_row(e.name, d.task, d.pairing, str(d.scale), str(d.in_channels), e.provider,
                  getattr(d, "simulated", "") or d.description)
    out.print(t)


@datasets_app.command("add")
def datasets_add(
    name: str = typer.Argument(..., help="Name to register the dataset under"),
    path: str = typer.Argument(..., help="Folder (pix2pix A/B or trainA/trainB/testA/testB layout) or CSV manifest"),
    pairing: Optional[str] = typer.Option(None, help="paired | misaligned | unpaired (default from the layout)"),
    scale: int = typer.Option(1, min=1, help="Output/input pixel ratio"),
    layout: str = typer.Option("auto", help="auto | pix2pix | cyclegan | csv"),
    replace: bool = typer.Option(False, "--replace", help="Replace a dataset already registered under NAME"),
):
    """Register a folder of your own images as a dataset (checked image by image first)."""
    from vbench_datasets.folder import add_folder_dataset

    plugins = _plugins()
    if name in plugins.datasets and not replace:
        raise ConfigError(f"a dataset named {name!r} already exists ({plugins.datasets.entry(name).provider}); "
                          f"choose another name, or pass --replace to replace your own folder dataset")
    if name in plugins.datasets and plugins.info_for("dataset", name).module != "vbench_datasets.folder":
        raise ConfigError(f"{name!r} is provided by {plugins.datasets.entry(name).provider} and cannot be replaced; "
                          f"choose another name")
    ds = add_folder_dataset(name, path, pairing=pairing, scale=scale, layout=layout, replace=replace)
    counts = ", ".join(f"{s} {len(ds.samples(s))}" for s in ("train", "val", "test"))
    out.print(f"registered dataset [bold]{name}[/] ({ds.layout}, {ds.pairing}, scale {ds.scale}, "
              f"{ds.in_channels} input channel(s)): {counts} tiles")


@datasets_app.command("remove")
def datasets_remove(name: str = typer.Argument(...)):
    """Forget a folder dataset registered with `vbench datasets add` (its files are kept)."""
    from vbench_datasets.folder import remove_folder_dataset

    remove_folder_dataset(name)
    out.print(f"removed dataset {name}")


@metrics_app.command("list")
def metrics_list():
    """Metrics: kind, direction, the pairings they are default for, and their real pipeline."""
    p = _plugins()
    t = Table(title="metrics")
    for col in ("name", "kind", "better", "default for", "pipeline", "provider"):
        t.add_column(col, overflow="fold")
    for e in p.metrics.entries():
        m = p.metrics.get(e.name)
        t.add_row(e.name, m.kind, "higher" if m.higher_is_better else "lower",
                  ", ".join(sorted(getattr(m, "default_for", ()))), m.pipeline, e.provider)
    out.print(t)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors print one message and exit non-zero, without a traceback."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        return (exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return (130)
    except VbenchError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return (exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        return (130)
    return (rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    raise SystemExit(main())
