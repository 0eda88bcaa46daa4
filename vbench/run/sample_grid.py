"""A picture of a few test tiles per run: input | output | target (| aligned truth), and beside it
``samples.json``, where each cell lies, so figures can cut a run's outputs out of it."""

from __future__ import annotations

import json
from pathlib import Path

PAD = 4
LAYOUT = "samples.json"


def to_rgb8(tensor, scale: int = 1):
    """C x H x W float [0,1] -> H*scale x W*scale x 3 uint8. One channel is shown grey, three as
    RGB, any other count as the grey mean of its channels."""
    import numpy as np

    arr = tensor.detach().float().cpu().clamp(0, 1).numpy()
    if arr.shape[0] == 3:
        rgb = arr.transpose(1, 2, 0)
    else:
        grey = arr.mean(axis=0)
        rgb = np.repeat(grey[..., None], 3, axis=2)
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def save_sample_grid(path: Path, samples, outputs: dict, scale: int) -> None:
    import numpy as np
    from PIL import Image

    rows, names = [], []
    for s in samples:
        cells, kinds = [to_rgb8(s.input, scale), to_rgb8(outputs[s.id])], ["input", "output"]
        if s.target is not None:
            cells.append(to_rgb8(s.target))
            kinds.append("target")
        if s.truth is not None and s.truth is not s.target:
            cells.append(to_rgb8(s.truth))
            kinds.append("truth")
        rows.append(cells)
        names.append(kinds)
    if not rows:
        return
    h = max(c.shape[0] for r in rows for c in r)
    w = max(c.shape[1] for r in rows for c in r)
    ncol = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (h + PAD) + PAD, ncol * (w + PAD) + PAD, 3), 255, np.uint8)
    layout = []
    for i, cells in enumerate(rows):
        boxes = {}
        for j, cell in enumerate(cells):
            y, x = PAD + i * (h + PAD), PAD + j * (w + PAD)
            canvas[y : y + cell.shape[0], x : x + cell.shape[1]] = cell
            boxes[names[i][j]] = [y, x, cell.shape[0], cell.shape[1]]
        layout.append({"tile": samples[i].id, "cells": boxes})
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
    (path.parent / LAYOUT).write_text(json.dumps({"image": path.name, "rows": layout}, indent=1))
