"""Writes a dataset split as image files, so a method in another codebase can use it.

Layout of the output folder::

    DIR/inputs/ID.png     1-channel inputs: 16-bit greyscale PNG (value / 65535)
    DIR/inputs/ID.tif     other channel counts: 16-bit TIFF, channels first (C x H x W)
    DIR/targets/ID.png    with targets=True: the target, 8-bit RGB PNG
    DIR/truth/ID.png      with targets=True, where known and not the target: the aligned truth
    DIR/index.csv         id, input, channels, height, width, output_height, output_width, target, truth
    DIR/README.txt        what a prediction must look like

A prediction for ``inputs/ID.*`` is ``ID.png``: 8-bit RGB, ``scale`` times the input's size. A tile
id with folders (``img/in0``, from a CSV dataset's paths) keeps them: ``inputs/img/in0.png``.

The folder is written all at once (``vbench.staging``): a failed export leaves nothing behind.
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

        path = path_stem.parent / f"{path_stem.name}.png"  # not with_suffix: an id may hold a dot
        Image.fromarray(arr[0]).save(path)
        return path
    import tifffile

    path = path_stem.parent / f"{path_stem.name}.tif"
    tifffile.imwrite(path, arr, photometric="minisblack", planarconfig="separate", metadata={"axes": "CYX"})
    return path


def tile_path(tile_id: str, dataset_name: str) -> str:
    """The tile's file path under each folder, without extension: its id, whose ``/`` are folders.
    An id that would leave the folder or hide its file (``..``, ``/x``, ``.x``, a backslash, a
    control character) is refused."""
    from .errors import DatasetError
    from .visible import line

    parts = str(tile_id).split("/")
    if line(tile_id) != tile_id or "\\" in tile_id or any(not p or p.startswith(".") for p in parts):
        raise DatasetError(
            f"tile id {line(repr(tile_id))} of {dataset_name!r} cannot be a file path (an empty, hidden or '..' "
            f"part, a backslash or a control character); rename the image"
        )
    return "/".join(parts)


def export(dataset, out_dir, *, split: str = "test", targets: bool = False) -> Path:
    """Writes ``split`` of ``dataset`` into ``out_dir``, new or empty (see the module docstring);
    returns index.csv."""
    from .errors import DatasetError
    from .staging import staged

    out = Path(out_dir)
    samples = dataset.samples(split)
    if not samples:
        raise DatasetError(f"dataset {dataset.name!r} has no {split} tiles to export")
    paths = [tile_path(s.id, dataset.name) for s in samples]  # every id checked before anything is written
    with staged(out, "export", empty=True, error=DatasetError) as stage:
        _write(dataset, split, samples, paths, stage, targets)
    return out / "index.csv"


def _write(dataset, split: str, samples, paths: list[str], out: Path, targets: bool) -> None:
    from PIL import Image

    rows = []
    scale = dataset.scale
    for s, rel in zip(samples, paths):
        for folder in ("inputs", "targets") if targets else ("inputs",):
            (out / folder / rel).parent.mkdir(parents=True, exist_ok=True)
        written = write_input(out / "inputs" / rel, s.input)
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
            Image.fromarray(_uint8_rgb(s.target)).save(out / "targets" / f"{rel}.png")
            row["target"] = f"targets/{rel}.png"
            if s.truth is not None and s.truth is not s.target:  # paired: the target is the truth
                (out / "truth" / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(_uint8_rgb(s.truth)).save(out / "truth" / f"{rel}.png")
                row["truth"] = f"truth/{rel}.png"
        rows.append(row)
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
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
