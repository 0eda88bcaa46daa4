"""`vbench datasets ...`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ..errors import ConfigError
from .common import _plugins, datasets_app, out


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


