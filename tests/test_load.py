"""The store under load: 8 writer processes x 50 runs x 500 per-tile scores, each writer claiming
runs with vbench.store.leases.claim (every key contended by two writers) and finishing them with
Store.finish_run, on SQLite (WAL) and on PostgreSQL. Every row is stored once, no writer fails
("database is locked" included). The measurement itself is benchmarks/store_load.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vbench.store import Store

pytestmark = pytest.mark.slow
WRITERS, RUNS, TILES = 8, 50, 500


def _bench():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "store_load.py"
    spec = importlib.util.spec_from_file_location("vbench_store_load_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(url: str, name: str) -> None:
    bench = _bench()
    result = bench.measure(url, writers=WRITERS, runs=RUNS, tiles=TILES)
    print(f"{name}: {result['rows']} rows in {result['seconds']:.2f} s = {result['rows_per_s']:.0f} rows/s")
    for code, err in zip(result["returncodes"], result["stderr"]):
        assert code == 0 and "locked" not in err, err
    done = [k for r in result["reports"] for k in r["done"]]
    expected = bench.keys(WRITERS, RUNS)
    assert sorted(done) == expected  # each key completed by exactly one writer
    store = Store(url)
    with store.engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar()  # noqa: E731
        assert one("select count(*) from runs") == len(expected)
        assert one("select count(*) from runs where status = 'completed'") == len(expected)
        assert one("select count(distinct run_key) from runs") == len(expected)
        assert one("select count(*) from scores") == len(expected) * TILES
        assert (
            one(
                "select count(*) from (select run_id, metric, tile from scores group by run_id, metric, tile "
                "having count(*) > 1) d"
            )
            == 0
        )
        assert (
            one(f"select count(*) from (select run_id from scores group by run_id having count(*) <> {TILES}) d") == 0
        )
        assert one("select count(*) from summaries") == len(expected)
        assert one("select count(distinct run_id) from summaries") == len(expected)
    store.engine.dispose()


def test_concurrent_writers_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'load.db'}", "SQLite")


def test_concurrent_writers_on_postgresql(pg_url):
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE vbench_load"))
    admin.dispose()
    _check(pg_url.rsplit("/", 1)[0] + "/vbench_load", "PostgreSQL")
