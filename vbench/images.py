"""Reading image files: the one place that decodes them and knows their extensions.

``decode`` turns a file into its pixels as stored (every byte decoded, so a truncated file fails
there), after checking the size its header declares against one limit (``max_pixels``): a small
file that claims a huge image (a decompression bomb) is refused before any memory is taken.
``read`` adds the checks that make a comparison fair for ``vbench score`` (matched file names,
equal sizes, no grayscale/RGB mix, explicit bit depths); ``vbench predict`` and folder datasets
apply their own checks to ``decode``'s array. numpy, Pillow and the other decoders are imported on
first use, so importing this module is cheap.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, VbenchError

EXTENSIONS = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".webp", ".ppm", ".pgm")
ARRAY_EXTENSIONS = (".npy",)  # numpy arrays: channel stacks no image format holds (``vbench predict``)
GRAY_MODES = ("1", "L", "I", "I;16")  # ``mode_name`` of one-channel images of 1, 8 and 16 bits
MAX_PIXELS_ENV = "VBENCH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 1 << 27  # 134,217,728: 16384 x 8192, or 11585 x 11585

if TYPE_CHECKING:
    import numpy as np


class ImageInputError(VbenchError):
    """A folder of images cannot be scored as given."""


@dataclass
class Image:
    path: Path
    pixels: np.ndarray  # H x W x C, uint8 / uint16 / float32, C = 1 or 3
    bits: int  # 8, 16 or 32 (float)

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]

    def tensor(self):
        """3 x H x W float32 in [0, 1] (grey replicated to 3 channels)."""
        import numpy as np
        import torch

        scale = {8: 255.0, 16: 65535.0, 32: 1.0}[self.bits]
        arr = self.pixels.astype(np.float32) / scale
        if arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def files_by_stem(folder: str | Path, role: str = "image") -> dict[str, Path]:
    """Stem -> path of the image files in ``folder`` ({} when it is missing); dot files (macOS
    ``._x.png`` resource forks) are not images. Two files with one stem are an error."""
    folder = Path(folder).expanduser()
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."):
            check_file_name(p)
            if p.stem in out:
                raise ImageInputError(
                    f"{role} folder {folder} has two images named {p.stem!r} ({out[p.stem].name} and {p.name}); "
                    f"images are matched by name without extension, so keep one of them"
                )
            out[p.stem] = p
    return out


def check_file_name(path: str | Path) -> None:
    """File names become tile ids and are stored and shown as text: a name that is not valid UTF-8
    (Python holds its stray bytes as surrogates) is refused with its bytes shown, and one holding a
    control or invisible format character (a line break, ESC, a bidi override) with it escaped."""
    from .visible import line

    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ImageInputError(
            f"the file name {os.fsencode(path)!r} is not valid UTF-8, and vbench records file names as text; "
            f"rename the file (e.g. `convmv -f latin1 -t utf8 --notest FILE`)"
        ) from None
    if line(text) != text:
        raise ImageInputError(
            f"the file name {line(text)} holds a control or invisible character (shown escaped), which would "
            f"garble tile ids, manifests and tables; rename the file"
        )


def images_by_stem(folder: str | Path, role: str) -> dict[str, Path]:
    """``files_by_stem`` of a folder that must exist and hold images."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{role} folder {folder} does not exist or is not a folder")
    out = files_by_stem(folder, role)
    if not out:
        raise ImageInputError(f"{role} folder {folder} holds no images ({', '.join(EXTENSIONS)})")
    return out


def max_pixels() -> int:
    """The most pixels (width x height) vbench decodes from one file: ``$VBENCH_MAX_PIXELS``, else
    ``DEFAULT_MAX_PIXELS``. Pillow's own decompression-bomb check is set to the same number."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    if not raw.isdecimal() or int(raw) <= 0:
        raise ConfigError(
            f"{MAX_PIXELS_ENV}={raw!r} is not a positive whole number of pixels; unset it for the default "
            f"({DEFAULT_MAX_PIXELS:,})"
        )
    return int(raw)


class ImageTooLarge(ImageInputError):
    """A file whose header declares more pixels than ``max_pixels()``; nothing of it was decoded."""

    def __init__(self, path: Path, declared: str, limit: int):
        super().__init__(
            f"{path} declares {declared}, more than the {limit:,} pixels vbench decodes from one file (a small "
            f"file claiming a huge image is a decompression bomb). Tile or crop the image, or, if it is real, "
            f"raise the limit with {MAX_PIXELS_ENV}"
        )
        self.path = path


def check_size(path: Path, shape) -> None:
    """Refuses ``path`` when the shape its header declares holds more than ``max_pixels()`` pixels:
    height x width, or for an array every value, less the channels of a channel stack (a 3-D array's
    smallest axis, when it has at most 16)."""
    dims = [int(d) for d in shape]
    pixels = math.prod(dims)
    if len(dims) == 3 and 0 < min(dims) <= 16:
        pixels //= min(dims)
    limit = max_pixels()
    if pixels > limit:
        raise ImageTooLarge(path, f"{' x '.join(map(str, dims))} ({pixels:,} pixels)", limit)


def _png_header(path: Path) -> tuple[int, int, int] | None:
    """(bit depth, width, height) from a PNG's IHDR chunk; None for any other file."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24], int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


