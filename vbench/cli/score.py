"""`vbench score`: score folders of predictions made anywhere, optionally stored as an external run."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError
from ..metric import WholeImageMetric
from .common import DbOption, app, check_format, err, loaded_plugins, out, say, split_names


@app.command()
def score(
    pred_dir: Path = typer.Argument(..., help="Folder of predicted stains (PNG, TIFF, BMP, JPEG...)"),
    target_dir: Path | None = typer.Argument(None, help="Folder of reference stains, matched by file name"),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metric (repeatable or comma-separated); default: the pairing's default set"
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json"),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        "-d",
        help="Score against this dataset's split (file names = tile ids, as `vbench datasets export` writes them)",
    ),
    split: str = typer.Option("test", "--split", help="Split of --dataset"),
    store_run: bool = typer.Option(
        False, "--store", help="Store the scores as an external run (needs --dataset, --split test and --as)"
    ),
    as_name: str | None = typer.Option(
        None, "--as", help="Name of the method that made the predictions (stored run's stainer)"
    ),
    db: str | None = DbOption,
    batch_size: int = typer.Option(16, min=1, help="Images per metric batch"),
    seed: int = typer.Option(0, help="Seed of the bootstrap CIs"),
    tile: int | None = typer.Option(
        None,
        help="Whole images: the tile side they were predicted on, in their own pixels (whole-image metrics "
        "measure that grid; images are then scored one at a time)",
    ),
    overlap: int | None = typer.Option(
        None, help="Whole images: the overlap of that grid's tiles, in pixels [default: 0]"
    ),
):
    """Score a folder of predictions made anywhere: per-image rows plus the summary (mean, std,
    bootstrap 95% CI). With --dataset, against the dataset's targets (or aligned truth); with
    --store --as NAME, stored as an external run that ranks on the leaderboard."""
    from ..external_predictions import dataset_items, folder_items, metrics_to_score
    from ..run import record_external
    from ..scoring import score as run_scoring
    from ..store import Store

    check_format(fmt)
    if store_run and (dataset is None or as_name is None):
        raise ConfigError("--store needs --dataset NAME and --as METHOD_NAME (the name the run ranks under)")
    if as_name is not None and not store_run:
        raise ConfigError("--as names a stored run; add --store")
    if dataset is not None and target_dir is not None:
        raise ConfigError(f"give either a target folder ({target_dir}) or --dataset {dataset}, not both")
    if store_run and split != "test":
        raise ConfigError(f"only the test split ranks on the leaderboard; use --split test (got {split!r})")

    plugins = loaded_plugins()
    explicit = split_names(metric)
    ds = plugins.datasets.get(dataset) if dataset is not None else None
    grid = _grid(tile, overlap, ds)
    items, notes = dataset_items(ds, split, pred_dir) if ds is not None else folder_items(pred_dir, target_dir)
    chosen = [
        (n, m.with_grid(grid) if isinstance(m, WholeImageMetric) else m)
        for n, m in metrics_to_score(plugins, explicit, ds, items)
    ]
    if grid is not None:
        batch_size = 1  # whole images: one at a time
    for note in notes:
        say(err, "note:", "dim", note)
    err.print(f"scoring {len(items)} image(s) with {', '.join(n for n, _ in chosen)}", highlight=False, markup=False)
    result = run_scoring(
        chosen,
        items,
        dataset=ds,
        explicit=bool(explicit),
        batch_size=batch_size,
        seed=seed,
        on_metric=lambda n: err.print(f"  {n}", style="dim", highlight=False, markup=False),
    )
    for s in result.summaries:
        if s["status"] != "computed":
            say(err, f"{s['metric']} not computed:", "yellow", s["reason"])

    run_id = None
    if store_run:
        run_id = record_external(Store(db), ds, as_name, pred_dir, result)
        err.print(
            f"stored as external run {run_id} of {as_name!r} on {ds.name}; `vbench leaderboard -d {ds.name}` ranks it",
            highlight=False,
            markup=False,
        )
    _render_scores(result, fmt, notes, run_id)


def _grid(tile: int | None, overlap: int | None, ds):
    """The tile grid of --tile / --overlap (None without them); bad values are one-line errors."""
    from ..metric import TileGrid

    if tile is None:
        if overlap is not None:
            raise ConfigError(f"--overlap {overlap} describes a tile grid: give its tile side with --tile too")
        return None
    grid = TileGrid(tile, overlap or 0)
    if ds is not None and (grid.tile % ds.scale or grid.overlap % ds.scale):
        raise ConfigError(
            f"--tile {grid.tile} --overlap {grid.overlap}: dataset {ds.name!r} has scale {ds.scale}, so a grid "
            f"predicted on its inputs has sizes that are multiples of {ds.scale} in output pixels (input px x scale)"
        )
    return grid


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.6g}"


def _render_scores(result, fmt: str, notes: list[str], run_id: int | None) -> None:
    rows = result.rows()
    names = list(result.values)
    if fmt == "json":
        sys.stdout.write(
            json.dumps({"images": rows, "summary": result.summaries, "notes": notes, "run_id": run_id}, indent=2) + "\n"
        )
        return
    if fmt == "csv":
        from ..report.escape import csv_text

        by_metric = {s["metric"]: s for s in result.summaries}
        # set-level (distribution) metrics have no per-image values: only their summary rows
        whole = [m for m, s in by_metric.items() if s["status"] == "computed" and m not in result.values]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["image", *names, *whole])
        for r in rows:
            image = csv_text(r["image"])  # a file name: control characters as escapes, never a formula
            w.writerow([image, *("" if r[m] is None else repr(r[m]) for m in names), *("" for _ in whole)])
        for stat in ("n", "mean", "std", "ci_low", "ci_high"):
            w.writerow([stat, *("" if by_metric[m].get(stat) is None else by_metric[m][stat] for m in names + whole)])
        sys.stdout.write(buf.getvalue())
        return
    t = Table(title=f"per-image scores ({len(rows)} images)")
    t.add_column("image", overflow="fold")
    for m in names:
        t.add_column(m, justify="right")
    for r in rows:
        t.add_row(r["image"], *(_fmt(r[m]) for m in names))
    out.print(t)
    s = Table(title="summary")
    for col in ("metric", "better", "n", "mean", "std", "95% CI", "pipeline / reason"):
        s.add_column(col, overflow="fold")
    for x in result.summaries:
        ci = f"[{x['ci_low']:.6g}, {x['ci_high']:.6g}]" if x.get("ci_low") is not None else "-"
        s.add_row(
            x["metric"],
            "higher" if x["higher_is_better"] else "lower",
            str(x["n"]),
            _fmt(x["mean"]),
            _fmt(x["std"]),
            ci,
            x["reason"] or x["pipeline"],
        )
    out.print(s)
