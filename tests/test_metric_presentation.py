"""A metric declares how it is presented (unit, display name, rank priority; a third-party
metric's in every format: tests/test_third_party.py): a board's JSON written before metrics
declared it still renders, and the core holds no list of the bundled metrics' names."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

from rich.console import Console

from vbench.report.leaderboard import Board
from vbench.report.publish import README_NAME, render_files
from vbench.report.terminal import rich_tables

REPO = Path(__file__).resolve().parent.parent


def test_a_leaderboard_json_without_presentation_still_renders():
    """Boards published before metrics declared a unit: unitless, under the metric's name."""
    old = {
        "dataset": "d",
        "manifest_hash": "m",
        "metrics": {"psnr": {"higher_is_better": True, "pipeline": "p"}},
        "hidden": {},
        "rows": [
            {
                "stainer": "a",
                "preset": "",
                "label": "a",
                "external": False,
                "params": {},
                "seeds": [0],
                "run_ids": [1],
                "truncated": False,
                "metrics": {"psnr": {"mean": 20.0, "ci_low": 19.0, "ci_high": 21.0, "n": 4, "n_seeds": 1}},
                "not_computed": {},
                "samples": {},
                "rank": 1,
                "tied": False,
            }
        ],
        "primary_metric": "psnr",
    }
    board = Board.from_dict(old)
    assert board.metrics["psnr"] == {
        "higher_is_better": True,
        "pipeline": "p",
        "unit": "",
        "display_name": "psnr",
        "rank_priority": None,
    }
    files = render_files([old])
    assert "| psnr ↑ mean \\[95% CI\\] |" in files[README_NAME]
    console = Console(file=io.StringIO(), width=80, markup=False)
    for table in rich_tables([board]):
        console.print(table)
    assert "20.0 ±1.0" in console.file.getvalue()


def _bundled_metric_names() -> set[str]:
    from vbench_plugins.metrics import METRICS
    from vbench_plugins.pyiqa_metrics.zoo import DEFAULT_FOR, RENAMED

    return {m.name for m in METRICS} | set(RENAMED) | set(RENAMED.values()) | set(DEFAULT_FOR)


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_the_core_names_no_bundled_metric():
    """Units, display names and the ranking preference come from the metrics themselves: no
    string in vbench/'s code (docstrings and comments aside) names a bundled metric."""
    names = _bundled_metric_names()
    assert {"psnr", "ssim", "ciede2000", "stain-mae", "psnr@reg", "pyiqa-psnr", "lpips", "fid"} <= names
    pattern = re.compile(
        r"(?<![\w@-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w@-])"
    )
    found = []
    for path in sorted((REPO / "vbench").rglob("*.py")):
        tree = ast.parse(path.read_text())
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                hit = pattern.search(node.value)
                if hit:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {hit.group(1)!r} in {node.value[:60]!r}")
    assert not found, "the core names bundled metrics:\n" + "\n".join(found)
