"""`vbench plugins`: every installed plugin, what it registers, and its status; a stainer's
parameters with ``--params NAME``."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from .common import app, loaded_plugins, out


@app.command()
def plugins(
    params: str | None = typer.Option(
        None,
        "--params",
        metavar="STAINER",
        help="Show this stainer's parameters instead: what each accepts (--set is checked against it), "
        "each preset's value and what it does",
    ),
):
    """Installed plugins: what each registers, its distribution and version, and its status."""
    p = loaded_plugins()
    if params is not None:
        out.print(parameter_table(params, p.stainers.get(params)))
        return
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


def parameter_table(name: str, cls) -> Table:
    from ..run.overrides import described

    presets = dict(getattr(cls, "presets", {}) or {})
    t = Table(title=f"parameters of {name} (--set KEY=VALUE; presets: {', '.join(presets) or 'none'})")
    for col in ("parameter", "accepts", *presets, "what it does"):
        t.add_column(col, overflow="fold")
    for key, (accepts, help) in described(cls).items():
        values = [json.dumps(p[key]) if key in p else "-" for p in presets.values()]
        t.add_row(key, accepts, *values, help)
    if not t.row_count:
        t.add_row("(none)", "-", *["-" for _ in presets], f"{name} takes no parameters")
    return t
