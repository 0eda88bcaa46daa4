"""Moving results between databases: completed runs, with their summaries and per-tile scores, as
JSON lines (gzip when the file name ends in ``.gz``), so labs merge results from clusters.

Import is idempotent: a run is identified by its run key (stainer, preset, params, dataset,
manifest, seed, evaluation settings) and its content by a hash of its summaries and scores. A run
already present with the same content is skipped; one present with a different result for the
same identity is imported beside it, and the import says so.

Import is checked and atomic: every record is validated against :mod:`.records` (types, ranges,
names, timestamps; an unknown key is a version message) before anything is written, and the new
runs are then written in one transaction, status ``completed`` from the start: a bad file, a failed
write or a killed import leaves the database as it was, with no run left ``running``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select

from ..errors import ConfigError
from ..validation import one_line, shown
from ..visible import line
from . import SUMMARY_FIELDS, utcnow
from .models import Run
from .records import Header, Record, message
from .stored_rows import completed_runs

FORMAT = "vbench-results"
VERSION = 2  # 2: records carry the anytime curve (curve)
# Columns that only mean something in the database they were written in (ids, the run lease).
LOCAL = ("id", "status", "trained_by", "error", "owner", "heartbeat")
# Not taken from another lab's file either: a folder on the exporting machine, from which this one
# would otherwise load a checkpoint or copy sample grids.
NOT_IMPORTED = (*LOCAL, "artifacts")
EXPECTED = {"scores": "[metric, tile, value] rows, as `vbench export` writes them"}


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)  # new run ids
    skipped: int = 0  # already present with the same content
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (new run id, message)
    notes: list[str] = field(default_factory=list)  # values stored as not computed, and why


@dataclass
class ExportReport:
    exported: int = 0
    left_out: list[str] = field(default_factory=list)  # stored runs that could not be read, and why


def export_runs(store, path: str | Path, dataset: str | None = None) -> ExportReport:
    """Writes every completed run (of ``dataset``) to ``path``. A stored run that cannot be read
    (:mod:`.stored_rows`: one another tool wrote) is left out and named in the report."""
    path = Path(path)
    runs, left_out = completed_runs(store, dataset)
    summaries: dict[int, list] = {}
    for s in store.summaries([r.id for r in runs]):
        summaries.setdefault(s.run_id, []).append({k: getattr(s, k) for k in (*SUMMARY_FIELDS, "higher_is_better")})
    curves = store.curves([r.id for r in runs])
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
                if r.id in curves:
                    record["curve"] = curves[r.id]
                f.write(json.dumps(record, default=_default) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}; choose another --output") from None
    return ExportReport(len(runs), [item.note for item in left_out])


def import_runs(store, path: str | Path) -> ImportReport:
    """Adds the runs in ``path`` to ``store`` (see the module docstring). The whole file is read
    and checked first; then every new run is written in one transaction, so a bad file or a
    failed write leaves the database as it was."""
    path = Path(path)
    records = list(_records(path))
    report = ImportReport()
    present: dict[str, list[int]] = {}  # run key -> completed run ids with it
    with store.database_errors("read"), store.engine.connect() as conn:
        for run_id, key in conn.execute(select(Run.id, Run.run_key).where(Run.status == "completed")):
            present.setdefault(key, []).append(run_id)
    contents: dict[str, set[str]] = {}  # run key -> contents present, read when first needed
    new = []
    for line_no, record in records:
        key = record.run.run_key
        content = content_hash({"summaries": record.summary_dicts(), "scores": _sorted_scores(record.scores)})
        if key not in contents:
            contents[key] = {_stored_content(store, run_id) for run_id in present.get(key, [])}
        if content in contents[key]:
            report.skipped += 1
            continue
        contents[key].add(content)
        new.append((line_no, record))
    ids = store.add_completed([_stored(record) for _, record in new])
    for run_id, (line_no, record) in zip(ids, new):
        run = record.run
        report.imported.append(run_id)
        report.notes += [f"{path}, line {line_no} (run {run_id}): {note}" for note in record.notes]
        earlier = present.setdefault(run.run_key, [])
        if earlier:
            report.conflicts.append(
                (
                    run_id,
                    f"run {run_id} ({run.stainer} on {run.dataset} seed {run.seed}) has the identity of "
                    f"run(s) {', '.join(map(str, earlier))} but a different result; both are kept",
                )
            )
        earlier.append(run_id)
    return report


def _stored(record) -> tuple[dict, list, list[dict], list[dict]]:
    """A checked record as :meth:`vbench.store.Store.add_completed` takes it."""
    fields = record.run.model_dump()
    fields["ended_at"] = fields["ended_at"] or utcnow()
    return fields, record.scores, record.summary_dicts(), record.curve_dicts()


def content_hash(record: dict) -> str:
    body = {"summaries": record.get("summaries", []), "scores": record.get("scores", [])}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=_default).encode()).hexdigest()


def _stored_content(store, run_id: int) -> str:
    summaries = sorted(
        ({k: getattr(s, k) for k in (*SUMMARY_FIELDS, "higher_is_better")} for s in store.summaries([run_id])),
        key=lambda s: s["metric"],
    )
    return content_hash({"summaries": summaries, "scores": _scores(store, run_id)})


def _scores(store, run_id: int) -> list[list]:
    return _sorted_scores((m, t, v) for (_, m), tiles in store.tile_scores([run_id]).items() for t, v in tiles.items())


def _sorted_scores(scores) -> list[list]:
    return sorted([m, t, v] for m, t, v in scores)


def _portable(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in LOCAL}


def _records(path: Path):
    """(line number, :class:`~vbench.store.records.Record`) of every run in the file, checked."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give a file written by `vbench export`")
    line_no = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            for line_no, data in enumerate(f, start=1):
                text = data.decode("utf-8")  # line by line, so an error names its line
                if line_no == 1:
                    _header(path, text)
                elif text.strip():
                    yield line_no, _record(path, line_no, json.loads(text))
        if line_no == 0:
            _header(path, "")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        why = "nested too deeply" if isinstance(exc, RecursionError) else line(exc)[:200]
        raise ConfigError(
            f"{path}, line {line_no} cannot be read as vbench results ({why}); was it truncated or changed?"
        ) from None
    except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ConfigError(
            f"{path} cannot be read as vbench results ({line(exc)[:200]}); was it truncated or changed?"
        ) from None