class UnreadableImage(ImageInputError):
    """A file that no decoder could read; ``reason`` is the decoder's own words."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot read {path} as an image: {reason}")
        self.path, self.reason = path, reason


def decode(path: str | Path):
    """The file's pixels as stored: H x W or H x W x C (RGB(A) order) in the file's own dtype, or a
    ``.npy`` array as saved. Everything is decoded, so a truncated file raises here.

    TIFF goes through tifffile (16-bit colour, floats, channel stacks), 16-bit PNG through OpenCV
    (Pillow reduces 16-bit colour to 8 bit), everything else through Pillow. Palette, CMYK and YCbCr
    images come back as RGB (RGBA for a palette with transparency). Raises :class:`UnreadableImage`.
    """
    import numpy as np

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in ARRAY_EXTENSIONS:
            return _decode_npy(path)
        if suffix in (".tif", ".tiff"):
            return _decode_tiff(path)
        png = _png_header(path)
        if png is not None:
            check_size(path, png[:0:-1])  # before OpenCV or Pillow allocates anything
        depth = png[0] if png is not None else None
        arr = _decode_cv2(path) if depth == 16 else None
        if arr is None:
            arr = _decode_pil(path)
            if depth == 16 and arr.dtype == np.uint8:
                raise ImageInputError(
                    f"{path} is a 16-bit PNG that could not be read at full depth; save it as a "
                    f"16-bit TIFF or 8-bit PNG"
                )
        return arr
    except VbenchError:  # our own checks' errors (the limit, its setting), as they are
        raise
    except Exception as exc:  # each decoder has its own exception types; the message says what failed
        raise UnreadableImage(path, str(exc) or type(exc).__name__) from None


def _decode_npy(path: Path):
    """A ``.npy`` array; its header (shape, type) is read and checked before its data."""
    import numpy as np
    from numpy.lib import format as npy

    with open(path, "rb") as f:
        version = npy.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise UnreadableImage(path, f".npy format version {version[0]}.{version[1]} is not an image array")
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if dtype.kind not in "biuf" or dtype.fields is not None:
            raise UnreadableImage(path, f"the array holds {dtype}, not numbers")
        check_size(path, shape)
    return np.load(path, allow_pickle=False)


def _decode_tiff(path: Path):
    """The first image series of a TIFF (what ``tifffile.imread`` reads), its shape checked first."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise UnreadableImage(path, "the TIFF holds no image")
        check_size(path, tif.series[0].shape)
        return tif.series[0].asarray()


def open_pil(path: Path):
    """``PIL.Image.open`` with its header's size checked against ``max_pixels()`` (Pillow's own
    limit set to the same number); the pixels are decoded on ``load()``."""
    from PIL import Image as PILImage

    limit = max_pixels()
    PILImage.MAX_IMAGE_PIXELS = limit
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)  # raised above the limit
        try:
            im = PILImage.open(path)
        except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            raise ImageTooLarge(path, f"{int(found[1]):,} pixels" if found else "too many pixels", limit) from None
    try:
        check_size(path, (im.height, im.width))
    except ImageTooLarge:
        im.close()
        raise
    return im


def _decode_cv2(path: Path):
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv comes with pyiqa
        return None
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is not None and arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., ::-1]  # BGR(A) -> RGB(A)
    return arr


def _decode_pil(path: Path):
    import numpy as np

    with open_pil(path) as im:
        im.load()  # decodes every byte, so a truncated file fails here
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("CMYK", "YCbCr"):
            im = im.convert("RGB")
        arr = np.asarray(im)
    if arr.dtype == np.int32 and arr.size and arr.min() >= 0 and arr.max() <= 65535:
        arr = arr.astype(np.uint16)  # some Pillow versions open 16-bit grayscale PNGs as 32-bit "I"
    return arr


