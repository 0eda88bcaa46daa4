"""The results database: schema version, refusals that keep data, transactions, locations."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from vbench.errors import SchemaError, StoreError
from vbench.store import SCHEMA_VERSION, Store


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_run(store, **kw):
    fields = dict(stainer="s", run_key="k", vbench_version="0", dataset="d", seed=0)
    fields.update(kw)
    return store.create_run(**fields)


def test_schema_version_is_recorded(tmp_path):
    Store(f"sqlite:///{tmp_path / 'a.db'}")
    con = sqlite3.connect(tmp_path / "a.db")
    assert con.execute("select value from vbench_meta where key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)


def test_newer_schema_is_refused_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "new.db"
    store = Store(f"sqlite:///{path}")
    new_run(store)
    store.engine.dispose()
    con = sqlite3.connect(path)
    con.execute("update vbench_meta set value=? where key='schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(SchemaError, match=rf"newer vbench .*schema version {SCHEMA_VERSION + 1}.*Upgrade vbench"):
        Store(f"sqlite:///{path}")
    assert digest(path) == before


def test_a_schema_1_database_is_migrated_and_keeps_every_result(tmp_path):
    """tests/data/schema-v1.sql is the dump of a database the vbench before runs.modality/stain
    wrote (a completed run with scores and summaries, a failed run with its traceback)."""
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript((Path(__file__).parent / "data" / "schema-v1.sql").read_text())
    tables = ("runs", "scores", "summaries")
    before = {t: con.execute(f"select * from {t} order by 1, 2").fetchall() for t in tables}
    assert con.execute("select value from vbench_meta").fetchone() == ("1",)
    con.close()

    store = Store(f"sqlite:///{path}")
    store.engine.dispose()
    con = sqlite3.connect(path)
    assert con.execute("select value from vbench_meta where key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    for t in tables:  # every old column of every row unchanged; runs gained the two columns at the end
        after = con.execute(f"select * from {t} order by 1, 2").fetchall()
        assert [row[: len(before[t][0])] for row in after] == before[t] and len(after) == len(before[t])
    assert con.execute("select modality, stain from runs").fetchall() == [("", ""), ("", "")]
    con.close()

    run = store.run_detail(1)
    assert run["status"] == "completed" and run["params"] == {"x": 1} and run["modality"] == ""
    assert store.scores(1, "psnr") == {"t0": 18.5, "t1": 19.5} and store.scores(1, "ssim") == {"t0": 0.6, "t1": None}
    assert {s["metric"]: s["status"] for s in run["summaries"]} == {
        "psnr": "computed",
        "ssim": "computed",
        "lpips": "not computed",
    }
    assert store.get_run(2).error == "Traceback: boom"
    assert run["train_flops"] is None and run["curve"] == []  # schema 6: runs stored before have no curve
    new = new_run(store, modality="darkfield", stain="he")  # and it takes new runs
    assert (store.get_run(new).modality, store.get_run(new).stain) == ("darkfield", "he")
    point = dict(step=1, train_seconds=0.5, train_flops=2e9, metric="psnr", value=20.0, n=2, status="computed")
    store.finish_run(new, [], [], curve=[dict(point, reason=None)], train_flops=2e9)
    assert store.run_detail(new)["curve"] == [
        {"step": 1, "train_seconds": 0.5, "train_flops": 2e9, "metrics": {"psnr": 20.0}}
    ]
    Store(f"sqlite:///{path}")  # opening a migrated database again changes nothing


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("create table customers (id integer)")
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="not a vbench results database"):
        Store(f"sqlite:///{path}")


def test_parent_that_is_a_file_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"not-a-folder is a file, not a folder.*--db"):
        Store(f"sqlite:///{blocker / 'results.db'}")


def test_locked_database_gives_a_clear_error_and_loses_nothing(tmp_path):
    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}?timeout=0.2")
    run_id = new_run(store)
    locker = sqlite3.connect(path)
    locker.execute("begin exclusive")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            new_run(store)
    finally:
        locker.rollback()
        locker.close()
    assert [r.id for r in store.runs()] == [run_id]


def test_finish_run_is_one_transaction(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    run_id = new_run(store)

    def scores():
        yield ("psnr", "tile-1", 20.0)
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        store.finish_run(run_id, scores(), [{"metric": "psnr", "n": 1, "mean": 20.0}])
    run = store.get_run(run_id)
    assert run.status == "running"
    assert store.scores(run_id, "psnr") == {} and store.summaries([run_id]) == []


def test_env_var_selects_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_DB", f"sqlite:///{tmp_path / 'env.db'}")
    store = Store()
    assert store.path == tmp_path / "env.db" and (tmp_path / "env.db").exists()


def test_default_database_is_vbench_db_in_the_working_directory(tmp_path):
    store = Store()
    assert store.url == "sqlite:///vbench.db" and (tmp_path / "vbench.db").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_file_is_a_clear_error_and_is_never_modified(tmp_path, damage):
    path = tmp_path / "results.db"
    if damage == "garbage":
        path.write_bytes(b"\x00not sqlite\xff" * 400)
    else:
        store = Store(f"sqlite:///{path}")
        for i in range(20):  # enough rows to span several pages
            new_run(store, stainer=f"s{i}", run_key="k" * 60 + str(i))
        store.engine.dispose()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        Store(f"sqlite:///{path}").runs()
    message = str(info.value)
    assert str(path) in message and "did not modify it" in message and "--db" in message
    assert path.read_bytes() == before


def _rollback_journal_store(tmp_path) -> tuple[Store, Path]:
    """A vbench database back in SQLite's default journal, as before vbench's switch to WAL."""
    path = tmp_path / "shared.db"
    store = Store(f"sqlite:///{path}")
    new_run(store, stainer="kept")
    store.engine.dispose()
    with sqlite3.connect(path) as con:
        assert con.execute("pragma journal_mode=delete").fetchone() == ("delete",)
    return store, path


def test_the_switch_to_wal_waits_while_another_process_holds_the_write_lock(tmp_path):
    """SQLite refuses the switch at once (no busy wait) while another connection holds the write
    lock: six processes opening one new database together failed one in ten times under load."""
    import threading

    from vbench.store.schema import wal

    store, path = _rollback_journal_store(tmp_path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another sweep's schema check
    threading.Timer(0.4, other.execute, ["COMMIT"]).start()
    wal(store)
    other.close()
    with sqlite3.connect(path) as con:
        assert con.execute("pragma journal_mode").fetchone() == ("wal",)
    assert [r.stainer for r in store.runs()] == ["kept"]


def test_the_switch_to_wal_gives_up_with_the_lock_error_when_the_lock_is_kept(tmp_path):
    from sqlalchemy.exc import OperationalError

    from vbench.store.schema import wal

    store, path = _rollback_journal_store(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        wal(store, wait=0.3)
    other.execute("COMMIT")
    other.close()
    with sqlite3.connect(path) as con:  # nothing changed
        assert con.execute("pragma journal_mode").fetchone() == ("delete",)
    assert [r.stainer for r in store.runs()] == ["kept"]


def _open_at(url: str, start, errors) -> None:
    start.wait()
    try:
        Store(url)
    except Exception as exc:  # reported to the test, which names it
        errors.put(repr(exc))


@pytest.mark.slow
@pytest.mark.parametrize("old", [False, True], ids=["new", "schema-1"])
def test_processes_opening_one_database_at_once_create_or_migrate_it_once(tmp_path, old):
    """Two sweeps started together on a new (or old) database: one creates (migrates) it, the
    other waits for it and uses it. Before the schema lock, the second died with 'table
    vbench_meta already exists' ('duplicate column name' when migrating)."""
    import multiprocessing as mp

    path = tmp_path / "shared.db"
    if old:
        with sqlite3.connect(path) as con:
            con.executescript((Path(__file__).parent / "data" / "schema-v1.sql").read_text())
    ctx = mp.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_open_at, args=(f"sqlite:///{path}", start, errors)) for _ in range(6)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert failures == [] and all(p.exitcode == 0 for p in procs)
    con = sqlite3.connect(path)
    assert con.execute("select key, value from vbench_meta").fetchall() == [("schema_version", str(SCHEMA_VERSION))]
    assert con.execute("pragma journal_mode").fetchone() == ("wal",)
    con.close()
