"""A PNG grid of a dataset's tiles: input | target | aligned truth (when it differs from the target).

Inputs are shown contrast-stretched (1st to 99th percentile per tile), since simulated label-free
inputs are dim by design; 1 channel as grey, 3 as RGB, any other count as a mosaic of its channels.
Inputs of ``scale > 1`` datasets are enlarged (nearest neighbour) to the target size.
"""

from __future__ import annotations

from pathlib import Path

PANEL = 192
LABEL = 18


def _stretch(x):
    import numpy as np

    lo, hi = np.percentile(x, 1), np.percentile(x, 99)
    return np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1)


def _input_image(inp):
    """C x h x w floats -> H x W x 3 uint8 for display."""
    import numpy as np

    x = inp.detach().cpu().numpy() if hasattr(inp, "detach") else np.asarray(inp)
    c = x.shape[0]
    if c == 1:
        rgb = np.repeat(_stretch(x[0])[..., None], 3, axis=2)
    elif c == 3:
        rgb = _stretch(x).transpose(1, 2, 0)
    else:  # a mosaic of the channels, each stretched on its own
        cols = int(np.ceil(np.sqrt(c)))
        rows = int(np.ceil(c / cols))
        h, w = x.shape[1:]
        mosaic = np.zeros((rows * h, cols * w))
        for i in range(c):
            r, q = divmod(i, cols)
            mosaic[r * h : (r + 1) * h, q * w : (q + 1) * w] = _stretch(x[i])
        rgb = np.repeat(mosaic[..., None], 3, axis=2)
    return (rgb * 255).round().astype(np.uint8)


def _rgb(t):
    import numpy as np

    x = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    return (np.clip(x, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)


def preview(dataset, path, *, split: str = "test", count: int = 4) -> Path:
    """Writes the grid of the first ``count`` tiles of ``split`` (spread over the split) to ``path``."""
    from PIL import Image, ImageDraw

    samples = dataset.samples(split)
    if not samples:
        from .errors import DatasetError

        raise DatasetError(f"dataset {dataset.name!r} has no {split} tiles to preview")
    step = max(len(samples) // count, 1)
    chosen = samples[::step][:count]
    with_truth = any(s.truth is not None and s.truth is not s.target for s in chosen)
    heads = ["input (stretched)", "target"] + (["aligned truth"] if with_truth else [])
    if dataset.pairing == "unpaired":
        heads[1] = "target (another tile)"
    grid = Image.new("RGB", (len(heads) * PANEL, LABEL + len(chosen) * (PANEL + LABEL)), "white")
    draw = ImageDraw.Draw(grid)
    for k, head in enumerate(heads):
        draw.text((k * PANEL + 4, 3), head, fill="black")
    for row, s in enumerate(chosen):
        top = LABEL + row * (PANEL + LABEL)
        panels = [_input_image(s.input), _rgb(s.target)]
        if with_truth:
            panels.append(_rgb(s.truth) if s.truth is not None else None)
        for k, arr in enumerate(panels):
            if arr is None:
                continue
            grid.paste(Image.fromarray(arr).resize((PANEL, PANEL), Image.NEAREST), (k * PANEL, top))
        draw.text((4, top + PANEL + 3), s.id, fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path
