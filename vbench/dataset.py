"""Base class of benchmark datasets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

SPLITS = ("train", "val", "test")
PAIRINGS = ("paired", "misaligned", "unpaired")
WHOLES = "wholes"  # the name of the whole-image test regions, beside the splits


class Dataset:
    """A dataset with three splits.

    Subclasses declare ``name``, ``task`` (for example ``qpi->he``), ``pairing``, ``scale``
    (output/input pixel ratio) and ``in_channels``, and implement ``load(split)`` returning a
    re-iterable sequence of :class:`vbench.Sample`. ``simulated`` is a plain-words note shown
    with results when the input is simulated rather than acquired.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    pairing: ClassVar[str] = "paired"
    scale: ClassVar[int] = 1
    in_channels: ClassVar[int] = 3
    modality: ClassVar[str] = ""  # input modality: quantitative-phase, autofluorescence, brightfield, darkfield...
    stain: ClassVar[str] = ""  # target stain: he, ihc-dab...
    max_displacement_px: ClassVar[float | None] = None  # misaligned: largest target-to-truth shift, px
    description: ClassVar[str] = ""
    simulated: ClassVar[str] = ""

    def load(self, split: str) -> Sequence:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.load")

    def samples(self, split: str) -> Sequence:
        """``load(split)``, cached per instance."""
        cache = self.__dict__.setdefault("_samples", {})
        if split not in cache:
            cache[split] = list(self.load(split))
        return cache[split]

    def manifest(self) -> dict:
        """Tile ids, split and sha256 of every tile. The default quantises each tile to 16 bit
        (integers, so the hash does not depend on float rounding of one machine); datasets built
        from files override it to hash the files themselves."""
        rows = []
        for split in SPLITS:
            for s in self.samples(split):
                digest = hashlib.sha256()
                for part in (s.input, s.target, s.truth):
                    if part is not None:
                        digest.update(_quantised_bytes(part))
                rows.append({"id": s.id, "split": split, "sha256": digest.hexdigest()})
        return {"dataset": self.name, "tiles": rows}

    @property
    def manifest_hash(self) -> str:
        """sha256 of the canonical JSON of ``manifest()`` (see :mod:`vbench.manifest`)."""
        if "_manifest_hash" not in self.__dict__:
            from .manifest import manifest_hash

            self.__dict__["_manifest_hash"] = manifest_hash(self.manifest())
        return self.__dict__["_manifest_hash"]

    def committed_manifest(self) -> dict | None:
        """The manifest these tiles must reproduce (shipped with the dataset, or recorded when it was
        registered), or None when there is none. ``verify`` compares against it."""
        return None

    def verify(self, expected: dict | None = None) -> Verification:
        """Rebuilds (re-reads and re-hashes) every tile and compares with ``expected`` (default: the
        committed manifest). Every differing tile is named in ``differences``."""
        from .errors import DatasetError
        from .manifest import compare, manifest_hash

        expected = expected if expected is not None else self.committed_manifest()
        if expected is None:
            raise DatasetError(
                f"dataset {self.name!r} has no committed manifest to verify against; "
                f"`vbench datasets manifest {self.name} -o FILE` writes the current one, and "
                f"`vbench datasets verify {self.name} --manifest FILE` checks against a file"
            )
        built = self.manifest()
        return Verification(
            self.name,
            manifest_hash(expected),
            manifest_hash(built),
            compare(expected, built),
            len(built.get("tiles", [])),
        )

    def info(self) -> dict:
        """Label -> text for ``vbench datasets show``. The default loads every split."""
        counts = ", ".join(f"{split} {len(self.samples(split))}" for split in SPLITS)
        return {"tiles": counts, "manifest hash": self.manifest_hash}


@dataclass
class Verification:
    dataset: str
    expected_hash: str
    actual_hash: str
    differences: list[str] = field(default_factory=list)
    tiles: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences and self.expected_hash == self.actual_hash


def _quantised_bytes(tensor) -> bytes:
    import numpy as np

    arr = np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor)
    q = np.round(np.clip(arr, 0.0, 1.0) * 65535.0).astype("<u2")
    return repr(q.shape).encode() + q.tobytes()


@dataclass
class WholeRegion:
    """One whole-image test region: a large area of the test split's tissue, predicted and scored
    whole (``vbench.whole_image``). ``height`` x ``width``: its output (target) size in pixels.
    ``read_input``, ``read_target`` and ``read_truth`` (None when absent) return C x H x W arrays or
    tensors: unsigned integers (scaled by their largest value: uint8 / 255, uint16 / 65535) or floats
    in [0, 1], so a large region is not held as float. ``meta``: where it was cut from."""

    id: str
    height: int
    width: int
    read_input: Callable
    read_target: Callable | None = None
    read_truth: Callable | None = None
    meta: dict = field(default_factory=dict)

    @property
    def read_reference(self) -> Callable | None:
        """What full-reference metrics compare with: the aligned truth, else the target."""
        return self.read_truth if self.read_truth is not None else self.read_target


def whole_regions(dataset) -> list[WholeRegion]:
    """The whole-image test regions a dataset declares with a ``wholes()`` method ([] without)."""
    wholes = getattr(dataset, "wholes", None)
    return list(wholes()) if callable(wholes) else []
