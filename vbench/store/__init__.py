"""The results database (SQLAlchemy 2; SQLite by default, any SQLAlchemy URL works)."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ..errors import StoreError
from ..run import faults
from .models import CURVE_FIELDS, SCHEMA_VERSION, CurvePoint, Run, Score, Summary
from .schema import check_schema
from .stored_rows import as_curve
from .urls import SUPPORTED, display_url, engine, scrubbed, sqlite_file

DEFAULT_URL = "sqlite:///vbench.db"
# Every row of one executemany must carry the same keys; "not computed" rows have no statistics.
SUMMARY_DEFAULTS = {"reason": None, "pipeline": "", "n": 0, "mean": None, "std": None, "ci_low": None, "ci_high": None}
DB_ENV = "VBENCH_DB"
SUMMARY_FIELDS = ("metric", "status", "n", "mean", "std", "ci_low", "ci_high", "reason", "pipeline")
RUNNING = "running"
JSON_COLUMNS = ("params", "hardware", "libraries", "tile_sources")  # Text columns holding JSON
ENDED = ("completed", "failed", "interrupted")

__all__ = ["Store", "Run", "Score", "Summary", "display_url", "resolve_url", "SCHEMA_VERSION"]


def resolve_url(url: str | None = None) -> str:
    return url or os.environ.get(DB_ENV) or DEFAULT_URL


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """Opens (creating if needed) a vbench database and checks its schema version."""

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)  # as given, password included: only to connect, never shown
        self.display_url = display_url(self.url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:
            raise StoreError(
                f"invalid database URL {self.display_url!r}: {self.scrubbed(str(exc))}. Use {SUPPORTED}"
            ) from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path = sqlite_file(parsed) if self.is_sqlite else None
        if self.path is not None and parsed.query.get("mode") != "ro":  # read-only: nothing to create
            parent = self.path.parent
            if parent.exists() and not parent.is_dir():
                raise StoreError(
                    f"cannot create the results database {self.path}: {parent} is a file, not a folder. "
                    f"Pass a writable location with --db sqlite:///PATH or VBENCH_DB."
                )
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder of the results database {self.path}: {exc.strerror}. "
                    f"Pass a writable location with --db sqlite:///PATH or VBENCH_DB."
                ) from None
        connect_args = {"timeout": 30} if self.is_sqlite and "timeout" not in parsed.query else {}
        self.engine: Engine = engine(self.url, connect_args)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        with self.database_errors("open"):
            self._check_schema()

    # --- errors ---------------------------------------------------------------------------
    def scrubbed(self, text: str) -> str:
        """A driver's message with the URL's password, wherever it appears, replaced by ``***``."""
        return scrubbed(self.url, text)

    @contextmanager
    def database_errors(self, action: str) -> Iterator[None]:
        where = str(self.path) if self.path is not None else self.display_url
        try:
            yield
        except OperationalError as exc:
            text = self.scrubbed(str(exc.orig) if exc.orig is not None else str(exc))
            if "locked" in text or "busy" in text:
                raise StoreError(
                    f"the results database {where} is locked by another process ({text}); nothing was "
                    f"written. Wait for the other vbench command to finish, or use another --db."
                ) from None
            if "unable to open" in text or "readonly" in text or "read-only" in text:
                raise StoreError(
                    f"cannot {action} the results database {where}: {text}. Check that the file and its "
                    f"folder are writable, or pass another location with --db URL or VBENCH_DB."
                ) from None
            raise StoreError(f"database error while trying to {action} {where}: {text}") from None
        except DBAPIError as exc:
            text = self.scrubbed(str(exc.orig))
            if "not a database" in text or "malformed" in text:
                raise StoreError(
                    f"{where} is not a readable SQLite database ({text}): it is damaged (truncated, overwritten) "
                    f"or not a database at all. vbench did not modify it. Restore it from a backup, or pass "
                    f"another location with --db URL or VBENCH_DB."
                ) from None
            raise StoreError(f"database error while trying to {action} {where}: {text}") from None

    def _check_schema(self) -> None:
        check_schema(self)

    @contextmanager
    def locked(self, key: str) -> Iterator:
        """A transaction no other ``locked(key)`` transaction interleaves with: ``BEGIN IMMEDIATE``
        on SQLite (the database's write lock, taken at once), a transaction-level advisory lock on
        ``key`` elsewhere (PostgreSQL). Commits at the end of the block, rolls back on an error."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                lock = zlib.crc32(key.encode()) - 2**31  # a signed 32-bit lock id per key
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # --- writes ---------------------------------------------------------------------------
    def create_run(self, **fields) -> int:
        """A new run, status ``running``; it ends through :meth:`finish_run` or :meth:`end_run`.
        Runs a sweep executes are created by :func:`vbench.store.leases.claim` instead."""
        with self.database_errors("write"), self.engine.begin() as conn:
            return conn.execute(insert(Run).values(**self.row(fields), status=RUNNING)).inserted_primary_key[0]

    @staticmethod
    def row(fields: dict) -> dict:
        """A new run's column values: JSON columns serialised canonically, the start time set."""
        row = Store.serialised(fields)
        row.setdefault("started_at", utcnow())
        row.pop("status", None)
        return row

    @staticmethod
    def serialised(fields: dict) -> dict:
        """``fields`` with the JSON columns given as objects serialised canonically."""
        out = dict(fields)
        for key in JSON_COLUMNS:
            if out.get(key) is not None and not isinstance(out[key], str):
                out[key] = json.dumps(out[key], sort_keys=True, default=str)
        return out

    def update_run(self, run_id: int, **fields) -> None:
        if "status" in fields:
            raise ValueError("a run's status changes only through finish_run or end_run")
        with self.database_errors("write"), self.engine.begin() as conn:
            conn.execute(update(Run).where(Run.id == run_id).values(**fields))

    def finish_run(
        self,
        run_id: int,
        scores: Iterable[tuple[str, str, float | None]],
        summaries: list[dict],
        curve: list[dict] = (),
        **fields,
    ) -> None:
        """Stores per-tile scores, summaries, the anytime curve's rows and the run's final fields in
        one transaction, so a crash never leaves a half-written run marked completed."""
        status = fields.pop("status", "completed")
        fields = self.serialised(fields)
        with self.database_errors("write"), self.engine.begin() as conn:
            self._insert_scores(conn, run_id, scores)
            if summaries:
                conn.execute(insert(Summary), [dict(SUMMARY_DEFAULTS, **s, run_id=run_id) for s in summaries])
            self._insert_curve(conn, run_id, curve)
            if not self._end(conn, run_id, status, **fields):  # rolls the scores back with it
                raise StoreError(
                    f"run {run_id} is no longer running ({self._status(conn, run_id)}); its results were not stored"
                )
            faults.check("final-write", run_id)  # VBENCH_FAULT (tests): die before the commit

    def add_completed(self, runs: list[tuple]) -> list[int]:
        """Stores finished runs, each (fields, per-tile scores, summaries[, curve rows]), as
        ``completed`` in one transaction: all of them or, on any error, none (``vbench import``).
        Returns their ids."""
        ids = []
        with self.database_errors("write"), self.engine.begin() as conn:
            for fields, scores, summaries, *curve in runs:
                row = dict(self.row(fields), status="completed")
                ids.append(conn.execute(insert(Run).values(**row)).inserted_primary_key[0])
                self._insert_scores(conn, ids[-1], scores)
                if summaries:
                    conn.execute(insert(Summary), [dict(SUMMARY_DEFAULTS, **s, run_id=ids[-1]) for s in summaries])
                self._insert_curve(conn, ids[-1], curve[0] if curve else ())
        return ids

    @staticmethod
    def _insert_curve(conn, run_id: int, rows) -> None:
        rows = [{k: r.get(k) for k in CURVE_FIELDS} | {"run_id": run_id} for r in rows]
        if rows:
            conn.execute(insert(CurvePoint), rows)

    def add_scores(self, run_id: int, scores: Iterable[tuple[str, str, float | None]]) -> None:
        with self.database_errors("write"), self.engine.begin() as conn:
            self._insert_scores(conn, run_id, scores)

    @staticmethod
    def _insert_scores(conn, run_id: int, scores, chunk: int = 50_000) -> None:
        # The INSERT is compiled once and rows go to the driver as tuples: SQLAlchemy's per-row
        # parameter processing would otherwise cost more than SQLite's own work. Score's columns
        # are plain Integer/String/Float, which need no type conversion on any driver.
        cols = ["run_id", "metric", "tile", "value"]
        sql = str(insert(Score).compile(dialect=conn.dialect, column_keys=cols))
        rows = iter(scores)
        while part := list(islice(rows, chunk)):
            if conn.dialect.positional:
                batch = [(run_id, m, t, v) for m, t, v in part]
            else:
                batch = [dict(zip(cols, (run_id, m, t, v))) for m, t, v in part]
            conn.exec_driver_sql(sql, batch)

    def end_run(self, run_id: int, status: str, error: str | None = None, owner: str | None = None, **fields) -> bool:
        """Marks a running run failed or interrupted with the reason (keeps whatever else is
        stored). False when the run had already ended: its first ending stands."""
        with self.database_errors("write"), self.engine.begin() as conn:
            return self._end(conn, run_id, status, owner=owner, error=error, **fields)

    @staticmethod
    def _end(conn, run_id: int, status: str, owner: str | None = None, **fields) -> bool:
        """The one transition of a run's status: running -> completed | failed | interrupted. With
        ``owner``, only that lease holder may end the run (one whose lease was lost cannot)."""
        if status not in ENDED:
            raise ValueError(f"a run ends as one of {', '.join(ENDED)}, not {status!r}")
        fields.setdefault("ended_at", utcnow())
        where = [Run.id == run_id, Run.status == RUNNING] + ([Run.owner == owner] if owner else [])
        res = conn.execute(update(Run).where(*where).values(status=status, **fields))
        return res.rowcount == 1

    @staticmethod
    def _status(conn, run_id: int) -> str:
        status = conn.execute(select(Run.status).where(Run.id == run_id)).scalar()
        return status or "no such run"

    def delete_run(self, run_id: int) -> None:
        with self.database_errors("write"), self.engine.begin() as conn:
            conn.execute(delete(Score).where(Score.run_id == run_id))
            conn.execute(delete(Summary).where(Summary.run_id == run_id))
            conn.execute(delete(CurvePoint).where(CurvePoint.run_id == run_id))
            conn.execute(delete(Run).where(Run.id == run_id))

    # --- reads ----------------------------------------------------------------------------
    def get_run(self, run_id: int) -> Run | None:
        from sqlalchemy.orm import Session

        with self.database_errors("read"), Session(self.engine) as s:
            run = s.get(Run, run_id)
            if run is not None:
                s.expunge(run)
            return run

    def run_detail(self, run_id: int) -> dict:
        """Everything stored about one run: its columns (JSON parsed) and its summaries."""
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id} in {self.display_url}; `vbench runs` lists them")
        data = run.to_dict()
        data["summaries"] = [{k: getattr(s, k) for k in SUMMARY_FIELDS} for s in self.summaries([run_id])]
        data["curve"] = as_curve(self.curve_rows(run_id))
        return data

    def curve_rows(self, run_id: int) -> list[dict]:
        """The stored rows of a run's anytime curve (``CURVE_FIELDS``), steps ascending."""
        return self.curves([run_id]).get(run_id, [])

    def curves(self, run_ids: list[int]) -> dict[int, list[dict]]:
        """{run id: curve rows} of the runs that have a curve."""
        out: dict[int, list[dict]] = {}
        cols = [getattr(CurvePoint, k) for k in ("run_id", *CURVE_FIELDS)]
        with self.database_errors("read"), self.engine.connect() as conn:
            for start in range(0, len(run_ids), 500):
                stmt = select(*cols).where(CurvePoint.run_id.in_(run_ids[start : start + 500]))
                for run_id, *values in conn.execute(stmt.order_by(CurvePoint.step, CurvePoint.metric)):
                    out.setdefault(run_id, []).append(dict(zip(CURVE_FIELDS, values)))
        return out

    def runs(self, status: str | None = None, dataset: str | None = None) -> list[Run]:
        from sqlalchemy.orm import Session

        stmt = select(Run).order_by(Run.id)
        if status:
            stmt = stmt.where(Run.status == status)
        if dataset:
            stmt = stmt.where(Run.dataset == dataset)
        with self.database_errors("read"), Session(self.engine, expire_on_commit=False) as s:
            rows = list(s.scalars(stmt))
            s.expunge_all()
            return rows

    def trained_run(self, train_key: str) -> Run | None:
        """The latest completed run that trained this model and kept a checkpoint."""
        from sqlalchemy.orm import Session

        stmt = (
            select(Run)
            .where(
                Run.train_key == train_key,
                Run.status == "completed",
                Run.artifacts.is_not(None),
                Run.trained_by.is_(None),
            )
            .order_by(Run.id.desc())
            .limit(1)
        )
        with self.database_errors("read"), Session(self.engine) as s:
            run = s.scalars(stmt).first()
            if run is not None:
                s.expunge(run)
            return run

    def summaries(self, run_ids: list[int] | None = None) -> list[Summary]:
        from sqlalchemy.orm import Session

        stmt = select(Summary)
        if run_ids is not None:
            stmt = stmt.where(Summary.run_id.in_(run_ids))
        with self.database_errors("read"), Session(self.engine) as s:
            rows = list(s.scalars(stmt))
            s.expunge_all()
            return rows

    def tile_scores(self, run_ids: list[int], metrics: list[str] | None = None) -> dict[tuple[int, str], dict]:
        """{(run id, metric): {tile: value}} for many runs in one query per 500 runs (leaderboard
        intervals read a million scores this way)."""
        out: dict[tuple[int, str], dict] = {}
        cols = (Score.run_id, Score.metric, Score.tile, Score.value)
        with self.database_errors("read"), self.engine.connect() as conn:
            for start in range(0, len(run_ids), 500):
                stmt = select(*cols).where(Score.run_id.in_(run_ids[start : start + 500]))
                if metrics is not None:
                    stmt = stmt.where(Score.metric.in_(list(metrics)))
                for run_id, metric, tile, value in conn.execute(stmt):
                    out.setdefault((run_id, metric), {})[tile] = value
        return out

    def scores(self, run_id: int, metric: str) -> dict[str, float | None]:
        stmt = select(Score.tile, Score.value).where(Score.run_id == run_id, Score.metric == metric)
        with self.database_errors("read"), self.engine.connect() as conn:
            return dict(conn.execute(stmt).all())


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
