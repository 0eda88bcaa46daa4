"""What one run is: stainer + preset + params, dataset, seed and settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass
class RunSpec:
    stainer: str
    dataset: str
    seed: int = 0
    preset: str = ""
    params: dict = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)  # empty: the dataset pairing's defaults
    device: str = "cpu"
    max_seconds: float | None = None
    batch_size: int = 8
    suite: str | None = None
    artifacts_root: str = "vbench-artifacts"

    @property
    def label(self) -> str:
        name = f"{self.stainer}:{self.preset}" if self.preset else self.stainer
        return f"{name} on {self.dataset} seed {self.seed}"

    def key(self, manifest_hash: str | None) -> str:
        """Identifies the run for --resume: same stainer, preset, params, data, seed and metrics."""
        ident = {"stainer": self.stainer, "preset": self.preset, "params": self.params,
                 "dataset": self.dataset, "manifest": manifest_hash, "seed": self.seed,
                 "metrics": sorted(self.metrics)}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def to_dict(self) -> dict:
        return asdict(self)