def mode_name(arr) -> str:
    """Pillow's name for the kind of image ``decode`` returned ("L", "I;16", "RGB", "RGBA"...), so
    messages speak the words of the tools people convert images with."""
    kind = arr.dtype.kind
    bits = arr.dtype.itemsize * 8
    if arr.ndim == 2:
        if kind == "b":
            return "1"
        if kind == "u" and bits <= 16:
            return "L" if bits == 8 else "I;16"
        return "I" if kind in "ui" else "F"
    if arr.ndim == 3 and arr.shape[2] in (2, 3, 4):
        base = {2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
        return base if arr.dtype.name == "uint8" else f"{base};{arr.dtype}"
    return f"{arr.dtype} array of shape {'x'.join(map(str, arr.shape))}"


def read(path: Path) -> Image:
    """Reads one image as 8-bit, 16-bit or float; refuses what would be scored wrongly."""
    import numpy as np

    arr = decode(path)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ImageInputError(f"{path} has {arr.ndim} dimensions; expected a single 2-D image (not a stack)")
    c = arr.shape[2]
    if c in (2, 4):  # grey + alpha / RGBA: the alpha must be opaque everywhere
        alpha = arr[..., -1]
        full = np.iinfo(arr.dtype).max if arr.dtype.kind in "ui" else 1.0
        if alpha.min() < full:
            raise ImageInputError(
                f"{path} has transparent pixels (alpha down to {alpha.min()}); transparency has no stain value. "
                f"Save it without an alpha channel"
            )
        arr = arr[..., :-1]
    elif c != 3 and c != 1:
        raise ImageInputError(f"{path} has {c} channels; expected RGB (3) or grayscale (1)")
    if arr.dtype == np.uint8:
        bits = 8
    elif arr.dtype == np.uint16:
        bits = 16
        top = int(arr.max())
        if top <= 255 and top > 0:
            raise ImageInputError(
                f"{path} is a 16-bit image whose largest value is {top}: it holds 8-bit data in a 16-bit file, which "
                f"would be scored as almost black. Save it as 8-bit, or rescale it to 0..65535"
            )
    elif arr.dtype.kind == "f":
        bits = 32
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if not (math.isfinite(lo) and math.isfinite(hi)) or np.isnan(arr).any():
            raise ImageInputError(f"{path} contains NaN or infinite values")
        if lo < 0.0 or hi > 1.0:
            raise ImageInputError(
                f"{path} is a floating-point image with values in [{lo:.4g}, {hi:.4g}]; float images must lie in "
                f"[0, 1]. Rescale it, or save it as 8- or 16-bit"
            )
        arr = arr.astype(np.float32)
    else:
        raise ImageInputError(f"{path} has pixel type {arr.dtype}; save it as 8-bit, 16-bit or float in [0, 1]")
    return Image(path, np.ascontiguousarray(arr), bits)


def check_pair(pred: Image, target: Image) -> None:
    if pred.size != target.size:
        raise ImageInputError(
            f"prediction {pred.path} is {pred.size[1]} x {pred.size[0]} px but target {target.path} is "
            f"{target.size[1]} x {target.size[0]} px (width x height). vbench does not resample, since that would "
            f"change the scores: save predictions at the target's size"
        )
    if pred.channels != target.channels:
        kinds = {1: "grayscale", 3: "RGB"}
        raise ImageInputError(
            f"prediction {pred.path} is {kinds[pred.channels]} but target {target.path} is "
            f"{kinds[target.channels]}; a stain is a colour image, so save both as RGB (a grayscale "
            f"prediction of an RGB stain cannot be scored fairly)"
        )


def match(pred_files: dict[str, Path], target_files: dict[str, Path], pred_dir, target_dir) -> list[str]:
    """The names present in both folders; any name in only one is an error."""
    parts = unmatched(
        (
            f"target(s) without a prediction in {pred_dir}",
            [target_files[n].name for n in sorted(set(target_files) - set(pred_files))],
        ),
        (
            f"prediction(s) without a target in {target_dir}",
            [pred_files[n].name for n in sorted(set(pred_files) - set(target_files))],
        ),
    )
    if parts:
        raise ImageInputError(
            "images are matched by file name (without extension) and "
            + "; ".join(parts)
            + ". Every test image needs both files: add the missing ones or move the extra ones out"
        )
    return sorted(pred_files)


def unmatched(*groups: tuple[str, list[str]], k: int = 5) -> list[str]:
    """``N WHAT: a, b (and M more)`` for every group of names left without a partner."""
    return [
        f"{len(names)} {what}: {', '.join(names[:k])}" + (f" (and {len(names) - k} more)" if len(names) > k else "")
        for what, names in groups
        if names
    ]
