"""`vbench plugins` and `vbench metrics list`."""

from __future__ import annotations

from rich.table import Table

from .common import _plugins, app, metrics_app, out


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


