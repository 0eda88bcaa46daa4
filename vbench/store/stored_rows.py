"""The store's rows as readers that must not fail on one (leaderboards, ``vbench export``) read
them, each checked first.

A database can hold rows that no check of this vbench saw: written by an older vbench, another
tool or by hand (a seed stored as text, NaN, JSON that does not parse, a timestamp SQLite keeps as
any text). A reader never fails on one: a run it cannot use is left out with a note naming the
run; a summary statistic that is not a finite number is read as not computed, and a runtime figure
that is not finite as not measured. (Per-tile scores that are not finite numbers are left out of
their interval: :mod:`vbench.report.intervals`.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, select, type_coerce

from ..visible import line
from .models import Run

TEXT = ("stainer", "preset", "dataset", "run_key")
OPTIONAL_TEXT = ("manifest_hash", "dataset_note", "vbench_version", "git_commit", "device")
JSON_OBJECTS = ("params", "hardware", "libraries", "tile_sources")
# the runtime figures a leaderboard row averages over its seeds
RUNTIME = (
    "train_seconds",
    "train_samples_per_s",
    "infer_ms_p50",
    "infer_ms_p95",
    "tiles_per_s",
    "peak_mem_mb",
    "n_params",
    "flops_per_tile",
    "train_flops",
)
NUMBERS = (*RUNTIME, "curve_seconds")
STATISTICS = ("mean", "std", "ci_low", "ci_high")
JSON_LIMIT = 100_000  # characters of params, hardware or libraries as JSON (as an import checks them)
TIMES = ("started_at", "ended_at")


def shown(value, limit: int = 60) -> str:
    """A stored value as a note shows it (as ``vbench.validation.shown``, without its import)."""
    text = line(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finite(value) -> bool:
    """A number (not a boolean) finite as a float (as ``vbench.store.records.finite``: a leaderboard
    does not import pydantic's models)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


@dataclass
class LeftOut:
    """A run a leaderboard left out: which, where it would have ranked, and why."""

    run_id: int
    dataset: str | None
    note: str


def completed_runs(store, dataset: str | None = None) -> tuple[list[Run], list[LeftOut]]:
    """The completed runs (of ``dataset``) a board can use, and the ones it cannot."""
    return readable_runs(store, "completed", dataset)


def readable_runs(
    store, status: str | None = None, dataset: str | None = None, run_id: int | None = None
) -> tuple[list[Run], list[LeftOut]]:
    """The runs (with ``status``, of ``dataset``, or the one ``run_id``) vbench can read, and the
    ones it cannot."""
    table = Run.__table__
    # Timestamps as stored: SQLite keeps any text in a DateTime column, and SQLAlchemy would fail
    # reading the whole table on one bad value.
    cols = [type_coerce(c, String).label(c.key) if isinstance(c.type, DateTime) else c for c in table.columns]
    stmt = select(*cols).order_by(table.c.id)
    if status:
        stmt = stmt.where(table.c.status == status)
    if run_id is not None:
        stmt = stmt.where(table.c.id == run_id)
    if dataset:
        stmt = stmt.where(table.c.dataset == dataset)
    with store.database_errors("read"), store.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(stmt).mappings()]
    dialect = store.engine.dialect
    timestamps = {key: table.c[key].type.dialect_impl(dialect).result_processor(dialect, None) for key in TIMES}
    runs, left_out = [], []
    for row in rows:
        why = _problem(row, timestamps)
        if why is None:
            runs.append(Run(**row))
        else:
            ds = row.get("dataset") if isinstance(row.get("dataset"), str) else None
            left_out.append(LeftOut(row["id"], ds, f"Run {row['id']} is left out: its {why}."))
    return runs, left_out


