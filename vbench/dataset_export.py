"""Writes a dataset split as image files, so a method in another codebase can use it.

Layout of the output folder::

    DIR/inputs/ID.png     1-channel inputs: 16-bit greyscale PNG (value / 65535)
    DIR/inputs/ID.tif     other channel counts: 16-bit TIFF, channels first (C x H x W)
    DIR/targets/ID.png    with targets=True: the target, 8-bit RGB PNG
    DIR/truth/ID.png      with targets=True, where known and not the target: the aligned truth
    DIR/index.csv         id, input, channels, height, width, output_height, output_width, target, truth
    DIR/README.txt        what a prediction must look like

A prediction for ``inputs/ID.*`` is ``ID.png``: 8-bit RGB, ``scale`` times the input's size.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

README = """Exported from vbench: dataset {name}, split {split}, manifest {manifest}.
{note}
inputs/ holds the label-free inputs ({channels} channel(s); 1 channel: 16-bit PNG, otherwise 16-bit TIFF,
channels first). Values are integers; divide by 65535 for the [0, 1] floats vbench uses.

Write one prediction per input, named ID.png (the input's name with .png), 8-bit RGB, of size
output_height x output_width from index.csv (the input size times the dataset scale {scale}).
Then score and store them beside the bundled methods, for example:

    vbench score PRED_DIR --dataset {name} --split {split} --store --as MY_METHOD
"""


def _uint16(t):
    import numpy as np

    x = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    return np.round(np.clip(x, 0, 1) * 65535.0).astype(np.uint16)


def _uint8_rgb(t):
    import numpy as np

    x = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    return np.round(np.clip(x, 0, 1) * 255.0).astype(np.uint8).transpose(1, 2, 0)


def write_input(path_stem: Path, inp) -> Path:
    """Writes one input in the export format; returns the file written."""
    arr = _uint16(inp)
    if arr.shape[0] == 1:
        from PIL import Image

        path = path_stem.with_suffix(".png")
        Image.fromarray(arr[0]).save(path)
        return path
    import tifffile

    path = path_stem.with_suffix(".tif")
    tifffile.imwrite(path, arr, photometric="minisblack", planarconfig="separate", metadata={"axes": "CYX"})
    return path


def export(dataset, out_dir, *, split: str = "test", targets: bool = False) -> Path:
    """Writes ``split`` of ``dataset`` into ``out_dir`` (see the module docstring); returns index.csv."""
    from PIL import Image

    from .errors import DatasetError

    out = Path(out_dir)
    samples = dataset.samples(split)
    if not samples:
        raise DatasetError(f"dataset {dataset.name!r} has no {split} tiles to export")
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty; export into a new or empty folder")
    folders = ["inputs"] + (["targets", "truth"] if targets else [])
    for f in folders:
        (out / f).mkdir(parents=True, exist_ok=True)
    rows = []
    scale = dataset.scale
    for s in samples:
        if "/" in s.id or "\\" in s.id or s.id.startswith("."):
            raise DatasetError(f"tile id {s.id!r} of {dataset.name!r} cannot be a file name")
        written = write_input(out / "inputs" / s.id, s.input)
        c, h, w = s.input.shape
        row = {
            "id": s.id,
            "input": written.relative_to(out).as_posix(),
            "channels": c,
            "height": h,
            "width": w,
            "output_height": h * scale,
            "output_width": w * scale,
            "target": "",
            "truth": "",
        }
        if targets:
            Image.fromarray(_uint8_rgb(s.target)).save(out / "targets" / f"{s.id}.png")
            row["target"] = f"targets/{s.id}.png"
            if s.truth is not None and s.truth is not s.target:  # paired: the target is the truth
                Image.fromarray(_uint8_rgb(s.truth)).save(out / "truth" / f"{s.id}.png")
                row["truth"] = f"truth/{s.id}.png"
        rows.append(row)
    index = out / "index.csv"
    with open(index, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    note = getattr(dataset, "simulated", "") or ""
    (out / "README.txt").write_text(
        README.format(
            name=dataset.name,
            split=split,
            manifest=dataset.manifest_hash,
            note=(note + "\n") if note else "",
            channels=dataset.in_channels,
            scale=scale,
        ),
        encoding="utf-8",
    )
    (out / "dataset.json").write_text(
        json.dumps(
            {
                "dataset": dataset.name,
                "split": split,
                "manifest_hash": dataset.manifest_hash,
                "scale": scale,
                "in_channels": dataset.in_channels,
                "pairing": dataset.pairing,
                "tiles": len(rows),
            },
            indent=1,
        )
        + "\n"
    )
    return index
