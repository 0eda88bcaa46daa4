"""The store on PostgreSQL (any SQLAlchemy URL works; PostgreSQL is tested).

A throwaway server is started from the machine's PostgreSQL binaries in a temporary folder (the
``pg_url`` fixture, tests/conftest.py)."""

from __future__ import annotations

from vbench.report import build_leaderboard
from vbench.store import SCHEMA_VERSION, Store


def test_runs_scores_and_leaderboard_on_postgresql(pg_url):
    store = Store(pg_url)
    run_id = store.create_run(
        stainer="a", run_key="k", vbench_version="0", dataset="d", manifest_hash="m", seed=0, params={"lr": 1e-3}
    )
    store.finish_run(
        run_id,
        [("psnr", f"t{i}", 20.0 + i) for i in range(100)],
        [dict(metric="psnr", n=100, mean=69.5, std=1.0, ci_low=69.0, ci_high=70.0)],
    )
    again = Store(pg_url)  # reopening checks the stored schema version
    assert again.get_run(run_id).status == "completed"
    assert len(again.scores(run_id, "psnr")) == 100 and again.scores(run_id, "psnr")["t3"] == 23.0
    (board,) = build_leaderboard(again)
    assert board.rows[0]["metrics"]["psnr"]["mean"] == 69.5


def test_a_schema_1_database_is_migrated_on_postgresql(pg_url):
    """The forward migration's SQL runs on PostgreSQL too: a schema-1 database (the runs table
    without modality/stain) in a database of its own gains both columns and keeps its rows."""
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE schema_one"))
    admin.dispose()
    url = pg_url.rsplit("/", 1)[0] + "/schema_one"
    store = Store(url)
    run_id = store.create_run(stainer="a", run_key="k", vbench_version="0", dataset="d", seed=0)
    store.finish_run(run_id, [("psnr", "t0", 20.0)], [dict(metric="psnr", n=1, mean=20.0)])
    with store.engine.begin() as conn:  # back to schema 1
        conn.execute(text("ALTER TABLE runs DROP COLUMN modality"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN stain"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN owner"))  # schema 3's lease columns
        conn.execute(text("ALTER TABLE runs DROP COLUMN heartbeat"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN tile_sources"))  # schema 4's
        conn.execute(text("ALTER TABLE runs ALTER COLUMN seed TYPE INTEGER"))  # schema 5 made it BIGINT
        for column in ("train_flops", "curve_seconds", '"precision"', "evaluation"):  # schemas 6 and 7
            conn.execute(text(f"ALTER TABLE runs DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE curve_points"))
        conn.execute(text("UPDATE vbench_meta SET value = '1' WHERE key = 'schema_version'"))
    store.engine.dispose()

    migrated = Store(url)
    with migrated.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM vbench_meta")).scalar() == str(SCHEMA_VERSION)
    run = migrated.get_run(run_id)
    assert (run.status, run.modality, run.stain) == ("completed", "", "")
    assert migrated.scores(run_id, "psnr") == {"t0": 20.0}
    big = migrated.create_run(stainer="a", run_key="k2", vbench_version="0", dataset="d", seed=2**32 - 1)
    assert migrated.get_run(big).seed == 2**32 - 1  # the migrated seed column holds every seed
    migrated.engine.dispose()


def test_run_leases_on_postgresql(pg_url, monkeypatch):
    from vbench.store.leases import claim, renew

    store = Store(pg_url)
    fields = dict(stainer="lease", vbench_version="0", dataset="d", seed=0)
    first = claim(store, "lease-key", fields, resume=True)
    assert first.run_id is not None and renew(store, first.run_id, first.owner)
    assert claim(store, "lease-key", fields, resume=True).run_id is None  # live: not taken
    monkeypatch.setenv("VBENCH_LEASE_SECONDS", "0")
    taken = claim(store, "lease-key", fields, resume=True)
    assert taken.run_id is not None and store.get_run(first.run_id).status == "failed"
    assert not renew(store, first.run_id, first.owner)
