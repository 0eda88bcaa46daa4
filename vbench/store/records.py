"""The records of a results file (``vbench export`` / ``vbench import``) as pydantic models: what
each field must be, checked before anything is written.

A results file is another lab's file, so every field is checked: names are text without control
characters and no longer than their database column; seeds are integers in [0, 2^32); timestamps
are ISO 8601; counts are integers. A key this vbench does not know is refused with a version
message (a newer vbench wrote the file), never passed on to the database.

Per-tile scores and a summary's statistics are results, not settings: one that is not a finite
number (NaN, Infinity, "high") is stored as not computed (None), with the reason in the import's
notes, as the scoring engine stores an undefined score. A summary whose mean is not a number
becomes ``not computed`` with that reason.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    model_validator,
)

from .. import __version__
from ..validation import NAME_LIMIT, Seed, check_text, field_path, one_line, shown
from ..visible import line, lines
from .models import Run, Score, Summary
from .stored_rows import JSON_LIMIT, finite

TEXT_LIMIT = 20_000  # characters of a note, reason or pipeline description
INT_LIMIT = 2**31  # the integer columns of PostgreSQL


def message(error: ValidationError, where: str, action: str, expected: dict[str, str] | None = None) -> str:
    """One line for a record of another lab's file: an unknown key first (a newer vbench wrote the
    file: ``action`` says what upgrading allows), else the first problem."""
    problems = error.errors(include_url=False)
    for problem in problems:
        if problem["type"] == "extra_forbidden":
            return (
                f"{where}: field {shown(field_path(problem['loc']))} is not known to vbench {__version__} "
                f"(written by a newer vbench?); upgrade vbench to {action}"
            )
    if not problems[0]["loc"]:  # a check of the record as a whole: its message says it all
        return f"{where}: {line(problems[0]['msg'].removeprefix('Value error, '))}"
    return re.sub(r" or instance of \w+", "", one_line(error, where, expected))


def check_lines(value: str) -> str:
    """Free text (a note, a reason): line breaks and tabs allowed, other hidden characters not."""
    if lines(value) != value:  # one pass; the loop below only finds the character to name
        ch = next(ch for ch in value if lines(ch) != ch)
        raise ValueError(f"control character {lines(ch)} in the text")
    return value


def bounded_name(limit: int = NAME_LIMIT, empty: bool = False):
    """A name (no control characters) of at most ``limit`` characters."""
    return Annotated[str, Strict(), Field(min_length=0 if empty else 1, max_length=limit), AfterValidator(check_text)]


def column_name(model, column: str, empty: bool = False):
    """A name that fits ``model``'s String column (PostgreSQL refuses a longer one)."""
    return bounded_name(min(model.__table__.columns[column].type.length, NAME_LIMIT), empty)


def _finite_or_none(value):
    # A runtime figure that is not finite was not measured; anything but a number is still refused.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _timestamp(value):
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved out of range by its offset
            pass
    raise ValueError("expected an ISO 8601 timestamp such as 2024-05-01T12:00:00")


def _json_object(value: dict) -> dict:
    """Params, hardware and libraries: JSON of text (no control characters), finite numbers,
    booleans and null, at most 32 levels deep and 100,000 characters long."""
    value = _json_value(value)
    if len(json.dumps(value)) > JSON_LIMIT:
        raise ValueError(f"it is longer than {JSON_LIMIT:,} characters as JSON")
    return value


