"""Whole images of a folder dataset: the ``wholes`` split, large images (any size above the tile
size, up to the pixel limit) predicted and scored whole by ``vbench.whole_image``.

pix2pix: ``ROOT/A/wholes/NAME.png`` (inputs) and ``ROOT/B/wholes/NAME.png`` (targets); cyclegan:
``ROOT/wholesA`` and ``ROOT/wholesB``. Inputs and targets are matched by name whatever the pairing:
a whole image is scored against the stain of the same tissue. Nothing is decoded until a region is
read; sizes come from the files' headers (checked against the pixel limit first), and pixels are
kept in the files' own 8- or 16-bit integers, so a large image is not held as float.
"""

from __future__ import annotations

from pathlib import Path

from vbench import images
from vbench.dataset import WHOLES, WholeRegion
from vbench.errors import DatasetError

from .entries import Entry
from .image_files import input_channels
from .index import pair_by_name

FOLDERS = {"pix2pix": (Path("A") / WHOLES, Path("B") / WHOLES), "cyclegan": (Path(f"{WHOLES}A"), Path(f"{WHOLES}B"))}


def index_wholes(root: Path, layout: str, where: str) -> list[Entry]:
    """The whole images of a pix2pix or cyclegan folder ([] when it has no wholes folders)."""
    if layout not in FOLDERS:
        return []
    a_dir, b_dir = (root / part for part in FOLDERS[layout])
    if not a_dir.is_dir() and not b_dir.is_dir():
        return []
    return pair_by_name(a_dir, b_dir, "paired", where)


def header_size(path: Path, where: str) -> tuple[int, int]:
    """(height, width) from the file's header, refused above the pixel limit before any decoding."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
            images.check_size(path, shape)
            dims = [d for d in shape if d > 16] or list(shape)
            return int(dims[0]), int(dims[1])
        with images.open_pil(path) as im:
            return im.height, im.width
    except images.ImageInputError as exc:
        raise DatasetError(f"{where}: whole image {exc}") from None
    except Exception as exc:  # the decoders' own errors
        raise DatasetError(f"{where}: cannot read the header of whole image {path}: {exc}") from None


def read_native(path: Path, role: str, where: str):
    """C x H x W in the file's own integers (uint8 or uint16); targets must be 8-bit RGB."""
    import numpy as np

    try:
        arr = images.decode(path)
    except images.ImageInputError as exc:
        raise DatasetError(f"{where}: whole {role} {exc}") from None
    mode = images.mode_name(arr)
    if role == "target" and mode != "RGB":
        raise DatasetError(f"{where}: whole target {path} has image mode {mode}, but targets must be 8-bit RGB")
    if role == "input":
        input_channels(arr, path, where)
        if arr.dtype.kind == "i":
            arr = arr.astype(np.uint16)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr)


def check_scale(e: Entry, inp: tuple[int, int], out: tuple[int, int], scale: int, where: str) -> None:
    if (out[0], out[1]) != (inp[0] * scale, inp[1] * scale):
        raise DatasetError(
            f"{where}: whole input {e.input} is {inp[1]}x{inp[0]} and target {e.target} is {out[1]}x{out[0]} "
            f"(width x height); with scale {scale} the target must be {inp[1] * scale}x{inp[0] * scale}. Crop the "
            f"images to match, or declare the right scale"
        )


def regions(entries: list[Entry], scale: int, where: str) -> list[WholeRegion]:
    out = []
    for e in entries:
        inp, tgt = header_size(e.input, where), header_size(e.target, where)
        check_scale(e, inp, tgt, scale, where)
        out.append(
            WholeRegion(
                e.id,
                tgt[0],
                tgt[1],
                read_input=lambda p=e.input: read_native(p, "input", where),
                read_target=lambda p=e.target: read_native(p, "target", where),
                read_truth=lambda p=e.target: read_native(p, "target", where),
                meta={"input_path": str(e.input), "target_path": str(e.target)},
            )
        )
    return out
