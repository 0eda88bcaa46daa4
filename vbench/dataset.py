"""Base class of benchmark datasets."""

from __future__ import annotations

import hashlib
import json
from typing import ClassVar, Sequence

SPLITS = ("train", "val", "test")
PAIRINGS = ("paired", "misaligned", "unpaired")


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
        if "_manifest_hash" not in self.__dict__:
            text = json.dumps(self.manifest(), sort_keys=True, separators=(",", ":"))
            self.__dict__["_manifest_hash"] = hashlib.sha256(text.encode()).hexdigest()
        return self.__dict__["_manifest_hash"]


def _quantised_bytes(tensor) -> bytes:
    import numpy as np

    arr = np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor)
    q = np.round(np.clip(arr, 0.0, 1.0) * 65535.0).astype("<u2")
    return repr(q.shape).encode() + q.tobytes()
