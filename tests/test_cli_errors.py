"""What a user sees when something goes wrong: usage errors, a failing run, and plugin text that
looks like Rich markup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from vbench.cli import main


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["leaderboard-typo"], "No such command 'leaderboard-typo'"),
        (["publish"], "Missing argument"),
        (["pubish", "out/"], "No such command 'pubish'"),
        (["runs", "--bogus"], "No such option: --bogus"),
        (["run", "--seed", "abc"], "Invalid value for '--seed'"),
        (["compare", "1"], "Missing argument"),
        (["datasets", "show"], "Missing argument"),
    ],
)
def test_usage_errors_print_one_usage_message_and_exit_2(capsys, args, message):
    code, out, err = cli(capsys, *args)
    assert code == 2, (typer.__version__, err)
    assert message in err and err.count("Usage: vbench") == 1
    assert "Traceback" not in out + err


def test_the_installed_command_reports_a_typo_without_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("vbench")
    proc = subprocess.run([str(exe), "no-such-command"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "No such command 'no-such-command'" in proc.stderr and "Traceback" not in proc.stderr


FAILING = '''
import vbench

class Broken(vbench.Stainer):
    """Fails in fit with text that looks like Rich markup."""
    name = "broken"
    pairings = {"paired"}

    def fit(self, train, ctx):
        raise ValueError("bad value [/x] in [bold] channel [word]")

    def predict(self, inputs):
        return inputs

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Broken)
'''


def test_a_failing_run_exits_1_and_its_text_is_printed_as_written(capsys, monkeypatch, plugin_module, tmp_path):
    import vbench.cli.results as results
    from vbench.plugins import load_plugins

    name = plugin_module(FAILING)
    monkeypatch.setattr(results, "loaded_plugins", lambda: load_plugins(extra=[name]))
    db = f"sqlite:///{tmp_path / 'fail.db'}"
    code, _, err = cli(capsys, "run", "-s", "broken", "-d", "qpi-ihc", "-m", "psnr", "--db", db, "--no-isolate", "-q")
    assert code == 1
    flat = " ".join(err.split())
    assert "failed run 1 broken on qpi-ihc seed 0" in flat
    assert "bad value [/x] in [bold] channel [word]" in flat and "Traceback" not in err

    code, out, _ = cli(capsys, "runs", "1", "--db", db)
    assert code == 0
    assert "failed" in out and "ValueError: bad value [/x] in [bold] channel [word]" in out
    assert "Traceback (most recent call last)" in out  # the stored traceback, shown in full
    code, out, _ = cli(capsys, "runs", "--db", db)
    assert "stainer 'broken' raised in fit" in " ".join(out.split())


def test_error_messages_with_markup_characters_are_printed_verbatim(capsys, tmp_path):
    # A user's own file name is part of the message; Rich must not read it as markup.
    db = tmp_path / "[/red]" / "x.db"
    db.parent.parent.mkdir(exist_ok=True)
    (tmp_path / "[/red]").write_text("")
    code, _, err = cli(capsys, "runs", "--db", f"sqlite:///{db}")
    assert code == 2 and "[/red] is a file, not a folder" in " ".join(err.split())
