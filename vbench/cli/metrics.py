"""`vbench metrics ...`."""

from __future__ import annotations

from rich.table import Table

from .common import _plugins, metrics_app, out


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


