"""`vbench figures` and `vbench publish`: a leaderboard's figures, and the whole published folder."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from .common import AT_BUDGET_HELP, DbOption, app, err, say, split_names


@app.command()
def figures(
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the figures (PNG and SVG)"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset"),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metrics of the boards (repeatable; the first ranks)"
    ),
    db: str | None = DbOption,
):
    """Per dataset: a qualitative grid (input | each method | target), quality vs latency with the
    Pareto front, and per-tile score distributions."""
    from ..report import build_leaderboard
    from ..report.figures import write_figures
    from ..report.publish import prepare
    from ..store import Store

    store = Store(db)
    boards = build_leaderboard(store, dataset=dataset, metrics=split_names(metric))
    if not boards:
        raise ConfigError(
            f"no completed runs in {store.display_url}"
            + (f" of dataset {dataset}" if dataset else "")
            + "; start with `vbench run`"
        )
    written = write_figures(store, boards, prepare(output))
    for path in written:
        say(err, "wrote", "green", str(path))


@app.command()
def publish(
    output: Path = typer.Argument(..., help="Folder to write (created if missing; files in it are replaced)"),
    label: str = typer.Option(
        "", "--label", help="What the results are, shown on every table (e.g. 'CPU, quick presets')"
    ),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset"),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metric columns (repeatable; the first ranks)"
    ),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the figures"),
    at_budget: str | None = typer.Option(None, "--at-budget", help=AT_BUDGET_HELP),
    from_json: Path | None = typer.Option(
        None,
        "--from-json",
        help="Render README.md, index.html and leaderboard.tex again from this leaderboard.json (no database)",
    ),
    db: str | None = DbOption,
):
    """Write README.md (tables and figures), index.html, leaderboard.json, leaderboard.tex, the
    figures and each run's sample grid into a folder."""
    from ..compute import parse_budget
    from ..report.publish import publish as publish_folder
    from ..report.publish import rerender
    from ..store import Store

    if from_json is not None:
        if dataset or metric or label or db or at_budget:
            raise ConfigError(
                "--from-json renders the JSON as it is: leave out --db, --dataset, --metric, --label and --at-budget"
            )
        written = rerender(from_json, output)
    else:
        budget = parse_budget(at_budget) if at_budget is not None else None
        written = publish_folder(
            Store(db),
            output,
            label=label,
            dataset=dataset,
            metrics=split_names(metric),
            figures=not no_figures,
            at_budget=budget,
        )
    top = sorted(p for p in written if p.parent == Path(output))
    say(err, "published", "green", f"{len(written)} files in {output}: " + ", ".join(p.name for p in top))
