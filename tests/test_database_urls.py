"""`--db` URLs: an unknown scheme or a missing driver is a one-line error; a SQLite `file:` URI
opens read-only without creating anything; and a URL's password leaves nowhere: no output, error
message, stored field, exported or published file (on an unreachable server and on a live one)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vbench.cli import main
from vbench.errors import StoreError
from vbench.store import Store, display_url

SECRET = "Sup3rSecretPW"
UNREACHABLE = [
    f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x",
    f"postgresql+psycopg://u@127.0.0.1:1/x?password={SECRET}",
    f"postgresql+psycopg://u:{SECRET}@127.0.0.1:notaport/x",
]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_display_url_hides_the_password_in_the_url_and_its_query():
    assert display_url(f"postgresql+psycopg://u:{SECRET}@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert display_url(f"postgresql://u@h/db?sslmode=require&password={SECRET}") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )
    assert display_url(f"x://u:{SECRET}@h:port/d?PWD={SECRET}") == "x://u:***@h:port/d?PWD=***"  # not parsable
    assert display_url("sqlite:///file:results.db?mode=ro&uri=true") == "sqlite:///file:results.db?mode=ro&uri=true"


@pytest.mark.parametrize(
    "command, url",
    [
        *[(c, UNREACHABLE[0]) for c in (["runs"], ["runs", "--json"], ["leaderboard"], ["publish", "site"])],
        *[(c, UNREACHABLE[0]) for c in (["export", "-o", "out.jsonl"], ["import", "in.jsonl"])],
        (["run", "-s", "baseline-mean", "-d", "qpi-ihc"], UNREACHABLE[0]),
        (["runs"], UNREACHABLE[1]),
        (["runs"], UNREACHABLE[2]),
    ],
)
def test_an_unreachable_servers_password_is_in_no_message(capsys, tmp_path, url, command):
    (tmp_path / "in.jsonl").write_text("")
    code, out, err = cli(capsys, *command, "--db", url)
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert SECRET not in out + err and "***" in err, err
    assert not (tmp_path / "site").exists() and not (tmp_path / "out.jsonl").exists()


def test_an_unknown_scheme_or_a_missing_driver_is_one_line(capsys, tmp_path):
    code, _, err = cli(capsys, "runs", "--db", "nosuchdb://x/y")
    assert code == 2 and "unknown database scheme 'nosuchdb' in nosuchdb://x/y: use sqlite:///PATH or postgresql" in err
    assert "Traceback" not in err and "NoSuchModuleError" not in err
    code, _, err = cli(capsys, "runs", "--db", f"mysql://u:{SECRET}@h/db")
    assert code == 2 and "the driver of 'mysql' is not installed (No module named" in err and SECRET not in err
    code, _, err = cli(capsys, "runs", "--db", "sqlite:///x.db?timeout=abc")
    assert code == 2 and "cannot use the database URL sqlite:///x.db?timeout=abc" in err


def test_a_sqlite_uri_opens_read_only_and_creates_nothing(capsys, tmp_path):
    ro = "sqlite:///file:sub/results.db?mode=ro&uri=true"
    code, _, err = cli(capsys, "runs", "--db", ro)
    assert code == 2 and "cannot open the results database sub/results.db" in err
    assert not [p for p in tmp_path.iterdir() if p.name in ("sub", "file:sub")]  # no stray folder
    store = Store("sqlite:///sub/results.db")
    store.create_run(stainer="a", run_key="k", vbench_version="0", dataset="d", seed=0)
    store.engine.dispose()
    code, out, err = cli(capsys, "runs", "--db", ro)
    assert code == 0 and "runs in sqlite:///file:sub/results.db?mode=ro&uri=true" in " ".join(out.split())
    assert Store(ro).path == Path("sub/results.db")
    with pytest.raises(
        StoreError, match="cannot write the results database sub/results.db: attempt to write a readonly"
    ):
        Store(ro).create_run(stainer="b", run_key="k2", vbench_version="0", dataset="d", seed=0)


def test_a_leaderboard_json_with_a_password_in_its_provenance_does_not_publish_it():
    """A board read back from JSON (`publish --from-json`) renders its provenance line through the
    same rendering: a URL with a password from someone else's file is shown hidden."""
    from types import SimpleNamespace

    from vbench.report.formatting import provenance_line

    board = SimpleNamespace(provenance={"database": f"postgresql://u:{SECRET}@h/db"}, hardware=[])
    assert SECRET not in provenance_line(board) and "postgresql://u:***@h/db" in provenance_line(board)


def everything_stored(url: str) -> str:
    """Every column of every row of every table, as text."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    with engine.connect() as conn:
        dump = [
            str(row)
            for table in inspect(conn).get_table_names()
            for row in conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608 - our own table names
        ]
    engine.dispose()
    return "\n".join(dump)


def every_file(folder: Path) -> str:
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        parts.append((gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.slow
def test_a_live_servers_password_leaves_nowhere(pg_url, capsys, tmp_path):
    """A role with a password on the live server: every command that takes --db, in its normal
    output, its files and what it stores."""
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE lab LOGIN SUPERUSER PASSWORD '{SECRET}'"))
        conn.execute(text("CREATE DATABASE secrets_a OWNER lab"))
        conn.execute(text("CREATE DATABASE secrets_b OWNER lab"))
    admin.dispose()
    host = pg_url.split("@", 1)[1].rsplit("/", 1)[0]
    url_a, url_b = (f"postgresql+psycopg://lab:{SECRET}@{host}/secrets_{x}" for x in "ab")
    export = tmp_path / "runs.jsonl.gz"
    outputs = []
    for args in (
        ["run", "-s", "baseline-mean", "-d", "qpi-ihc", "-m", "psnr", "--no-isolate", "--db", url_a],
        ["runs", "--db", url_a],
        ["runs", "1", "--db", url_a],
        ["runs", "--json", "--db", url_a],
        ["leaderboard", "--db", url_a],
        ["leaderboard", "-f", "json", "--db", url_a],
        ["leaderboard", "-f", "md", "--db", url_a],
        ["export", "-o", export, "--db", url_a],
        ["import", export, "--db", url_b],
        ["publish", tmp_path / "site", "--no-figures", "--db", url_b],
    ):
        code, out, err = cli(capsys, *args)
        assert code == 0, (args, err)
        outputs.append(out + err)
    shown = "\n".join(outputs)
    assert SECRET not in shown and f"lab:***@{host}/secrets_a" in shown
    assert "database postgresql+psycopg://lab:***@" in every_file(tmp_path / "site")  # the provenance line
    for place in (every_file(tmp_path), everything_stored(url_a), everything_stored(url_b)):
        assert SECRET not in place
    assert json.loads(gzip.decompress(export.read_bytes()).splitlines()[0])  # the export was read above
