"""A leaderboard JSON as ``vbench publish --from-json`` reads it: pydantic models of its boards, so
a file that did not come from ``vbench publish`` (edited, damaged, or another lab's) is refused with
one line naming the file, the board, the field and what was expected, before anything is rendered.

Numbers are finite numbers (a string, NaN or Infinity where a figure belongs is refused), names
and labels are text without control characters, links are relative paths inside the published
folder, and a key this vbench does not know is refused with a version message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from ..errors import ConfigError
from ..store.records import INT_LIMIT, JsonObject, bounded_name, check_lines, finite, message
from ..validation import Seed, shown
from ..visible import line
from .escape import relative_url
from .figures import KINDS

Name = bounded_name()
# A row's label carries its parameters (up to 100,000 characters as JSON) when two rows share a
# preset, and footers join reasons: generous limits, so vbench's own JSON always renders again.
Label = bounded_name(200_000)
Text = Annotated[str, Strict(), Field(max_length=1_000_000), AfterValidator(check_lines)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Count = Annotated[int, Strict(), Field(ge=0, lt=INT_LIMIT)]


def _inside(path: str) -> str:
    if path and relative_url(path) is None:
        raise ValueError("expected a relative path inside the published folder, such as figures/a.png")
    return path


def _priority(value):
    if value is None or isinstance(value, int) and not isinstance(value, bool) or finite(value):
        return value
    raise ValueError("expected a finite number or null")


Link = Annotated[str, Strict(), Field(min_length=1, max_length=1000), AfterValidator(_inside)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricInfo(_Part):
    higher_is_better: Annotated[bool, Strict()]
    pipeline: Text = ""
    unit: bounded_name(100, empty=True) = ""
    display_name: Name | None = None
    rank_priority: Annotated[Any, AfterValidator(_priority)] = None


class Interval(_Part):
    n: Count = 0
    n_seeds: Count = 1
    mean: Number
    seed_std: Number | None = None
    ci_low: Number | None = None
    ci_high: Number | None = None


class Convergence(_Part):
    metric: Name
    unit: Text = ""
    gain: Number
    ci_low: Number | None = None
    ci_high: Number | None = None
    seeds: Count = 1
    flat_below: Number
    text: Text


NEWER_ROW_FIELDS = ("train_flops", "convergence")


class Row(_Part):
    stainer: Name
    preset: bounded_name(empty=True) = ""
    label: Label
    external: Annotated[bool, Strict()] = False
    params: JsonObject = {}
    seeds: list[Annotated[Seed, Strict()]]
    run_ids: list[Count] = []
    truncated: Annotated[bool, Strict()] = False
    metrics: dict[Name, Interval]
    not_computed: dict[Name, Text] = {}
    samples: dict[Name, Link] = {}
    train_seconds: Number | None = None
    train_samples_per_s: Number | None = None
    infer_ms_p50: Number | None = None
    infer_ms_p95: Number | None = None
    tiles_per_s: Number | None = None
    peak_mem_mb: Number | None = None
    n_params: Number | None = None
    flops_per_tile: Number | None = None
    train_flops: Number | None = None
    convergence: Convergence | None = None
    rank: Annotated[int, Strict(), Field(ge=1, lt=INT_LIMIT)] | None = None
    tied: Annotated[bool, Strict()] = False


class Figure(_Part):
    kind: Literal[KINDS]
    path: Link
    svg: Annotated[str, Strict(), Field(max_length=1000), AfterValidator(_inside)] = ""  # "": no SVG
    caption: Text = ""


class Provenance(_Part):
    vbench_version: list[Name] = []
    git_commit: list[Name] = []
    database: Text | None = None


class BoardFile(_Part):
    """One board of a published leaderboard.json, in the order ``Board.to_dict`` writes it."""

    dataset: Name
    manifest_hash: Name | None = None
    note: Text = ""
    metrics: dict[Name, MetricInfo] = {}
    hidden: dict[Name, Text] = {}
    rows: list[Row]
    warnings: list[Text] = []
    hardware: list[Text] = []
    provenance: Provenance = Provenance()
    figures: list[Figure] = []
    label: Text = ""
    excluded: list[Text] = []
    budget: Text = ""
    evaluation: Literal["tiles", "whole"] = "tiles"
    primary_metric: Name | None = None
    notes: list[Text] = []  # the footer as rendered; rendering makes it again from the rest

    @model_validator(mode="after")
    def _primary_is_a_column(self):
        if self.primary_metric is not None and self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {shown(self.primary_metric)} is not one of the board's metrics")
        return self


def load(path: Path) -> list[dict]:
    """The boards of a published leaderboard.json, checked; an error naming the file, the board
    and the field when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a leaderboard.json written by vbench publish") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        why = line(exc)[:200]
        raise ConfigError(f"{path} is not JSON ({why}); pass a leaderboard.json written by vbench publish") from None
    if not isinstance(data, list) or not all(isinstance(b, dict) and "dataset" in b and "rows" in b for b in data):
        raise ConfigError(
            f"{path} is not a vbench leaderboard (expected a list of boards with 'dataset' and "
            f"'rows'); pass a leaderboard.json written by vbench publish or vbench leaderboard -f json"
        )
    boards = []
    for i, raw in enumerate(data, start=1):
        try:
            board = BoardFile.model_validate(raw).model_dump()
        except ValidationError as exc:
            raise ConfigError(message(exc, f"{path}, board {i}", "render it")) from None
        for key in ("excluded", "budget"):  # as Board.to_dict writes it: the JSON copied is the JSON given
            if not board[key]:
                del board[key]
        if board["evaluation"] == "tiles" and "evaluation" not in raw:
            del board["evaluation"]
        for row, given in zip(board["rows"], raw["rows"]):  # boards written before these fields had none
            for key in NEWER_ROW_FIELDS:
                if key not in given:
                    del row[key]
        boards.append(board)
    return boards
