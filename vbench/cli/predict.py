"""`vbench predict`: stain whole images with a trained run."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import DbOption, app, err, loaded_plugins


@app.command()
def predict(
    inputs: list[Path] = typer.Argument(
        ..., help="Images to stain: PNG/TIFF/JPEG (8 or 16 bit) or .npy arrays in [0, 1]"
    ),
    run: int = typer.Option(..., "--run", help="Id of the run whose trained model stains (see `vbench runs`)"),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the stained PNGs (created if missing)"),
    db: str | None = DbOption,
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1...; default cuda when available"),
    precision: str | None = typer.Option(
        None,
        help="fp32, or bf16 (forward passes under bf16 autocast: faster where the hardware has bf16) "
        "[default: the run's precision, as its scores were made]",
    ),
    tile: int | None = typer.Option(None, min=16, help="Tile side in input pixels [default: 512 / the run's scale]"),
    overlap: int | None = typer.Option(
        None,
        min=0,
        help="Overlap of neighbouring tiles in input pixels, blended with a raised-cosine ramp [default: tile / 8]",
    ),
    blend: str = typer.Option(
        "hann",
        help="How overlapping tiles are combined: hann (raised-cosine ramps, seamless), mean, none (the later "
        "tile wins: naive stitching, to measure seams)",
    ),
    batch_size: int = typer.Option(4, min=1, help="Tiles per predict call"),
    seed: int | None = typer.Option(None, help="Seed of a stochastic stainer [default: the run's seed]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace stained PNGs already in the output folder"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
):
    """Stain images of any size with a trained run: overlapping tiles, blended without seams."""
    from ..predict import load_run, predict_files
    from ..run.progress import Reporter
    from ..run.provenance import default_device
    from ..store import Store

    loaded = load_run(Store(db), run, loaded_plugins(), device=device or default_device(), precision=precision)
    written = predict_files(
        loaded,
        inputs,
        out_dir,
        tile=tile,
        overlap=overlap,
        blend=blend,
        batch_size=batch_size,
        seed=seed,
        overwrite=overwrite,
        reporter=Reporter(not quiet),
    )
    for path in written:
        err.print(f"wrote {path}")
