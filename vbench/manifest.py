"""Split manifests: what exactly a dataset's tiles are, as a file two labs can compare.

A manifest is a JSON object: a header (dataset, pairing, sources, forward-model and tiling
parameters) and ``tiles``, one row per tile with its id, split, position and the sha256 of its
arrays. Its hash (``manifest_hash``) is the sha256 of the canonical JSON (sorted keys, no
whitespace), so the file's indentation does not matter.

Tiles are hashed as integers, never floats: each array is quantised to uint8 or uint16 and hashed
as ``"<dtype> <C>x<H>x<W>\\n"`` followed by its raw little-endian bytes. PNG bytes would be the
obvious canonical encoding, but the compressed bytes depend on the zlib build (zlib vs zlib-ng in
Pillow's wheels), so the same pixels can give different PNG files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import DatasetError

FORMAT = "vbench-manifest"
VERSION = 1


def array_digest(arr) -> str:
    """sha256 of an integer array's canonical encoding (dtype, shape, little-endian bytes)."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.dtype.kind not in "ub":
        raise TypeError(f"hash integer arrays only (quantise first), got {arr.dtype}")
    little = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    head = f"{arr.dtype.name} {'x'.join(map(str, arr.shape))}\n".encode()
    return hashlib.sha256(head + little.tobytes()).hexdigest()


def canonical(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def manifest_hash(manifest: dict) -> str:
    return hashlib.sha256(canonical(manifest).encode()).hexdigest()


def dumps(manifest: dict) -> str:
    """The file text: one key per line, sorted, so diffs between versions are readable."""
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=True) + "\n"


def write(path, manifest: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(manifest), encoding="utf-8")
    return path


def read(path) -> dict:
    """A manifest file, refusing files of another format version with a message that says what to do."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"manifest {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(
            f"manifest {path} is not readable JSON ({exc}); restore it or write a new one "
            f"with `vbench datasets manifest NAME -o {path}`"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tiles"), list):
        raise DatasetError(f'{path} is not a vbench manifest (it lacks "format": "{FORMAT}" or "tiles")')
    version = data.get("version")
    if version != VERSION:
        from . import __version__

        newer = isinstance(version, int) and version > VERSION
        raise DatasetError(
            f"manifest {path} has format version {version!r}, written by "
            f"{'a newer' if newer else 'another'} vbench; this vbench ({__version__}) reads version {VERSION}. "
            + (
                "Upgrade vbench (pip install -U vbench) to use it."
                if newer
                else f"Write a current one with `vbench datasets manifest {data.get('dataset', 'NAME')} -o FILE`."
            )
        )
    return data


def compare(expected: dict, actual: dict, limit: int | None = None) -> list[str]:
    """Every difference, one line each: header fields first, then tiles by id (each tile named).

    Both sides are compared in their JSON form, as the hash sees them: a manifest read from a file
    holds lists where one built in Python may hold tuples, and the two are the same manifest."""
    expected, actual = json.loads(canonical(expected)), json.loads(canonical(actual))
    lines = []
    header = lambda m: {k: v for k, v in m.items() if k != "tiles"}  # noqa: E731
    for path, want, have in _leaf_diffs(header(expected), header(actual)):
        lines.append(f"{path}: manifest has {_short(want)}, built {_short(have)}")
    want = {t["id"]: t for t in expected.get("tiles", [])}
    have = {t["id"]: t for t in actual.get("tiles", [])}
    for tid in sorted(set(want) | set(have)):
        if tid not in have:
            lines.append(f"tile {tid}: in the manifest, not built")
        elif tid not in want:
            lines.append(f"tile {tid}: built, not in the manifest")
        elif want[tid] != have[tid]:
            fields = sorted(k for k in set(want[tid]) | set(have[tid]) if want[tid].get(k) != have[tid].get(k))
            lines.append(f"tile {tid} ({want[tid].get('split', '?')}): {', '.join(fields)} differ")
    if limit is not None and len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _leaf_diffs(want, have, path: str = ""):
    """(dotted path, expected, actual) of every differing leaf of two JSON values."""
    if isinstance(want, dict) and isinstance(have, dict):
        for key in sorted(set(want) | set(have)):
            yield from _leaf_diffs(want.get(key), have.get(key), f"{path}.{key}" if path else key)
    elif want != have:
        yield path, want, have


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
