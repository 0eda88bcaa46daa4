"""Where vbench keeps per-user state: ``$VBENCH_HOME`` (default ``~/.vbench``).

It holds installed assets (``assets/``), caches (``cache/``), and the registry of user datasets
(``datasets.json`` and ``manifests/``).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "VBENCH_HOME"


def vbench_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or "~/.vbench").expanduser()


def cache_dir(*parts: str) -> Path:
    """``$VBENCH_HOME/cache/<parts>``: files vbench can rebuild (dataset tiles, fitted models)."""
    return vbench_home().joinpath("cache", *parts)
