"""The folder-datasets plugin: the layouts the user's own images may have (pix2pix, CycleGAN, CSV)
and those of downloaded public datasets (BCI, MIST, DSD), registered with ``vbench_register_layouts``.

``vbench datasets add`` (vbench's own registry, ``vbench.user_datasets``) records which folder
uses which layout; these layouts open it. The pieces: ``trees`` (what each layout looks like),
``index`` (which files make up a split; the csv layout's rows checked in ``csv_index``; each tile an
``entries.Entry``), ``image_files`` (reading and checking them),
``folder_dataset`` (the dataset), ``public`` (BCI, MIST and DSD) and ``leaks`` (splits that share
source images).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import vbench
from vbench.errors import DatasetError

from .adapters import ADAPTERS
from .folder_dataset import FolderDataset
from .trees import DETECT, FALLBACK, LAYOUTS, LINES, detect_layout


def folder_dataset(name, root, *, layout="auto", **options) -> FolderDataset:
    """A FolderDataset, or the adapter class of a public dataset layout (BCI, MIST, DSD)."""
    if layout == "auto":
        with contextlib.suppress(DatasetError):  # a vanished folder is reported on load
            layout = detect_layout(Path(root).expanduser(), name)
    if layout in ADAPTERS:
        return ADAPTERS[layout](name, root, **options)
    return FolderDataset(name, root, layout=layout, **options)


class FolderLayout(vbench.DatasetLayout):
    """One of this plugin's layouts; ``name`` is one of ``trees.LAYOUTS``."""

    def __init__(self, name: str):
        self.name = name
        self.tree = LINES[name]
        self.fallback = name in FALLBACK

    def detect(self, root: Path) -> bool:
        return DETECT[self.name](Path(root))

    def open(self, name, root, *, pairing=None, scale=1, in_channels=None, modality="", stain="") -> FolderDataset:
        return folder_dataset(
            name,
            root,
            layout=self.name,
            pairing=pairing,
            scale=scale,
            in_channels=in_channels,
            modality=modality,
            stain=stain,
        )

    def check(self, dataset: FolderDataset) -> dict[str, int]:
        # One image at a time: a BCI copy is gigabytes, more than loading every split would hold.
        return dataset.validate().counts()


@vbench.hookimpl
def vbench_register_layouts(register):
    for name in LAYOUTS:
        register(FolderLayout(name))
