"""The terminal leaderboard fits the terminal: one line per row at 80 and 120 columns, to a terminal
or redirected, the ranking metric first with compact intervals; ``-m`` picks the columns and
``--all-metrics`` shows every one (in further tables of the same rows when they do not fit)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from vbench.cli import main
from vbench.report import build_leaderboard
from vbench.report.terminal import rich_tables
from vbench.stats import summarize
from vbench.store import Store

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# name -> (higher is better, mean, spread), as `make demo` stores them
METRICS = {
    "psnr": (True, 19.4, 1.0),
    "ssim": (True, 0.5, 0.06),
    "ciede2000": (False, 9.3, 1.1),
    "niqe": (False, 7.6, 1.2),
    "niqe-stain": (False, 36.1, 3.5),
    "stain-corr": (True, 0.69, 0.05),
    "stain-mae": (False, 0.075, 0.01),
}
STAINERS = [
    ("bbdm", "quick[steps=250]"),
    ("baseline-colormap", ""),
    ("baseline-linear", ""),
    ("a-method-whose-name-is-long-enough-to-matter", "quick"),
]


def make_store(path) -> Store:
    store = Store(f"sqlite:///{path / 'demo.db'}")
    rng = np.random.default_rng(0)
    for i, (stainer, preset) in enumerate(STAINERS):
        run_id = store.create_run(
            stainer=stainer,
            preset=preset,
            params={},
            vbench_version="0",
            run_key=f"k{i}",
            dataset="af-he-x4",
            manifest_hash="m",
            seed=0,
            device="cpu",
            hardware={"cpu": "Test CPU"},
        )
        tiles, summaries = [], []
        for name, (higher, mean, spread) in METRICS.items():
            values = list(mean * (1 + 0.05 * i) + spread * rng.standard_normal(14))
            tiles += [(name, f"t{t}", float(v)) for t, v in enumerate(values)]
            summaries.append(
                dict(metric=name, higher_is_better=higher, pipeline="p", status="computed", **summarize(values))
            )
        store.finish_run(run_id, tiles, summaries, train_seconds=105.8 / (i + 1), infer_ms_p50=2297.5 / (i + 1))
    return store


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path)


def draw(boards, width: int, terminal: bool, **options) -> str:
    """What the console prints: to a terminal (with colour codes, stripped here) or to a file."""
    console = Console(file=io.StringIO(), width=width, markup=False, force_terminal=terminal)
    assert console.is_terminal is terminal
    for table in rich_tables(boards, **options):
        console.print(table)
    return ANSI.sub("", console.file.getvalue())


def tables(text: str) -> list[tuple[str, list[str]]]:
    """(heading lines, body lines) of every table printed: the body is the lines after the rule
    under the heading that start with a rank."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) == {"─"}:
            start = max(j for j in range(i) if " — " in lines[j]) + 1  # the title
            body = []
            for row in lines[i + 1 :]:
                if not re.match(r"^\s*(=?\d+|-)\s\s", row):
                    break
                body.append(row)
            found.append(("\n".join(lines[start:i]), body))
    return found


