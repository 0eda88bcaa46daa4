"""Every command shows the control and format characters of user, plugin and stored text as escapes:
a stainer, dataset, metric, asset or plugin named with a terminal escape sequence or a bidi override
is printed as ``\\x1b[31m`` and ``\\u202e``, never raw, in tables, messages, errors and warnings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.text import Text

from vbench.cli import main
from vbench.console import SafeConsole, safe_text
from vbench.report.escape import plain
from vbench.stats import summarize
from vbench.store import Store
from vbench.visible import lines

NAME = "\x1b[31mred\x1b[0m\u202egnp.exe"
SHOWN = "\\x1b[31mred\\x1b[0m\\u202egnp.exe"
# raw characters that must never reach the terminal: ESC, bidi overrides and isolates, other Cc/Cf
RAW = ["\x1b", "\x07", "\x00", "\r", "\u202a", "\u202e", "\u2066", "\u2069", "\u200f", "\u200b", "\ufeff", "\u2028"]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_inert(*texts: str) -> None:
    for text in texts:
        for ch in RAW:
            assert ch not in text, (ch, text)


def flat(text: str) -> str:
    return "".join(text.split())


def test_the_rule_escapes_every_control_and_format_character_and_keeps_lines():
    raw = "a\x1b[1mb\nc\td\re\u202ef\u2066g\u200bh\U000e0041"
    assert lines(raw) == "a\\x1b[1mb\nc\td\\x0de\\u202ef\\u2066g\\u200bh\\U000e0041"
    assert plain("a\nb\tc\u2028d\udcff") == "a b c\\u2028d\\udcff"  # a lone surrogate (undecodable file name)
    assert lines("Müller—é😀 [x] :smile:") == "Müller—é😀 [x] :smile:"  # printable text unchanged
    styled = Text.assemble(("\x1b", "red"), "ok\u202e", ("x", "bold"))
    safe = safe_text(styled)
    assert safe.plain == "\\x1bok\\u202ex"
    assert [(s.start, s.end, str(s.style)) for s in safe.spans] == [(0, 4, "red"), (12, 13, "bold")]


def test_the_console_escapes_strings_texts_and_table_cells(capsys):
    from rich.table import Table

    console = SafeConsole(markup=False, width=200)
    t = Table(title=NAME)
    t.add_column(NAME)
    t.add_row(NAME)
    t.add_row(Text(NAME, style="red"))
    console.print(t)
    console.print(NAME, style="yellow")
    console.print(Text.assemble(("error:", "red"), " ", NAME))
    printed = capsys.readouterr().out
    assert_inert(printed)
    assert printed.count(SHOWN) == 6  # title, heading, two cells, the string, the message


@pytest.fixture
def hostile_db(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    ids = []
    for seed in (0, 1):
        rid = store.create_run(
            stainer=NAME,
            preset="quick\u2066",
            params={"k\x1b": NAME},
            run_key=f"k{seed}",
            vbench_version="0",
            dataset="ds\u202e",
            manifest_hash="m",
            seed=seed,
        )
        values = {f"t{i}": 20.0 + i + seed for i in range(6)}
        summary = dict(
            metric="psnr\x1b[2J",
            status="computed",
            reason=None,
            higher_is_better=True,
            pipeline="pipe\u202e",
            **summarize(values.values()),
        )
        store.finish_run(rid, [("psnr\x1b[2J", t, v) for t, v in values.items()], [summary])
        ids.append(rid)
    failed = store.create_run(
        stainer=NAME, run_key="k9", vbench_version="0", dataset="ds\u202e", manifest_hash="m", seed=9
    )
    store.end_run(failed, "failed", f"ValueError: bad {NAME}\nline two")
    return store.url, ids, failed


def test_runs_and_runs_id_show_escapes(capsys, hostile_db):
    db, (a, b), failed = hostile_db
    code, out, err = cli(capsys, "runs", "--db", db)
    assert code == 0, err
    assert_inert(out, err)
    assert SHOWN in out and "ds\\u202e" in out and "ValueError: bad" in out
    for rid in (a, failed):
        code, out, err = cli(capsys, "runs", rid, "--db", db)
        assert code == 0, err
        assert_inert(out, err)
        assert SHOWN in flat(out)
    assert "line two" in out  # the stored error keeps its lines
    code, out, _ = cli(capsys, "runs", "--db", db, "--json")
    assert_inert(out)
    assert {r["stainer"] for r in json.loads(out)} == {NAME}  # JSON keeps the name exact, as \u escapes


def test_compare_shows_escapes(capsys, hostile_db):
    db, (a, b), _ = hostile_db
    code, out, err = cli(capsys, "compare", a, b, "--db", db)
    assert code == 0, err
    assert_inert(out, err)
    assert SHOWN in flat(out) and "psnr\\x1b[2J" in out
    code, out, err = cli(capsys, "compare", f"{NAME}:quick\u2066", "nothing", "--db", db)
    assert code == 2
    assert_inert(out, err)
    assert "quick\\u2066" in err


def test_the_leaderboard_in_every_printed_format_shows_escapes(capsys, hostile_db):
    db = hostile_db[0]
    for fmt in ("table", "md", "csv", "latex", "json"):
        code, out, err = cli(capsys, "leaderboard", "--db", db, "-f", fmt)
        assert code == 0, err
        assert_inert(out, err)
    assert {r["stainer"] for r in json.loads(out)[0]["rows"]} == {NAME}  # JSON: the same data, as \u escapes


PLUGIN = """
import torch
import vbench
from vbench.assets import Asset