def _json_value(value, depth: int = 0):
    if depth > 32:
        raise ValueError("it is nested more than 32 levels deep")
    if isinstance(value, str):
        if len(value) > NAME_LIMIT:
            raise ValueError(f"it holds a text of {len(value):,} characters (at most {NAME_LIMIT:,})")
        return check_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"it holds {value!r}, not a finite number")
    if isinstance(value, list):
        return [_json_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_json_value(k, depth + 1): _json_value(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    raise ValueError(f"it holds {shown(value)}, which is not JSON")


Text = Annotated[str, Strict(), Field(max_length=TEXT_LIMIT), AfterValidator(check_lines)]
Count = Annotated[int, Strict(), Field(ge=0, lt=INT_LIMIT)]
Figure = Annotated[Annotated[float, Strict(), Field(ge=0)] | None, BeforeValidator(_finite_or_none)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
Tile = column_name(Score, "tile")
Metric = column_name(Summary, "metric")
Key = column_name(Run, "run_key")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Header(BaseModel):
    """The first line: ``{"format": "vbench-results", "version": 1}``."""

    format: str
    version: Annotated[int, Strict(), Field(ge=1)]


class RunFields(_Record):
    """A run's columns, less those that only mean something in the database they were written in
    (ids, status, the lease: :data:`vbench.store.transfer.LOCAL`)."""

    stainer: column_name(Run, "stainer")
    preset: column_name(Run, "preset", empty=True) = ""
    params: JsonObject = {}
    run_key: Key
    train_key: Key | None = None
    repeats: Annotated[int, Strict(), Field(ge=1, lt=INT_LIMIT)] = 1
    plugin_dist: column_name(Run, "plugin_dist") | None = None
    plugin_version: column_name(Run, "plugin_version") | None = None
    vbench_version: column_name(Run, "vbench_version")
    git_commit: column_name(Run, "git_commit") | None = None
    dataset: column_name(Run, "dataset")
    manifest_hash: column_name(Run, "manifest_hash") | None = None
    dataset_note: Text = ""
    modality: column_name(Run, "modality", empty=True) = ""
    stain: column_name(Run, "stain", empty=True) = ""
    seed: Annotated[Seed, Strict()]
    suite: column_name(Run, "suite") | None = None
    external: Annotated[bool, Strict()] = False
    device: column_name(Run, "device") | None = None
    threads: Annotated[int, Strict(), Field(ge=1, lt=INT_LIMIT)] | None = None
    hardware: JsonObject = {}
    libraries: JsonObject = {}
    started_at: Timestamp
    ended_at: Timestamp | None = None
    truncated: Annotated[bool, Strict()] = False
    artifacts: Annotated[str, Strict(), Field(max_length=4096), AfterValidator(check_text)] | None = None
    train_seconds: Figure = None
    train_steps: Count | None = None
    train_samples_per_s: Figure = None
    infer_ms_p50: Figure = None
    infer_ms_p95: Figure = None
    tiles_per_s: Figure = None
    peak_mem_mb: Figure = None
    n_params: Count | None = None
    flops_per_tile: Figure = None
    n_test_tiles: Count | None = None
    tile_sources: dict[Tile, bounded_name()] | None = None
    train_flops: Figure = None
    curve_seconds: Figure = None
    precision: Literal["fp32", "bf16"] = "fp32"
    evaluation: Literal["tiles", "whole"] = "tiles"


STATISTICS = ("mean", "std", "ci_low", "ci_high")


class SummaryRow(_Record):
    """One metric's aggregate over the run's test tiles."""

    metric: Metric
    status: Literal["computed", "not computed"] = "computed"
    n: Count = 0
    mean: Any = None
    std: Any = None
    ci_low: Any = None
    ci_high: Any = None
    reason: Text | None = None
    pipeline: Text = ""
    higher_is_better: Annotated[bool, Strict()] = True
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _statistics(self):
        for name in STATISTICS:
            value = getattr(self, name)
            if value is not None and not finite(value):
                why = f"its imported {name} {shown(value)} is not a finite number"
                self._notes.append(f"{self.metric}: {why}; stored as not computed")
                if name == "mean" and self.status == "computed":
                    self.status, self.reason = "not computed", why
                value = None
            setattr(self, name, None if value is None else float(value))
        if self.status == "computed" and self.mean is None:
            self.status, self.reason = "not computed", "imported without a mean"
        return self

    @property
    def notes(self) -> list[str]:
        return self._notes


class CurveRow(_Record):
    """One metric of one point of the run's anytime validation curve (format version 2)."""

    step: Count
    train_seconds: Figure = None
    train_flops: Figure = None
    metric: Metric
    value: Any = None
    n: Count = 0
    status: Literal["computed", "not computed"] = "computed"
    reason: Text | None = None

    @model_validator(mode="after")
    def _finite(self):
        if self.value is not None and not finite(self.value):
            self.status, self.reason = "not computed", f"its imported value {shown(self.value)} is not a finite number"
            self.value = None
        if self.value is not None:
            self.value = float(self.value)
        if self.status == "computed" and self.value is None:
            self.status, self.reason = "not computed", "imported without a value"
        return self


class Record(_Record):
    """One run of a results file. Format version 2 added ``curve`` (the anytime validation curve's
    rows); a later format may add more fields, which an older vbench refuses with a version message."""

    run: RunFields
    summaries: list[SummaryRow] = []
    scores: list[tuple[Metric, Tile, Any]] = []
    curve: list[CurveRow] = []
    content: Annotated[str, Strict(), Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self):
        metrics = [s.metric for s in self.summaries]
        twice = {m for m in metrics if metrics.count(m) > 1}
        if twice:
            raise ValueError(f"summaries name metric {shown(sorted(twice)[0])} twice; each metric has one summary")
        seen, bad, named = set(), {}, set(metrics)
        for i, (metric, tile, value) in enumerate(self.scores):
            if metric not in named:
                raise ValueError(f"scores[{i}] is of metric {shown(metric)}, which no summary names")
            if (metric, tile) in seen:
                raise ValueError(f"scores[{i}]: tile {shown(tile)} of metric {shown(metric)} is scored twice")
            seen.add((metric, tile))
            if value is not None and not finite(value):
                bad.setdefault(metric, []).append(value)
        self.scores = [(m, t, float(v) if finite(v) else None) for m, t, v in self.scores]
        for s in self.summaries:
            self._notes += s.notes
        for metric, values in bad.items():
            self._notes.append(
                f"{len(values)} per-tile {metric} score(s) were not finite numbers ({shown(values[0])}"
                f"{', ...' if len(values) > 1 else ''}); stored as not computed"
            )
        return self

    @property
    def notes(self) -> list[str]:
        return self._notes

    def curve_dicts(self) -> list[dict]:
        return [c.model_dump() for c in self.curve]

    def summary_dicts(self) -> list[dict]:
        """The summaries as the store keeps them, sorted by metric (as `vbench export` writes them)."""
        return sorted((s.model_dump() for s in self.summaries), key=lambda s: s["metric"])
