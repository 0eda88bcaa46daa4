"""`vbench datasets ...`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ..dataset import SPLITS
from ..errors import ConfigError, DatasetError
from .common import datasets_app, err, loaded_plugins, out, say


def _dataset(name: str):
    return loaded_plugins().datasets.get(name)


def _split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    return split


@datasets_app.command("list")
def datasets_list():
    """Registered datasets with task, input modality, target stain, pairing, scale and input channels."""
    p = loaded_plugins()
    t = Table(title="datasets")
    for col in ("name", "task", "modality", "stain", "pairing", "scale", "in channels", "provider", "note"):
        t.add_column(col, overflow="fold", no_wrap=col not in ("task", "provider", "note"))
    for e in p.datasets.entries():
        d = p.datasets.get(e.name)
        cells = (
            e.name,
            d.task,
            d.modality or "-",
            d.stain or "-",
            d.pairing,
            str(d.scale),
            str(d.in_channels),
            e.provider,
            getattr(d, "simulated", "") or d.description,
        )
        t.add_row(*map(Text, cells))  # plugin and user text: never Rich markup
    out.print(t)


@datasets_app.command("show")
def datasets_show(name: str = typer.Argument(..., help="Dataset name")):
    """Task, modality, stain, pairing, scale, channels, tiles per split, manifest hash, sources and licences."""
    d = _dataset(name)
    t = Table(show_header=False, title=f"dataset {name}", title_justify="left")
    t.add_column("field", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    for label, value in (
        ("task", d.task),
        ("input modality", d.modality or "not declared"),
        ("target stain", d.stain or "not declared"),
        ("pairing", d.pairing),
        ("scale", str(d.scale)),
        ("input channels", str(d.in_channels)),
        ("description", d.description),
    ):
        t.add_row(label, Text(value))
    for label, value in d.info().items():
        t.add_row(label, Text(str(value)))
    out.print(t)


@datasets_app.command("verify")
def datasets_verify(
    names: list[str] = typer.Argument(..., help="Dataset name(s)"),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        help="Compare with this manifest file instead of the committed one (for example one another lab sent)",
    ),
):
    """Rebuild and re-hash every tile; name every tile that differs from the manifest."""
    from .. import manifest as mf

    failed = []
    for name in names:
        d = _dataset(name)
        expected = mf.read(manifest) if manifest is not None else None
        result = d.verify(expected)
        if result.ok:
            say(out, "ok", "green", f"{name}: {result.tiles} tiles match manifest {result.expected_hash}")
            continue
        failed.append(name)
        say(
            err,
            "FAILED",
            "red",
            f"{name}: built manifest {result.actual_hash} differs from "
            f"{result.expected_hash} in {len(result.differences)} place(s):",
        )
        for line in result.differences:
            err.print(f"  {line}", highlight=False, markup=False)
    if failed:
        raise DatasetError(
            f"verification failed for {', '.join(failed)}: the tiles built here are not the ones "
            f"of the manifest (see the list above)"
        )


@datasets_app.command("manifest")
def datasets_manifest(
    name: str = typer.Argument(..., help="Dataset name"),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file (default: print)"),
):
    """Build the dataset and print (or write) its manifest, to share or to commit."""
    from .. import manifest as mf

    m = _dataset(name).manifest()
    if output is None:
        typer.echo(mf.dumps(m), nl=False)
        return
    mf.write(output, m)
    err.print(f"wrote {output} ({len(m.get('tiles', []))} tiles, manifest hash {mf.manifest_hash(m)})")


@datasets_app.command("preview")
def datasets_preview(
    name: str = typer.Argument(..., help="Dataset name"),
    output: Path = typer.Option(..., "-o", "--output", help="PNG file to write"),
    split: str = typer.Option("test", help="train | val | test"),
    count: int = typer.Option(4, min=1, max=64, help="Number of tiles"),
):
    """Write a PNG grid of input / target (/ aligned truth) tiles."""
    from ..preview import preview

    if output.suffix.lower() != ".png":
        raise ConfigError(f"the preview is a PNG: give a file name ending in .png, not {output.name!r}")
    path = preview(_dataset(name), output, split=_split(split), count=count)
    out.print(f"wrote {path}")


@datasets_app.command("export")
def datasets_export(
    name: str = typer.Argument(..., help="Dataset name"),
    output: Path = typer.Option(..., "-o", "--output", help="Folder to write (new or empty)"),
    split: str = typer.Option("test", help="train | val | test"),
    targets: bool = typer.Option(False, "--targets", help="Also write targets and aligned truth as PNG"),
):
    """Write a split's inputs as image files (+ index.csv) for methods outside vbench."""
    from ..dataset_export import export

    d = _dataset(name)
    index = export(d, output, split=_split(split), targets=targets)
    out.print(f"wrote {len(d.samples(split))} {split} inputs of {name} to {output} (index: {index.name})")


@datasets_app.command("add")
def datasets_add(
    name: str = typer.Argument(..., help="Name to register the dataset under"),
    path: str = typer.Argument(..., help="Folder (pix2pix, cyclegan, BCI or MIST layout) or CSV manifest"),
    pairing: str | None = typer.Option(None, help="paired | misaligned | unpaired (default from the layout)"),
    scale: int = typer.Option(1, min=1, help="Output/input pixel ratio"),
    layout: str = typer.Option("auto", help="auto (detect) or a layout: `vbench plugins` lists them"),
    modality: str = typer.Option(
        "", help="Input modality: quantitative-phase, autofluorescence, brightfield, darkfield, or your own word"
    ),
    stain: str = typer.Option("", help="Target stain: he, ihc-dab, or your own word (stain metrics need it)"),
    replace: bool = typer.Option(False, "--replace", help="Replace a dataset already registered under NAME"),
):
    """Register a folder of your own images as a dataset (checked image by image first)."""
    from .. import manifest as mf
    from .. import user_datasets

    ds = user_datasets.add(
        name,
        path,
        plugins=loaded_plugins(),
        layout=layout,
        pairing=pairing,
        scale=scale,
        modality=modality,
        stain=stain,
        replace=replace,
    )
    recorded = user_datasets.recorded_manifest(name)  # counted from file names: hashing a BCI copy again takes long
    counts = ", ".join(f"{split} {sum(t['split'] == split for t in recorded['tiles'])}" for split in SPLITS)
    described = ", ".join(x for x in (ds.modality, ds.stain and f"stain {ds.stain}") if x)
    out.print(
        f"registered dataset {name} ({user_datasets.registered()[name]['layout']}, {ds.pairing}, "
        f"scale {ds.scale}, {ds.in_channels} input channel(s){', ' + described if described else ''}): "
        f"{counts} tiles; manifest {mf.manifest_hash(recorded)[:12]}",
        markup=False,
        highlight=False,
    )


@datasets_app.command("remove")
def datasets_remove(name: str = typer.Argument(..., help="A dataset registered with `vbench datasets add`")):
    """Forget a dataset registered with `vbench datasets add` (its files are kept)."""
    from .. import user_datasets

    entry = user_datasets.remove(name)
    out.print(f"removed dataset {name} (its files in {entry['path']} are kept)", markup=False, highlight=False)
