"""Dataset layouts: how a plugin reads the user's own images from one arrangement of files.

`vbench datasets add NAME PATH [--layout NAME]` stores which folder is read by which layout (see
:mod:`vbench.user_datasets`); the layout plugin turns that entry into a :class:`vbench.Dataset`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import ClassVar

from .dataset import SPLITS, Dataset
from .errors import DatasetError


class DatasetLayout:
    """One way of arranging images on disk (a ``--layout`` of ``vbench datasets add``).

    Register an instance or the class with ``vbench_register_layouts``. Attributes:

    - ``name``: the ``--layout`` value and the word stored in ``datasets.json``; unique.
    - ``tree``: the expected files, a few lines of plain text; shown when a folder matches no
      layout, so a user sees every layout's tree side by side.
    - ``fallback``: tried only when no other layout recognises the folder (for example a CSV
      manifest: a stray ``notes.csv`` beside image folders must not win over them).

    Methods (``detect`` and ``open`` must not read pixels: they run on every start of vbench):

    - ``detect(root)``: whether ``root`` (a folder or file that exists) looks like this layout.
    - ``open(name, root, *, pairing, scale, in_channels, modality, stain)``: the dataset.
    - ``check(dataset)``: read every file fully, as ``vbench datasets add`` does before
      registering; return the number of tiles per split.

    The dataset ``open`` returns keeps the options as its attributes, hashes the files in its
    ``manifest()``, and returns ``vbench.user_datasets.recorded_manifest(name)`` from
    ``committed_manifest()``, so ``vbench datasets verify`` compares with what was added.
    """

    name: ClassVar[str] = ""
    tree: ClassVar[str] = ""
    fallback: ClassVar[bool] = False

    def detect(self, root: Path) -> bool:  # pragma: no cover - abstract
        """True when ``root`` has this layout's folders or files. Look at names only. May raise
        :class:`vbench.errors.DatasetError` to say what the user should pass instead."""
        raise NotImplementedError(f"{type(self).__name__}.detect")

    def open(
        self,
        name: str,
        root: Path,
        *,
        pairing: str | None = None,
        scale: int = 1,
        in_channels: int | None = None,
        modality: str = "",
        stain: str = "",
    ) -> Dataset:  # pragma: no cover
        """The dataset ``name`` read from ``root``. ``pairing`` None means the layout's default;
        ``in_channels`` None means detect it from the first input when first asked. ``modality``
        and ``stain`` ("" when unknown) become the dataset's attributes. Construction reads no
        image, and a folder that has vanished is reported by ``load``, not here."""
        raise NotImplementedError(f"{type(self).__name__}.open")

    def check(self, dataset: Dataset) -> dict[str, int]:
        """Reads every file of ``dataset`` fully and returns the number of tiles per split;
        raises :class:`vbench.errors.DatasetError` naming the file at fault. The default loads
        every split; override it when the dataset can check without holding all tiles."""
        return {split: len(dataset.load(split)) for split in SPLITS}


def choose_layout(
    root: Path,
    detectors: Mapping[str, Callable[[Path], bool]],
    *,
    fallback: Iterable[str] = (),
    trees: str = "",
    who: str = "",
) -> str:
    """The one layout whose detector recognises ``root``. ``fallback`` layouts count only when no
    other does; ``trees`` (the expected layouts, as text) ends the message when none does."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{who}{root} does not exist. Check the path.")
    listing = ""
    if root.is_dir():
        try:
            names = sorted(p.name for p in root.iterdir())
        except OSError as exc:
            raise DatasetError(f"{who}cannot list {root}: {exc}") from exc
        listing = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    fallback = set(fallback)
    for tier in ([n for n in detectors if n not in fallback], [n for n in detectors if n in fallback]):
        found = [n for n in tier if detectors[n](root)]
        if len(found) > 1:
            raise DatasetError(
                f"{who}{root} has folders of several layouts ({', '.join(found)}); pass the layout to choose (--layout)"
            )
        if found:
            return found[0]
    expected = f"\n{trees}" if trees else ""
    if root.is_file():
        raise DatasetError(
            f"{who}{root} is a file that no layout reads; pass a folder (or a file one reads).{expected}"
        )
    raise DatasetError(f"{who}no recognised dataset layout in {root} (it holds: {listing or 'nothing'}).{expected}")


def detect_layout(root: Path, layouts: Iterable[DatasetLayout], who: str = "") -> str:
    """The name of the one registered layout that recognises ``root`` (``--layout auto``)."""
    layouts = list(layouts)
    return choose_layout(
        root,
        {lay.name: lay.detect for lay in layouts},
        fallback=[lay.name for lay in layouts if lay.fallback],
        trees=expected_trees(layouts),
        who=who,
    )


def expected_trees(layouts: Iterable[DatasetLayout]) -> str:
    trees = [lay.tree for lay in layouts if lay.tree]
    return "Expected one of these layouts:\n" + "\n".join(trees) if trees else ""