def _header(path: Path, text: str) -> None:
    try:
        header = json.loads(text)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigError(
            f"{path} is not a vbench results file (its first line is not the "
            f"{FORMAT!r} header); give a file written by `vbench export`"
        )
    try:
        version = Header.model_validate(header).version
    except ValidationError as exc:
        raise ConfigError(one_line(exc, f"{path}, line 1")) from None
    if version > VERSION:
        raise ConfigError(
            f"{path} was written by a newer vbench (format version {version}); upgrade vbench to import it"
        )


def _record(path: Path, line_no: int, raw) -> Record:
    where = f"{path}, line {line_no}"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a run as `vbench export` writes it, a JSON object with run, summaries and "
            f"scores; got {shown(raw)}"
        )
    if isinstance(raw.get("run"), dict):  # columns local to the exporting database are ignored
        raw = dict(raw, run={k: v for k, v in raw["run"].items() if k not in NOT_IMPORTED})
    try:
        record = Record.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(message(exc, where, "import it", EXPECTED)) from None
    if raw.get("content") not in (None, content_hash(raw)):
        raise ConfigError(
            f"{where}: the run's content hash does not match its scores; the file "
            f"was changed or damaged after export. Export it again"
        )
    return record


def _open(path: Path, mode: str):
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else open(path, mode, encoding="utf-8")


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # what another tool stored (bytes in a text column): the importer checks it
