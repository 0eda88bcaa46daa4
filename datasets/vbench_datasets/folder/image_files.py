"""The image files of a folder dataset: listed by name, read with the checks a dataset needs
(targets are 8-bit RGB; inputs grayscale of 8 or 16 bit, or 8-bit RGB), hashed for its manifest.
Decoding itself is :mod:`vbench.images`, shared with ``vbench score`` and ``vbench predict``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vbench import images
from vbench.errors import DatasetError

EXTENSIONS = images.EXTENSIONS


def files_by_stem(folder: Path, where: str) -> dict[str, Path]:
    """Stem -> file of the images in ``folder`` ({} when it does not exist)."""
    try:
        return images.files_by_stem(folder)
    except images.ImageInputError as exc:
        raise DatasetError(f"{where}: {exc} (file names are the tile ids)") from None


def channels_word(c: int) -> str:
    return "grayscale (1 channel)" if c == 1 else f"RGB ({c} channels)"


def input_channels(arr, path: Path, where: str) -> int:
    """1 or 3: the channels of an input as ``images.decode`` returned it."""
    mode = images.mode_name(arr)
    if mode in images.GRAY_MODES:
        return 1
    if mode == "RGB":
        return 3
    raise DatasetError(
        f"{where}: input {path} has image mode {mode}; inputs must be grayscale (8 or 16 bit) or 8-bit RGB. "
        f"Convert it, e.g. Image.open(p).convert('L') or .convert('RGB')."
    )


def read_image(path: Path, role: str, where: str):
    """The image as a float32 C x H x W array in [0, 1]: 8-bit / 255, 16-bit / 65535."""
    import numpy as np

    try:
        arr = images.decode(path)
    except images.UnreadableImage as exc:
        raise DatasetError(
            f"{where}: cannot read {role} image {path}: {exc.reason}. Re-export or remove the file."
        ) from None
    except images.ImageInputError as exc:
        raise DatasetError(f"{where}: {role} {exc}") from None
    if role == "target" and images.mode_name(arr) != "RGB":
        raise DatasetError(
            f"{where}: target {path} has image mode {images.mode_name(arr)}, but targets must be RGB (the stained "
            f"image). Convert it, e.g. Image.open(p).convert('RGB').save(p)."
        )
    if role == "input":
        input_channels(arr, path, where)
    if arr.dtype == bool:
        out = arr.astype(np.float32)
    elif arr.dtype == np.uint8:
        out = arr.astype(np.float32) / np.float32(255)
    elif arr.dtype.kind in "ui" and arr.dtype.itemsize <= 4:
        # 16-bit grayscale (uint16, or int32 when it holds values past 16 bit)
        if arr.min() < 0 or arr.max() > 65535:
            raise DatasetError(
                f"{where}: {role} {path} holds values outside 0..65535; only 8- and 16-bit images are supported"
            )
        out = arr.astype(np.float32) / np.float32(65535)
    else:
        raise DatasetError(f"{where}: {role} {path} has unsupported pixel type {arr.dtype}; save it as 8- or 16-bit")
    out = out[None] if out.ndim == 2 else out.transpose(2, 0, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def sha256_file(path: Path, where: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise DatasetError(f"{where}: cannot read {path}: {exc}") from exc
