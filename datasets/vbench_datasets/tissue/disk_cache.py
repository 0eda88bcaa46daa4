"""Built tiles kept on disk, so each run's process does not simulate the dataset again.

``$VBENCH_HOME/cache/datasets/NAME-KEY.npz`` (default ``~/.vbench``). KEY hashes the dataset's
parameters, the code that builds tiles (this package's ``simulated``, ``tiles``, ``tiling``, ``sources``,
``tissue`` and ``forward`` modules) and the versions of the numerical libraries, so any change builds afresh.
Every tile read back is re-hashed against the hash stored with it; a damaged or edited cache file
is ignored (with a warning) and rebuilt. ``vbench datasets verify`` never reads the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import json
import os
import tempfile
import warnings
from pathlib import Path

from vbench import manifest as mf
from vbench.home import cache_dir

from .built_tiles import Built, Tile

LIBRARIES = ("numpy", "scipy", "scikit-image", "tifffile", "imagecodecs")
_CODE: list[str] = []


def _code_digest() -> str:
    if not _CODE:
        here = Path(__file__).parent
        digest = hashlib.sha256()
        for path in sorted(
            [
                here / "simulated.py",
                here / "built_tiles.py",
                here / "whole_regions.py",
                here / "tiling.py",
                here / "sources.py",
                here / "__init__.py",
                *(here / "forward").glob("*.py"),
            ]
        ):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for lib in LIBRARIES:
            with contextlib.suppress(md.PackageNotFoundError):
                digest.update(f"{lib}={md.version(lib)}".encode())
        _CODE.append(digest.hexdigest())
    return _CODE[0]


def folder() -> Path:
    return cache_dir("datasets")


def path(name: str, recipe: dict) -> Path:
    key = hashlib.sha256((mf.canonical(recipe) + _code_digest()).encode()).hexdigest()[:20]
    return folder() / f"{name}-{key}.npz"


def save(file: Path, built) -> None:
    """Best effort: a cache that cannot be written only costs time."""
    import numpy as np

    arrays = {
        "header": np.array(json.dumps(built.header)),
        "rows": np.array(json.dumps([_row(t) for t in built.tiles])),
        "wholes": np.array(json.dumps([_whole_row(w) for w in built.wholes])),
    }
    for i, w in enumerate(built.wholes):
        arrays[f"whole_input{i}"], arrays[f"whole_target{i}"] = w.input, w.target
        if w.truth is not None and w.truth is not w.target:
            arrays[f"whole_truth{i}"] = w.truth
    for i, t in enumerate(built.tiles):
        arrays[f"input{i}"], arrays[f"target{i}"] = t.input, t.target
        if t.truth is not None and t.truth is not t.target:
            arrays[f"truth{i}"] = t.truth
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tiles-", suffix=".npz", dir=file.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, file)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def load(file: Path):
    """The cached build, or None when absent, unreadable or damaged."""
    import numpy as np

    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            tiles = []
            for i, row in enumerate(json.loads(str(z["rows"]))):
                inp, tgt = z[f"input{i}"], z[f"target{i}"]
                truth = z[f"truth{i}"] if f"truth{i}" in z.files else (tgt if row["truth_is_target"] else None)
                for arr, want in ((inp, row["input"]), (tgt, row["target"]), (truth, row.get("truth"))):
                    if want is not None and mf.array_digest(arr) != want:
                        raise ValueError(f"tile {row['id']} does not match its stored hash")
                at = tuple(row["target_at"]) if row["target_at"] else None
                tiles.append(Tile(row["id"], row["split"], row["y"], row["x"], row["size"], inp, tgt, truth, at))
            wholes = [_whole(z, i, row) for i, row in enumerate(json.loads(str(z["wholes"])))]
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        warnings.warn(f"ignoring the damaged tile cache {file} ({exc}); rebuilding it", stacklevel=2)
        return None
    return Built(header, tiles, wholes)


def _whole(z, i: int, row: dict):
    from .whole_regions import Whole

    inp, tgt = z[f"whole_input{i}"], z[f"whole_target{i}"]
    truth = z[f"whole_truth{i}"] if f"whole_truth{i}" in z.files else (tgt if row["truth_is_target"] else None)
    for arr, want in ((inp, row["input"]), (tgt, row["target"]), (truth, row.get("truth"))):
        if want is not None and mf.array_digest(arr) != want:
            raise ValueError(f"whole region {row['id']} does not match its stored hash")
    at = tuple(row["target_at"]) if row["target_at"] else None
    return Whole(row["id"], row["y"], row["x"], row["height"], row["width"], inp, tgt, truth, at)


def _whole_row(w) -> dict:
    return {
        "id": w.id,
        "y": w.y,
        "x": w.x,
        "height": w.height,
        "width": w.width,
        "target_at": list(w.target_at) if w.target_at else None,
        "truth_is_target": w.truth is not None and w.truth is w.target,
        "input": mf.array_digest(w.input),
        "target": mf.array_digest(w.target),
        "truth": mf.array_digest(w.truth) if w.truth is not None else None,
    }


def _row(t) -> dict:
    return {
        "id": t.id,
        "split": t.split,
        "y": t.y,
        "x": t.x,
        "size": t.size,
        "target_at": list(t.target_at) if t.target_at else None,
        "truth_is_target": t.truth is not None and t.truth is t.target,
        "input": mf.array_digest(t.input),
        "target": mf.array_digest(t.target),
        "truth": mf.array_digest(t.truth) if t.truth is not None else None,
    }
