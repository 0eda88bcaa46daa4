"""What one run is: stainer + preset (+ evaluation variants) + params, dataset, seed, settings."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from ..compute import multiple_label

BUDGET_SUFFIX = re.compile(r"^(?P<preset>.*)@x(?P<multiple>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)$")


PRECISIONS = ("fp32", "bf16")


def split_precision(preset: str) -> tuple[str, str | None]:
    """``quick@x4@bf16`` -> (``quick@x4``, ``bf16``); a preset without one -> (it, None)."""
    for p in PRECISIONS:
        if preset.endswith("@" + p):
            return preset[: -len(p) - 1], p
    return preset, None


def split_budget(preset: str) -> tuple[str, float | None]:
    """``quick[steps=250]@x4`` -> (``quick[steps=250]``, 4.0); a preset without a multiple -> (it, None)."""
    match = BUDGET_SUFFIX.match(preset)
    if not match:
        return preset, None
    return match.group("preset"), float(match.group("multiple"))


def method_label(preset_label: str) -> str:
    """A stored preset label without its budget multiple (``quick@x4+mean`` -> ``quick+mean``,
    ``quick@x4@bf16`` -> ``quick@bf16``): the method a budget sweep trains at several budgets."""
    head, *variants = preset_label.split("+")
    head, precision = split_precision(head)
    head = split_budget(head)[0] + (f"@{precision}" if precision else "")
    return "+".join([head, *variants])


def whole_label(whole: dict) -> str:
    """How whole-image evaluation settings show in a label: ``whole(tile=128,overlap=16,blend=hann)``."""
    return "whole(" + ",".join(f"{k}={whole[k]}" for k in ("tile", "overlap", "blend") if k in whole) + ")"


def stainer_label(stainer: str, preset: str = "") -> str:
    """How a stainer preset is named in tables and messages: ``name:preset``, or ``name`` alone
    when there is no preset or it is called ``default`` (a stainer's single, unchosen preset)."""
    return f"{stainer}:{preset}" if preset and preset != "default" else stainer


@dataclass
class RunSpec:
    stainer: str
    dataset: str
    seed: int = 0
    preset: str = ""
    params: dict = field(default_factory=dict)  # training parameters (the preset's, with --set applied)
    overrides: dict = field(default_factory=dict)  # the parameters --set changed
    variants: list[str] = field(default_factory=list)  # evaluation variants, e.g. ["mean", "avg3"]
    eval_params: dict = field(default_factory=dict)  # parameters the variants set after training
    metrics: list[str] = field(default_factory=list)  # empty: the dataset pairing's defaults
    repeats: int = 1  # predictions per test tile (> 1 measures the variance of stochastic stainers)
    device: str = "cpu"
    max_seconds: float | None = None
    batch_size: int = 8
    suite: str | None = None
    artifacts_root: str = "vbench-artifacts"
    plugin: str | None = None  # "dist version" of the stainer's plugin: new code is a new run
    budget: float | None = None  # the multiple of the preset's step budget (--budgets, NAME:PRESET@xN)
    curve: bool = True  # score validation tiles while training (the anytime curve; --no-curve: off)
    precision: str = "fp32"  # fp32 | bf16 (autocast of forward passes): part of the trained model's identity
    evaluation: str = "tiles"  # tiles: the test tiles; whole: the dataset's whole-image test regions
    whole: dict = field(default_factory=dict)  # with evaluation "whole": tile, overlap (input px) and blend

    @property
    def preset_label(self) -> str:
        """The preset with its --set changes, budget multiple and variants, as stored and shown:
        ``quick+mean+avg3``, ``quick[lr=0.0002]``, ``quick@x4``."""
        from .overrides import label

        budget = "" if self.budget is None else "@" + multiple_label(self.budget)
        precision = "" if self.precision == "fp32" else "@" + self.precision
        whole = [whole_label(self.whole)] if self.evaluation == "whole" else []
        head = self.preset + label(self.overrides) + budget + precision
        if whole and head == "default" and not self.variants:  # a stainer's single unchosen preset
            head = ""
        return "+".join(([head] if head or self.variants else []) + self.variants + whole)

    @property
    def label(self) -> str:
        return f"{stainer_label(self.stainer, self.preset_label)} on {self.dataset} seed {self.seed}"

    def train_key(self, manifest_hash: str | None) -> str:
        """Identifies the trained model: runs that differ only in evaluation share it."""
        ident = {
            "stainer": self.stainer,
            "preset": self.preset,
            "params": self.params,
            "dataset": self.dataset,
            "manifest": manifest_hash,
            "seed": self.seed,
        }
        if self.plugin:  # stainers registered from a module (no distribution) have no version
            ident["plugin"] = self.plugin
        if self.budget is not None:  # a budget row is its own run, even where --set gives the same steps
            ident["budget"] = self.budget
        if self.precision != "fp32":  # fp32 runs keep the identity they had before precisions
            ident["precision"] = self.precision
        return run_key(ident)

    def key(self, manifest_hash: str | None) -> str:
        """Identifies the run for --resume: the trained model plus how it is evaluated."""
        ident = {
            "train": self.train_key(manifest_hash),
            "variants": self.variants,
            "eval": self.eval_params,
            "metrics": sorted(self.metrics),
            "repeats": self.repeats,
        }
        if self.evaluation != "tiles":  # tile runs keep the identity they had
            ident.update(evaluation=self.evaluation, whole=self.whole)
        return run_key(ident)

    def to_dict(self) -> dict:
        return asdict(self)


def run_key(ident: dict) -> str:
    """The stored identity of a run (or a trained model): a digest of its canonical JSON."""
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]
