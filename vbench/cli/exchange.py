"""`vbench export` and `vbench import`: completed runs moved between databases."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import DbOption, app, err, out, say


@app.command("export")
def export(
    output: Path = typer.Option(..., "--output", "-o", help="File to write: results.jsonl, or results.jsonl.gz"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only runs of this dataset"),
    db: str | None = DbOption,
):
    """Write every completed run (provenance, summaries, per-tile scores) to a JSON-lines file."""
    from ..store import Store
    from ..store.transfer import export_runs

    store = Store(db)
    report = export_runs(store, output, dataset=dataset)
    for note in report.left_out:
        say(err, "left out:", "yellow", note)
    n = report.exported
    out.print(f"exported {n} completed run(s) from {store.display_url} to {output}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A file written by `vbench export`"),
    db: str | None = DbOption,
):
    """Add the runs of an exported file; runs already present with the same result are skipped.
    The whole file is checked first and imported in one transaction: all of it or nothing."""
    from ..store import Store
    from ..store.transfer import import_runs

    store = Store(db)
    report = import_runs(store, file)
    for _, message in report.conflicts:
        say(err, "kept both:", "yellow", message)
    for note in report.notes:
        say(err, "not computed:", "yellow", note)
    out.print(f"imported {len(report.imported)} run(s) into {store.display_url}; {report.skipped} already present")
