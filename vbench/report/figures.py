"""Figures of a leaderboard, per board (dataset and manifest), as PNG and SVG (matplotlib):

- ``grid``: input | each method | target for the same test tiles, cut out of each run's sample grid
  (``samples.png`` and its layout ``samples.json``; the runner draws the first test tiles, so every
  method shows the same ones);
- ``pareto``: quality against latency (the computed metric with the lowest ``rank_priority``, else
  the ranking metric, against inference ms/tile on a log axis) with the 95% intervals and the
  Pareto front;
- ``scores``: the distribution of the per-tile scores of each method (all seeds pooled), as boxes;
- ``compute``: test quality against training FLOPs per method, validation curves faint
  (:mod:`.compute_figure`).

Text from plugins and users is shown as written: control characters made visible and ``$`` kept
from starting matplotlib's mathtext.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from . import formatting
from .compute_figure import draw_compute
from .plotting import axis_label, new_figure, quality_metric, text

__all__ = ["KINDS", "CAPTIONS", "write_figures", "axis_label", "new_figure", "quality_metric", "text", "slug"]

GRID_TILES = 3
CELL_IN, DPI = 1.5, 110  # a grid cell's size in inches, and the PNG's resolution
KINDS = ("grid", "pareto", "scores", "compute")
CAPTIONS = {
    "grid": "input | each method | target, the same test tiles",
    "pareto": "quality vs latency, Pareto front",
    "scores": "per-tile scores",
    "compute": "test quality vs training compute (faint: validation curves)",
}


def slug(board) -> str:
    """A file stem for a board: readable, safe on every file system, unique per dataset+manifest."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", board.dataset).strip("._")[:40] or "dataset"
    digest = hashlib.sha256(formatting.section_key(board).encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def write_figures(store, boards, out_dir: Path, prefix: str = "") -> list[Path]:
    """Writes every figure a board has data for into ``out_dir`` and records them on the board
    (``board.figures``, paths as ``prefix`` + file name). Returns the files written."""
    from matplotlib import rc_context

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    # fixed ids and no dates, so the same results give the same files
    with rc_context({"svg.hashsalt": "vbench", "svg.fonttype": "path", "font.size": 9}):
        for board in boards:
            board.figures = []
            for kind, draw in (("grid", _grid), ("pareto", _pareto), ("scores", _scores), ("compute", draw_compute)):
                fig = draw(store, board)
                if fig is None:
                    continue
                stem = f"{slug(board)}-{kind}"
                for ext in ("png", "svg"):
                    path = out_dir / f"{stem}.{ext}"
                    fig.savefig(
                        path,
                        dpi=DPI,
                        bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else {"Software": None},
                    )
                    written.append(path)
                board.figures.append(
                    {
                        "kind": kind,
                        "path": f"{prefix}{stem}.png",
                        "svg": f"{prefix}{stem}.svg",
                        "caption": CAPTIONS[kind],
                    }
                )
    return written


# --- qualitative grid ---------------------------------------------------------------------------


def _samples(run) -> tuple | None:
    """(image array, {tile: {kind: box}}, tile order) of a run's sample grid, or None."""
    if run is None or not run.artifacts:
        return None
    folder = Path(run.artifacts)
    image = folder / "samples.png"
    if not image.is_file():
        return None
    import numpy as np

    from ..images import ImageInputError, open_pil

    try:
        with open_pil(image) as img:  # the pixel limit: a run's artifacts may come from an imported file
            arr = np.asarray(img.convert("RGB"))
    except (OSError, ImageInputError):
        return None
    try:
        layout = json.loads((folder / "samples.json").read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        layout = _infer_layout(arr, run.n_test_tiles)
    if not layout:
        return None
    boxes = {r["tile"]: r["cells"] for r in layout}
    return arr, boxes, [r["tile"] for r in layout]


def _infer_layout(arr, n_tiles) -> list:
    """Sample grids written before samples.json: square cells, 4 px padding, one row per tile."""
    from ..run.sample_grid import PAD

    rows = min(4, n_tiles or 4)
    cell = (arr.shape[0] - PAD) // rows - PAD
    if cell <= 0:
        return []
    ncol = (arr.shape[1] - PAD) // (cell + PAD)
    kinds = ["input", "output", "target", "truth"][:ncol]
    return [
        {
            "tile": f"#{i}",
            "cells": {k: [PAD + i * (cell + PAD), PAD + j * (cell + PAD), cell, cell] for j, k in enumerate(kinds)},
        }
        for i in range(rows)
    ]


def _cut(arr, box):
    y, x, hh, ww = box
    return arr[y : y + hh, x : x + ww]


def _grid(store, board):
    if getattr(board, "evaluation", "tiles") == "whole":
        return None  # a whole-image run's samples.png is its first region, linked from the page
    grids = []
    for row in board.rows:
        runs = [store.get_run(i) for i in row["run_ids"]]
        runs = sorted((r for r in runs if r is not None), key=lambda r: r.seed)
        grids.append(next((g for g in map(_samples, runs) if g is not None), None))
    have = [g for g in grids if g is not None]
    if not have:
        return None
    tiles = [t for t in have[0][2] if all(t in g[1] for g in have)][:GRID_TILES]
    if not tiles:
        return None
    ref_arr, ref_boxes, _ = have[0]
    cols = ["input"] + [row["label"] for row in board.rows] + ["target"]
    fig = new_figure(CELL_IN * len(cols), CELL_IN * len(tiles) + 0.4)
    axes = fig.subplots(len(tiles), len(cols), squeeze=False)
    for i, tile in enumerate(tiles):
        boxes = ref_boxes[tile]
        truth = "truth" if "truth" in boxes else "target"
        images = [_cut(ref_arr, boxes["input"])]
        images += [_cut(g[0], g[1][tile]["output"]) if g is not None else None for g in grids]
        images.append(_cut(ref_arr, boxes[truth]) if truth in boxes else None)
        for j, img in enumerate(images):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if img is None:
                ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes, color="#777")
            else:
                ax.imshow(img, interpolation="nearest")
            if i == 0:
                ax.set_title(
                    text(cols[j] if j < len(cols) - 1 else ("aligned truth" if truth == "truth" else "target")),
                    fontsize=8,
                    wrap=True,
                )
    fig.suptitle(text(f"{board.dataset}: test tiles {', '.join(tiles)}"), fontsize=9)
    return fig


# --- quality vs latency ---------------------------------------------------------------------------


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices of the points no other point beats on both axes (x lower is better, y by direction),
    in order of x."""
    order = sorted(
        range(len(points)), key=lambda i: (points[i][0], -points[i][1] if higher_is_better else points[i][1])
    )
    front, best = [], None
    for i in order:
        y = points[i][1]
        if best is None or (y > best if higher_is_better else y < best):
            front.append(i)
            best = y
    return front


def _pareto(store, board):
    metric = quality_metric(board)
    if metric is None:
        return None
    rows = [r for r in board.rows if metric in r["metrics"] and r.get("infer_ms_p50")]
    if not rows:
        return None
    higher = board.metrics[metric]["higher_is_better"]
    pts = [(r["infer_ms_p50"], r["metrics"][metric]["mean"]) for r in rows]
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    for r, (x, y) in zip(rows, pts):
        m = r["metrics"][metric]
        if m.get("ci_low") is not None:
            ax.errorbar([x], [y], yerr=[[y - m["ci_low"]], [m["ci_high"] - y]], fmt="o", capsize=3, color="#1f77b4")
        else:
            ax.plot([x], [y], "o", color="#1f77b4")
        ax.annotate(text(r["label"]), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    front = pareto_front(pts, higher)
    fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
    ax.step(fx, fy, where="post", color="#d62728", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("inference ms/tile (p50, log scale)")
    ax.set_ylabel(axis_label(board, metric, f" {'higher' if higher else 'lower'} is better"))
    ax.set_title(
        text(f"{board.dataset}: quality vs latency ({'; '.join(board.hardware) or 'hardware not recorded'})"),
        fontsize=8,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return fig


# --- per-tile score distributions ------------------------------------------------------------------


def _scores(store, board):
    metric = quality_metric(board)
    if metric is None:
        return None
    rows = [r for r in board.rows if metric in r["metrics"]]
    tiles = store.tile_scores([i for r in rows for i in r["run_ids"]], [metric])
    data, labels = [], []
    for r in rows:
        values = [v for i in r["run_ids"] for v in (tiles.get((i, metric)) or {}).values() if v is not None]
        if values:
            data.append(values)
            labels.append(text(r["label"]))
    if not data:
        return None
    fig = new_figure(6.0, 0.45 * len(data) + 1.2)
    ax = fig.subplots()
    ax.boxplot(
        data[::-1], orientation="horizontal", tick_labels=labels[::-1], showmeans=True, flierprops={"markersize": 3}
    )
    better = "higher" if board.metrics[metric]["higher_is_better"] else "lower"
    ax.set_xlabel(axis_label(board, metric, f" per test tile, all seeds ({better} is better)"))
    name = formatting.display_name(metric, board.metrics[metric])
    ax.set_title(text(f"{board.dataset}: per-tile {name}"), fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return fig
