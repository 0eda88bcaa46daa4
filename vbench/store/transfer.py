"""Moving results between databases: completed runs, with their summaries and per-tile scores, as
JSON lines (gzip when the file name ends in ``.gz``), so labs merge results from clusters.

Import is idempotent: a run is identified by its run key (stainer, preset, params, dataset,
manifest, seed, evaluation settings) and its content by a hash of its summaries and scores. A run
already present with the same content is skipped; one present with a different result for the
same identity is imported beside it, and the import says so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from . import SUMMARY_FIELDS

FORMAT = "vbench-results"
VERSION = 1
# Columns that only mean something in the database they were written in (ids, the run lease).
LOCAL = ("id", "status", "trained_by", "error", "owner", "heartbeat")


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)  # new run ids
    skipped: int = 0  # already present with the same content
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (new run id, message)


def export_runs(store, path: str | Path, dataset: str | None = None) -> int:
    """Writes every completed run (of ``dataset``) to ``path``; returns how many."""
    path = Path(path)
    runs = store.runs(status="completed", dataset=dataset)
    summaries: dict[int, list] = {}
    for s in store.summaries([r.id for r in runs]):
        summaries.setdefault(s.run_id, []).append({k: getattr(s, k) for k in (*SUMMARY_FIELDS, "higher_is_better")})
    try:
        with _open(path, "wt") as f:
            f.write(json.dumps({"format": FORMAT, "version": VERSION}) + "\n")
            for r in runs:
                record = {
                    "run": _portable(r.to_dict()),
                    "summaries": sorted(summaries.get(r.id, []), key=lambda s: s["metric"]),
                    "scores": _scores(store, r.id),
                }
                record["content"] = content_hash(record)
                f.write(json.dumps(record, default=_default) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}; choose another --output") from None
    return len(runs)


def import_runs(store, path: str | Path) -> ImportReport:
    """Adds the runs in ``path`` to ``store`` (see the module docstring)."""
    report = ImportReport()
    for line_no, record in _records(Path(path)):
        run, key = record["run"], record["run"].get("run_key")
        content = content_hash(record)
        if record.get("content") not in (None, content):
            raise ConfigError(
                f"{path}, line {line_no}: the run's content hash does not match its scores; the file "
                f"was changed or damaged after export. Export it again"
            )
        present = [r for r in store.runs(status="completed") if r.run_key == key]
        if any(_stored_content(store, r) == content for r in present):
            report.skipped += 1
            continue
        fields = {k: _parse(k, v) for k, v in run.items() if k not in LOCAL}
        run_id = store.create_run(**{k: v for k, v in fields.items() if k != "ended_at"})
        store.finish_run(
            run_id, [tuple(s) for s in record["scores"]], record["summaries"], ended_at=fields.get("ended_at")
        )
        report.imported.append(run_id)
        if present:
            report.conflicts.append(
                (
                    run_id,
                    f"run {run_id} ({run.get('stainer')} on {run.get('dataset')} seed "
                    f"{run.get('seed')}) has the identity of run(s) "
                    f"{', '.join(str(r.id) for r in present)} but a different result; "
                    f"both are kept",
                )
            )
    return report


def content_hash(record: dict) -> str:
    body = {"summaries": record["summaries"], "scores": record["scores"]}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=_default).encode()).hexdigest()


def _stored_content(store, run) -> str:
    summaries = sorted(
        ({k: getattr(s, k) for k in (*SUMMARY_FIELDS, "higher_is_better")} for s in store.summaries([run.id])),
        key=lambda s: s["metric"],
    )
    return content_hash({"summaries": summaries, "scores": _scores(store, run.id)})


def _scores(store, run_id: int) -> list[list]:
    return sorted([m, t, v] for (_, m), tiles in store.tile_scores([run_id]).items() for t, v in tiles.items())


def _portable(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in LOCAL}


def _records(path: Path):
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give a file written by `vbench export`")
    try:
        with _open(path, "rt") as f:
            header = json.loads(f.readline() or "{}")
            if header.get("format") != FORMAT:
                raise ConfigError(
                    f"{path} is not a vbench results file (its first line is not the "
                    f"{FORMAT!r} header); give a file written by `vbench export`"
                )
            if header.get("version", 0) > VERSION:
                raise ConfigError(
                    f"{path} was written by a newer vbench (format version {header['version']}); "
                    f"upgrade vbench to import it"
                )
            for line_no, line in enumerate(f, start=2):
                if line.strip():
                    yield line_no, json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise ConfigError(f"{path} cannot be read as vbench results ({exc}); was it truncated or changed?") from None


def _open(path: Path, mode: str):
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else open(path, mode, encoding="utf-8")


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def _parse(key: str, value):
    if key in ("started_at", "ended_at") and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