NAME = {name!r}


class Hostile(vbench.Dataset):
    name = "ds-" + NAME
    task = "gray->rgb " + NAME
    pairing = "paired"
    scale = 1
    in_channels = 1
    modality = "phase" + NAME
    stain = "he" + NAME
    description = "described " + NAME

    def load(self, split):
        return [vbench.Sample(id="t0", input=torch.zeros(1, 8, 8), target=torch.zeros(3, 8, 8))]


class HostileMetric(vbench.ImageMetric):
    name = "m-" + NAME
    kind = "no-reference"
    pipeline = "pipeline " + NAME
    assets = (Asset("asset-" + NAME, "file.bin", "desc " + NAME, sources=("https://example.org/" + NAME,)),)

    def score(self, pred, ref):
        return pred.flatten(1).mean(1)


@vbench.hookimpl
def vbench_register_datasets(register):
    register(Hostile)


@vbench.hookimpl
def vbench_register_metrics(register):
    register(HostileMetric)
"""

BROKEN = """
import vbench

@vbench.hookimpl
def vbench_register_metrics(register):
    raise RuntimeError({name!r})
"""


@pytest.fixture
def hostile_plugins(plugin_module, monkeypatch):
    import vbench.plugins

    names = [plugin_module(PLUGIN.format(name=NAME)), plugin_module(BROKEN.format(name="broken " + NAME))]
    real = vbench.plugins.load_plugins
    monkeypatch.setattr(vbench.plugins, "load_plugins", lambda *a, **k: real(extra=names))
    return names


@pytest.mark.parametrize(
    "args",
    [
        ("datasets", "list"),
        ("datasets", "show", f"ds-{NAME}"),
        ("metrics", "list"),
        ("metrics", "list", "-f", "csv"),
        ("metrics", "list", "-f", "json"),
        ("plugins",),
        ("assets", "status"),
        ("assets", "status", "-f", "json"),
    ],
)
def test_plugin_text_is_shown_as_escapes_by_every_listing(capsys, hostile_plugins, args):
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert_inert(out, err)
    assert "broken" + SHOWN in flat(err)  # the broken plugin's warning
    if args[-1] != "json":  # (a narrow table column folds the name: its escapes are each seen)
        assert "\\x1b[31m" in out and "\\u202e" in out


def test_errors_and_usage_errors_show_the_typed_value_as_escapes(capsys, hostile_plugins):
    code, out, err = cli(capsys, "datasets", "show", NAME)
    assert code == 2 and "unknown dataset" in err
    assert_inert(out, err)
    assert SHOWN in flat(err)
    for args in (["leaderboard", "-f", NAME], [NAME], [f"--x{NAME}"], ["runs", NAME]):
        code, out, err = cli(capsys, *args)
        assert code == 2
        assert_inert(out, err)


def test_log_lines_and_warnings_show_hidden_characters_as_escapes():
    """What a plugin logs (a stainer's ``ctx.logger``) or warns reaches the terminal through Python's
    handler of last resort and warning display: `vbench` and its run workers escape both."""
    code = (
        "import logging, warnings; from vbench.console import show_logs_visibly; show_logs_visibly(); "
        "logging.getLogger('vbench.stainer.x').warning('log \\x1b[31mred\\u202e'); "
        "warnings.warn('warn \\x1b[2J\\u202e')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr and "\u202e" not in done.stderr, repr(done.stderr)
    assert "log \\x1b[31mred\\u202e" in done.stderr and "warn \\x1b[2J\\u202e" in done.stderr, done.stderr