def _problem(row: dict, timestamps: dict) -> str | None:
    """What makes a stored run unusable (None: nothing); fixes what can be read another way."""
    if not isinstance(row["seed"], int) or isinstance(row["seed"], bool):
        return f"seed {shown(row['seed'])} is not an integer"
    for key in TEXT + OPTIONAL_TEXT:
        value, limit = row[key], getattr(Run.__table__.c[key].type, "length", None)
        if value is None and key in OPTIONAL_TEXT:
            continue
        if not isinstance(value, str):
            return f"{key} {shown(value)} is not text"
        if limit is not None and len(value) > limit:  # SQLite keeps any length; an import refuses it
            return f"{key} is {len(value):,} characters long (at most {limit})"
    for key in JSON_OBJECTS:
        value = row[key]
        if key != "tile_sources" and isinstance(value, str) and len(value) > JSON_LIMIT:
            return f"{key} is {len(value):,} characters long as JSON (at most {JSON_LIMIT:,})"
        try:
            parsed = json.loads(value) if value not in (None, "") else {}
        except (TypeError, ValueError, RecursionError):
            return f"{key} {shown(value)} is not a JSON object"
        if not isinstance(parsed, dict):
            return f"{key} {shown(value)} is not a JSON object"
        if key == "tile_sources" and not all(isinstance(v, str) for v in parsed.values()):
            return f"{key} {shown(value)} does not name each tile's source as text"
        if key != "tile_sources" and not value:
            row[key] = "{}"
    for key in NUMBERS:
        value = row[key]
        if value is not None and not finite(value):
            if not isinstance(value, float):
                return f"{key} {shown(value)} is not a number"
            row[key] = None  # NaN or infinity: not measured
    if row["threads"] is not None and not finite(row["threads"]):
        row["threads"] = None
    for key in ("external", "truncated"):
        row[key] = bool(row[key])
    for key, parse in timestamps.items():
        try:  # as SQLAlchemy parses it on every later read of the run (publish reads it again)
            row[key] = parse(row[key]) if parse is not None else row[key]
        except (TypeError, ValueError):
            return f"{key} {shown(row[key])} is not a timestamp"
        if row[key] is not None and not isinstance(row[key], datetime):
            return f"{key} {shown(row[key])} is not a timestamp"
    return None


def checked_summaries(summaries) -> tuple[dict[int, dict], dict[int, str]]:
    """{run id: {metric: summary}} of ``store.summaries(...)``, each statistic a finite number or
    None (a mean that is not becomes not computed, with the reason); and {run id: note} for runs
    with a summary that names no metric."""
    out: dict[int, dict] = {}
    notes: dict[int, str] = {}
    for s in summaries:
        if not isinstance(s.metric, str):
            notes[s.run_id] = f"Run {s.run_id}: a summary named {shown(s.metric)} is left out: its name is not text."
            continue
        for key in STATISTICS:
            value = getattr(s, key)
            if value is not None and not finite(value):
                if key == "mean" and s.status == "computed":
                    s.status, s.reason = "not computed", f"its stored mean {shown(value)} is not a finite number"
                setattr(s, key, None)
        s.status = s.status if isinstance(s.status, str) else "not computed"
        s.reason = s.reason if isinstance(s.reason, str) else None
        s.pipeline = s.pipeline if isinstance(s.pipeline, str) else ""
        s.higher_is_better = bool(s.higher_is_better)
        s.n = s.n if isinstance(s.n, int) and not isinstance(s.n, bool) else 0
        out.setdefault(s.run_id, {})[s.metric] = s
    return out, notes


def as_curve(rows) -> list[dict]:
    """Stored rows -> ``[{step, train_seconds, train_flops, metrics: {name: value}}]``, steps
    ascending; a metric not computed at a point has value None (its reason is in ``reasons``)."""
    points: dict[int, dict] = {}
    for r in sorted(rows, key=lambda r: (r["step"], r["metric"])):
        p = points.setdefault(
            r["step"],
            dict(step=r["step"], train_seconds=r["train_seconds"], train_flops=r["train_flops"], metrics={}),
        )
        p["metrics"][r["metric"]] = r["value"]
        if r.get("status") == "not computed":
            p.setdefault("reasons", {})[r["metric"]] = r.get("reason")
    return list(points.values())
