"""`vbench plugins`: every installed plugin, what it registers, and its status."""

from __future__ import annotations

from rich.table import Table

from .common import app, loaded_plugins, out


@app.command()
def plugins():
    """Installed plugins: what each registers, its distribution and version, and its status."""
    p = loaded_plugins()
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
