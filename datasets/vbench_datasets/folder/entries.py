"""What an index lists for each tile of a folder dataset: its input, its target and, when known,
its aligned truth (``index`` and ``csv_index`` make them, ``folder_dataset`` reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    id: str
    input: Path
    target: Path
    truth: Path | None  # the aligned ground truth file, when known
    matched: bool  # target is the input's own pair, so its size must agree with the scale


def entry(id_: str, inp: Path, target: Path, pairing: str) -> Entry:
    """An input with its own target (which is its truth when the pairing is ``paired``)."""
    return Entry(id_, inp, target, target if pairing == "paired" else None, True)
