"""Tile-level splits that leak: the same source image cut into tiles that land in two splits.

Tiles of one image share its tissue, stain batch and scanner, so a method tested on tiles of an
image it was trained on scores optimistically. Whether that happens can be told from the file
names when they follow ``S__K`` (source image ``S``, tile ``K``; DSD names its tiles so); for
other names nothing is said.
"""

from __future__ import annotations

from itertools import combinations

SEPARATOR = "__"
SHOWN = 3  # source names quoted per pair of splits


def source_of(stem: str) -> str | None:
    """``S`` of a file stem ``S__K``, else None."""
    source, sep, tile = stem.rpartition(SEPARATOR)
    return source if sep and source and tile else None


def shared_sources(index: dict) -> dict[tuple[str, str], list[str]] | None:
    """(split, split) -> source images with tiles in both, from a split -> entries index (inputs
    and targets); None when some file name does not tell its source."""
    sources: dict[str, set[str]] = {}
    for split, entries in index.items():
        found = set()
        for e in entries:
            for path in (e.input, e.target):
                source = source_of(path.stem)
                if source is None:
                    return None
                found.add(source)
        sources[split] = found
    return {(a, b): sorted(sources[a] & sources[b]) for a, b in combinations(sources, 2) if sources[a] & sources[b]}


def leak_warning(index: dict) -> str | None:
    """A sentence for ``vbench datasets show`` when splits share source images, else None."""
    shared = shared_sources(index)
    if not shared:
        return None
    parts = []
    for (a, b), names in shared.items():
        quoted = ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")
        parts.append(f"{a} and {b} share {len(names)} ({quoted})")
    return (
        f"tile-level split: source images (file names S__K: source S, tile K) have tiles in more than one "
        f"split: {'; '.join(parts)}. A method is then tested on images it was trained on and scores "
        f"optimistically; split by source image for a fair test"
    )
