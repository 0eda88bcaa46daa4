"""`vbench metrics list`: every registered metric, its kind, direction, pipeline and files."""

from __future__ import annotations

import csv
import io
import json
import sys

import typer
from rich.table import Table
from rich.text import Text

from .common import check_format, loaded_plugins, metrics_app, out


@metrics_app.command("list")
def metrics_list(
    kind: str | None = typer.Option(None, help="Only this kind: full-reference | no-reference | distribution"),
    pairing: str | None = typer.Option(
        None, help="Only the default set of this pairing (paired, misaligned, unpaired)"
    ),
    provider: str | None = typer.Option(
        None, help="Only metrics of plugins whose name contains this text (e.g. vbench-metrics, pyiqa)"
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json"),
):
    """Metrics: kind, direction, the pairings they are default for, their real pipeline, and
    whether the files they need are installed."""
    from ..assets import metric_state

    check_format(fmt)
    p = loaded_plugins()
    rows = []
    for e in p.metrics.entries():
        m = p.metrics.get(e.name)
        defaults = sorted(getattr(m, "default_for", ()))
        if (
            kind
            and m.kind != kind
            or pairing
            and pairing not in defaults
            or provider
            and provider not in e.provider.split(" ")[0]
        ):
            continue
        rows.append(
            {
                "name": e.name,
                "kind": m.kind,
                "better": "higher" if m.higher_is_better else "lower",
                "default_for": defaults,
                "pipeline": m.pipeline,
                "assets": metric_state(m),
                "provider": e.provider,
            }
        )
    rows.sort(key=lambda r: (not r["default_for"], r["name"]))  # the default sets' metrics first
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if fmt == "csv":
        from ..report.escape import csv_text

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        w.writeheader()
        # plugin text: control characters as escapes, no spreadsheet formula (as the leaderboard's CSV)
        for r in rows:
            w.writerow({k: csv_text(v) for k, v in dict(r, default_for=" ".join(r["default_for"])).items()})
        sys.stdout.write(buf.getvalue())
        return
    t = Table(title=f"metrics ({len(rows)})")
    for col in ("name", "kind", "better", "default for", "pipeline", "assets", "provider"):
        t.add_column(col, overflow="fold")
    for r in rows:  # plugin text as written, never as markup
        t.add_row(
            *(
                Text(v)
                for v in (
                    r["name"],
                    r["kind"],
                    r["better"],
                    ", ".join(r["default_for"]),
                    r["pipeline"],
                    r["assets"],
                    r["provider"],
                )
            )
        )
    out.print(t)