def check_one_line_per_row(text: str, width: int, n_tables: int | None = None) -> list[tuple[str, list[str]]]:
    found = tables(text)
    assert found and (n_tables is None or len(found) == n_tables), text
    for heading, body in found:
        assert "rank" in heading and "stainer" in heading, heading
        assert len(body) == len(STAINERS), text  # no cell wraps onto a second line
        for (stainer, _), line in zip(sorted(STAINERS), sorted(body, key=lambda r: r.split()[1])):
            assert stainer[:12] in line, line
    assert all(cell_len(line) <= width for line in text.splitlines()), text
    return found


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "redirected"])
@pytest.mark.parametrize("width", [80, 120])
def test_the_default_table_is_one_line_per_row(store, width, terminal):
    (board,) = build_leaderboard(store)
    text = draw([board], width, terminal)
    ((heading, body),) = check_one_line_per_row(text, width, n_tables=1)
    assert "af-he-x4 — ranked by psnr" in text
    assert "psnr dB ↑" in heading and "ssim ↑" in heading and "train s" in heading and "ms/tile" in heading
    shown = [m for m in METRICS if re.search(rf"(?<![\w-]){m}(?![\w-])", heading)]
    assert shown[:2] == ["psnr", "ssim"] and len(shown) <= 4  # the ranking metric, then the preferred
    assert len(shown) == (2 if width == 80 else 4)
    assert heading.index("psnr") < heading.index("ssim")
    for line in body:
        assert len(re.findall(r"\d ±\d", line)) == len(shown), line  # compact intervals: 18.44 ±0.21
    assert "Not shown: " + ", ".join(m for m in METRICS if m not in shown) in " ".join(text.split())
    assert "--all-metrics shows every one" in " ".join(text.split())


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "redirected"])
@pytest.mark.parametrize("width", [80, 120])
def test_all_metrics_continue_in_further_tables_never_wrapped(store, width, terminal):
    (board,) = build_leaderboard(store)
    text = draw([board], width, terminal, all_metrics=True)
    found = check_one_line_per_row(text, width)
    assert len(found) > 1 and "(continued)" in text
    headings = " ".join(h for h, _ in found)
    for m in METRICS:
        assert re.search(rf"(?<![\w-]){m}(?![\w-])", headings), m
    assert sum(len(re.findall(r"\d ±\d", line)) for _, body in found for line in body) == len(METRICS) * len(STAINERS)
    assert "Not shown" not in text


def test_chosen_metrics_are_the_columns(store):
    (board,) = build_leaderboard(store)
    text = draw([board], 120, False, metrics=["stain-mae"])
    ((heading, _),) = check_one_line_per_row(text, 120, n_tables=1)
    assert "psnr dB ↑" in heading and "stain-mae OD ↓" in heading  # the ranking metric stays first
    assert "ssim" not in heading and "ciede2000" not in heading
    (board,) = build_leaderboard(store, metrics=["ciede2000", "ssim"])
    text = draw([board], 80, True, metrics=["ciede2000", "ssim"])
    ((heading, _),) = check_one_line_per_row(text, 80, n_tables=1)
    assert "ranked by ciede2000" in text and "psnr" not in heading
    assert heading.index("ciede2000") < heading.index("ssim") and "ΔE00 ↓" in heading


def test_a_narrow_terminal_shortens_names_not_numbers(store):
    (board,) = build_leaderboard(store)
    text = draw([board], 60, True)
    ((heading, body),) = tables(text)
    assert len(body) == len(STAINERS) and all(cell_len(line) <= 60 for line in text.splitlines())
    assert any("…" in line for line in body)  # the long stainer name, shortened
    assert all(re.search(r"\d+\.\d+ ±\d\.\d+", line) for line in body)


def vbench(*args, columns: int) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("vbench")
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("width", [80, 120])
def test_the_cli_table_fits_columns_when_redirected(store, width):
    shown = vbench("leaderboard", "--db", store.url, columns=width)
    assert shown.returncode == 0, shown.stderr
    ((heading, _),) = check_one_line_per_row(shown.stdout, width, n_tables=1)
    assert "psnr dB ↑" in heading
    every = vbench("leaderboard", "--db", store.url, "--all-metrics", columns=width)
    assert every.returncode == 0, every.stderr
    headings = " ".join(h for h, _ in check_one_line_per_row(every.stdout, width))
    assert all(re.search(rf"(?<![\w-]){m}(?![\w-])", headings) for m in METRICS), every.stdout


def test_an_unknown_metric_names_it_and_the_stored_ones(store, capsys):
    assert main(["leaderboard", "--db", store.url, "-m", "psnrr"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no run stores metric 'psnrr'. Did you mean 'psnr'" in err
    assert "Metrics stored: ciede2000, niqe, niqe-stain, psnr, ssim, stain-corr, stain-mae." in err
    assert "Traceback" not in err
