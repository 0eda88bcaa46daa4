"""A leaderboard never fails on a stored row: rows written straight into the database with SQL (as
an older vbench or another tool could) are left out with a note naming the run, or read as not
computed; summaries stored without per-tile scores are not ranked beside rows that have them."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from sqlalchemy import create_engine, text

from vbench.cli import main
from vbench.plugins import load_plugins
from vbench.report import build_leaderboard
from vbench.report.html import page
from vbench.report.latex import latex
from vbench.report.render import markdown, to_json
from vbench.report.terminal import rich_tables
from vbench.store import Store


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def fill(store: Store, stainers=("method-a", "method-b"), seeds=(0, 1), tiles: bool = True) -> None:
    """Runs 1.. in order: (method-a, seed 0), (method-a, seed 1), (method-b, seed 0), ..."""
    for stainer in stainers:
        for seed in seeds:
            run_id = store.create_run(
                stainer=stainer,
                run_key=f"{stainer}{seed}",
                vbench_version="0",
                dataset="d",
                manifest_hash="m",
                seed=seed,
            )
            values = [20.0 + i + seed + 3 * (stainer == "method-b") for i in range(5)]
            store.finish_run(
                run_id,
                [("psnr", f"t{i}", v) for i, v in enumerate(values)] if tiles else [],
                [dict(metric="psnr", n=5, mean=sum(values) / 5, std=1.0, ci_low=21.0, ci_high=23.0)],
                train_seconds=2.0,
            )


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "t.db"
    store = Store(f"sqlite:///{path}")
    fill(store)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.engine.dispose()
    return path


def poisoned(template, tmp_path, *statements) -> Store:
    path = tmp_path / "p.db"
    shutil.copy(template, path)
    con = sqlite3.connect(path)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()
    return Store(f"sqlite:///{path}")


def rendered(boards) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for table in rich_tables(boards):
        console.print(table)
    return "\n".join([to_json(boards), markdown(boards), latex(boards), page(boards, links={}), console.export_text()])


LEFT_OUT = [
    ("seed", "'x'", "seed 'x' is not an integer"),
    ("seed", "x'ff'", "seed b'\\xff' is not an integer"),
    ("seed", "1.5", "seed 1.5 is not an integer"),
    ("params", "'{bad'", "params '{bad' is not a JSON object"),
    ("params", "'[1]'", "params '[1]' is not a JSON object"),
    ("hardware", "'['", "hardware '[' is not a JSON object"),
    ("tile_sources", "'[1'", "tile_sources '[1' is not a JSON object"),
    ("tile_sources", "'{\"t0\": 5}'", "does not name each tile's source as text"),
    ("train_seconds", "'fast'", "train_seconds 'fast' is not a number"),
    ("n_params", "'many'", "n_params 'many' is not a number"),
    ("train_flops", "'lots'", "train_flops 'lots' is not a number"),
    ("stainer", "x'00'", "stainer b'\\x00' is not text"),
    ("vbench_version", "x'ff'", "vbench_version b'\\xff' is not text"),
    ("ended_at", "'yesterday'", "ended_at 'yesterday' is not a timestamp"),
    ("started_at", "5", "started_at 5 is not a timestamp"),
]


@pytest.mark.parametrize("column, value, note", LEFT_OUT, ids=[f"{c}={v}" for c, v, _ in LEFT_OUT])
def test_a_run_the_board_cannot_use_is_left_out_with_a_note(template, tmp_path, plugins, column, value, note):
    store = poisoned(template, tmp_path, f"UPDATE runs SET {column} = {value} WHERE id = 1")
    (board,) = build_leaderboard(store, plugins=plugins)
    assert all(1 not in row["run_ids"] for row in board.rows)
    assert any(n.startswith("Run 1 is left out: its ") and n.endswith(f"{note}.") for n in board.excluded)
    text_out = rendered([board])
    assert "Run 1 is left out" in text_out


READ_AS_NOT_COMPUTED = [
    "UPDATE scores SET value = 'high' WHERE run_id = 1 AND tile = 't0'",
    "UPDATE scores SET value = 9e999 WHERE run_id = 1",
    "UPDATE summaries SET mean = 'high' WHERE run_id = 3",
    "UPDATE summaries SET mean = -9e999, ci_low = 'x' WHERE run_id = 3",
    "UPDATE runs SET train_seconds = 9e999, threads = 'x', external = 'maybe' WHERE id = 2",
    "UPDATE summaries SET higher_is_better = 'x', pipeline = x'00', n = 'n' WHERE run_id = 2",
    "UPDATE summaries SET metric = x'ff' WHERE run_id = 4",
]


@pytest.mark.parametrize("sql", READ_AS_NOT_COMPUTED)
def test_values_that_are_not_numbers_are_read_as_not_computed(template, tmp_path, plugins, sql):
    store = poisoned(template, tmp_path, sql)
    boards = build_leaderboard(store, plugins=plugins)
    assert {1, 2, 3, 4} <= {i for b in boards for row in b.rows for i in row["run_ids"]}
    assert rendered(boards)


def test_the_commands_survive_a_poisoned_database(template, tmp_path, capsys):
    store = poisoned(
        template,
        tmp_path,
        "UPDATE runs SET seed = 'x' WHERE id = 1",
        "UPDATE scores SET value = 'high' WHERE run_id = 2",
        "UPDATE summaries SET mean = 'high' WHERE run_id = 3",
        "UPDATE runs SET ended_at = 'yesterday' WHERE id = 4",
    )
    for args in (["leaderboard"], ["leaderboard", "-f", "md"], ["publish", str(tmp_path / "site"), "--no-figures"]):
        assert main([*args, "--db", store.url]) == 0, capsys.readouterr().err
    assert "Run 1 is left out" in (tmp_path / "site" / "README.md").read_text()
    capsys.readouterr()
    # `vbench runs` lists what it can read and names the rest; `vbench runs ID` of such a run is one line
    assert main(["runs", "--db", store.url]) == 0
    listed = capsys.readouterr()
    assert "Run 4 is left out: its ended_at 'yesterday' is not a timestamp" in listed.err
    assert "Run 1 is left out" in listed.err and "Traceback" not in listed.err
    assert main(["runs", "4", "--db", store.url]) == 2
    assert "Run 4 cannot be shown: its ended_at 'yesterday' is not a timestamp" in capsys.readouterr().err
    assert main(["runs", "2", "--db", store.url]) == 0
    capsys.readouterr()
    assert main(["compare", "2", "3", "--db", store.url]) == 0  # run 2's 'high' tile is left out
    assert "Traceback" not in capsys.readouterr().err


def test_summaries_without_per_tile_scores_are_not_ranked_beside_rows_with_them(template, tmp_path, plugins):
    store = poisoned(template, tmp_path, "DELETE FROM scores WHERE run_id = 3")
    (board,) = build_leaderboard(store, plugins=plugins)
    row = next(r for r in board.rows if r["stainer"] == "method-b")
    assert "psnr" not in row["metrics"] and row["rank"] is None
    assert "without per-tile scores" in row["not_computed"]["psnr"]
    note = next(n for n in board.excluded if n.startswith("psnr of method-b"))
    assert "(runs 3, 4)" in note and "not ranked beside rows that have them" in note
    assert note in markdown([board])


def test_a_board_where_no_row_has_per_tile_scores_ranks_them_all(tmp_path, plugins):
    """A figure every run stores as one number (a distribution metric) ranks as before."""
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    fill(store, tiles=False)
    (board,) = build_leaderboard(store, plugins=plugins)
    assert [r["rank"] for r in board.rows] == [1, 2] and not board.excluded


@pytest.mark.slow
def test_bad_stored_values_on_postgresql(pg_url, plugins, tmp_path):
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS stored_rows"))
        conn.execute(text("CREATE DATABASE stored_rows"))
    admin.dispose()
    store = Store(pg_url.rsplit("/", 1)[0] + "/stored_rows")
    fill(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE summaries SET mean = 'NaN', std = 'Infinity' WHERE run_id = 3")
        conn.exec_driver_sql("UPDATE scores SET value = 'Infinity' WHERE run_id = 1 AND tile = 't0'")
        conn.exec_driver_sql("UPDATE scores SET value = 'NaN' WHERE run_id = 2 AND tile = 't1'")
        conn.exec_driver_sql("UPDATE runs SET train_seconds = 'NaN', params = '{bad' WHERE id = 4")
    boards = build_leaderboard(store, plugins=plugins)
    assert rendered(boards)
    (board,) = boards
    assert "Run 4 is left out: its params '{bad' is not a JSON object." in board.excluded
    row = next(r for r in board.rows if r["stainer"] == "method-b")
    assert "psnr" not in row["metrics"]  # NaN mean: not computed
    assert main(["publish", str(tmp_path / "site"), "--db", store.url, "--no-figures"]) == 0
    store.engine.dispose()


def test_export_leaves_out_a_run_it_cannot_read_and_the_rest_imports(template, tmp_path, capsys):
    store = poisoned(
        template,
        tmp_path,
        "UPDATE runs SET ended_at = 'yesterday' WHERE id = 1",
        "UPDATE scores SET value = 'high' WHERE run_id = 2 AND tile = 't0'",
    )
    path = tmp_path / "r.jsonl"
    assert main(["export", "-o", str(path), "--db", store.url]) == 0
    captured = capsys.readouterr()
    assert "exported 3 completed run(s)" in captured.out
    assert "left out: Run 1 is left out: its ended_at 'yesterday' is not a timestamp." in " ".join(captured.err.split())
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert main(["import", str(path), "--db", target]) == 0
    assert sorted(r.seed for r in Store(target).runs()) == [0, 1, 1]


def test_a_name_longer_than_its_column_is_left_out(template, tmp_path, plugins):
    """SQLite keeps a 200,000-character stainer name another tool wrote; an import would refuse it,
    and a board leaves its run out rather than render it."""
    store = poisoned(template, tmp_path, "UPDATE runs SET stainer = printf('%.*c', 200000, 'a') WHERE id = 1")
    (board,) = build_leaderboard(store, plugins=plugins)
    assert "Run 1 is left out: its stainer is 200,000 characters long (at most 128)." in board.excluded
