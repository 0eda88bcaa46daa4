"""Where a run's files go (checkpoint, config, sample grid): the one rule, used by the runner and by
``vbench predict``.

Run folders live beside a SQLite database in a folder named after it (vbench.db -> vbench-artifacts/,
bars.db -> bars-artifacts/): run ids restart at 1 in every database, so two databases in one
folder must never share run folders. Other databases: ./vbench-artifacts/NAME/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def artifacts_root(store) -> str:
    from sqlalchemy.engine import make_url

    if store.path is not None:
        path = store.path.resolve()
        return str(path.parent / f"{path.stem}-artifacts")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", make_url(store.url).database or "default")
    return os.path.abspath(os.path.join("vbench-artifacts", name))


def run_folder(root: str | Path, run_id: int) -> Path:
    return Path(root) / f"run-{run_id}"
