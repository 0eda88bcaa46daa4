"""The results database's schema: created when empty, refused when newer than this vbench, migrated
forward one version at a time when older."""

from __future__ import annotations

import time

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.exc import OperationalError

from ..errors import SchemaError
from .models import SCHEMA_VERSION, Base, CurvePoint, Meta

SCHEMA_LOCK = "vbench-schema"


def create_curve_table(conn) -> None:
    CurvePoint.__table__.create(conn, checkfirst=True)


def check_schema(store) -> None:
    """Creates the tables of an empty database, refuses one written by a newer vbench, and
    migrates one written by an older vbench (``store``: the :class:`vbench.store.Store`)."""
    tables = set(inspect(store.engine).get_table_names())
    if not tables:
        create(store)
        return
    if Meta.__tablename__ not in tables:
        raise SchemaError(
            f"{store.path or store.display_url} is not a vbench results database (it has tables "
            f"{', '.join(sorted(tables))} but no {Meta.__tablename__}). Use another --db."
        )
    with store.engine.connect() as conn:
        raw = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    version = int(raw) if raw is not None and str(raw).isdigit() else None
    if version is None or version > SCHEMA_VERSION:
        from .. import __version__

        raise SchemaError(
            f"the results database {store.path or store.display_url} was written by a newer vbench (schema "
            f"version {raw}; this vbench {__version__} reads up to {SCHEMA_VERSION}). Upgrade vbench "
            f"(pip install -U vbench) or use another --db. The database was not modified."
        )
    if version < SCHEMA_VERSION:
        migrate(store, version)


# Forward migrations, one step per schema version: (new version, SQL statements or functions of
# the connection). Runs stored
# before a column existed get its default; nothing is dropped or rewritten.
MIGRATIONS = (
    (
        2,
        (
            "ALTER TABLE runs ADD COLUMN modality VARCHAR(64) NOT NULL DEFAULT ''",
            "ALTER TABLE runs ADD COLUMN stain VARCHAR(64) NOT NULL DEFAULT ''",
        ),
    ),
    (3, ("ALTER TABLE runs ADD COLUMN owner VARCHAR(160)", "ALTER TABLE runs ADD COLUMN heartbeat TIMESTAMP")),
    (4, ("ALTER TABLE runs ADD COLUMN tile_sources TEXT",)),
    # SQLite's INTEGER already holds 64 bits; PostgreSQL's is 32 (seeds reach 2^32 - 1)
    (5, ({"postgresql": "ALTER TABLE runs ALTER COLUMN seed TYPE BIGINT"},)),
    # 6: runs.train_flops and curve_seconds; the curve_points table (anytime validation curves)
    (
        6,
        (
            "ALTER TABLE runs ADD COLUMN train_flops FLOAT",
            "ALTER TABLE runs ADD COLUMN curve_seconds FLOAT",
            create_curve_table,
        ),
    ),
    # 7: runs.precision (fp32 | bf16) and runs.evaluation (tiles | whole)
    (
        7,
        (
            "ALTER TABLE runs ADD COLUMN \"precision\" VARCHAR(8) NOT NULL DEFAULT 'fp32'",
            "ALTER TABLE runs ADD COLUMN evaluation VARCHAR(16) NOT NULL DEFAULT 'tiles'",
        ),
    ),
)


def create(store) -> None:
    """Creates the tables of an empty database. Several processes may open a new database at
    once (a sweep started twice): under the schema lock only the first creates it."""
    with store.locked(SCHEMA_LOCK) as conn:
        if inspect(conn).get_table_names():
            return
        Base.metadata.create_all(conn)
        conn.execute(insert(Meta), [{"key": "schema_version", "value": str(SCHEMA_VERSION)}])
    wal(store)


def migrate(store, version: int) -> None:
    """Brings a database written by an older vbench up to SCHEMA_VERSION, each step in one
    transaction with its new version number, so an interrupted upgrade resumes where it stopped
    and two processes upgrading at once apply each step once."""
    for target, statements in MIGRATIONS:
        with store.locked(SCHEMA_LOCK) as conn:
            current = int(conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar())
            if target <= current:
                continue
            for sql in statements:
                if callable(sql):
                    sql(conn)
                    continue
                sql = sql.get(conn.dialect.name) if isinstance(sql, dict) else sql
                if sql:
                    conn.exec_driver_sql(sql)
            conn.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(target)))
    wal(store)


def wal(store, wait: float = 30.0) -> None:
    """SQLite files written by vbench use write-ahead logging: readers (a leaderboard) do not
    block the writers of a running sweep, and a writer commits without waiting for them.

    The switch needs the file to itself. While another process holds its write lock (one more
    sweep opening the new database), SQLite answers 'database is locked' at once instead of
    waiting out the busy timeout (waiting inside the switch's read could deadlock), so the
    switch is tried again for up to ``wait`` seconds."""
    if store.path is None:
        return
    deadline, pause = time.monotonic() + wait, 0.02
    while True:
        try:
            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.5)
