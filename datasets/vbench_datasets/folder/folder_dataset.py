"""A dataset read from the user's folder (pix2pix, CycleGAN or CSV layout): splits from the file
names, tiles read and checked image by image, a manifest of the files' sha256."""

from __future__ import annotations

import contextlib
from pathlib import Path

import vbench
from vbench import images
from vbench import manifest as mf
from vbench.dataset import SPLITS
from vbench.errors import DatasetError
from vbench.user_datasets import (
    check_name,
    check_options,
    manifest_path,
    recorded_manifest,
)

from .folder_wholes import index_wholes, read_native
from .folder_wholes import regions as whole_regions_of
from .image_files import EXTENSIONS, channels_word, read_image, sha256_file
from .index import INDEXES, Entry
from .leaks import leak_warning, source_of
from .trees import LAYOUTS, TREES, detect_layout


class FolderDataset(vbench.Dataset):
    """One user dataset read from a folder (or a CSV manifest).

    Construction touches no image, so registering many of them keeps the CLI start fast;
    problems with the files surface in ``load``/``validate``. Subclasses for other layouts
    override ``index_files`` and ``default_pairing``.
    """

    task = "folder"
    split_note = "as given by the folders / CSV"

    def __init__(self, name, root, *, layout="auto", pairing=None, scale=1, in_channels=None, modality="", stain=""):
        check_name(name)
        if layout not in LAYOUTS + ("auto",):
            raise DatasetError(f"unknown layout {layout!r} for dataset {name!r}: use one of auto, {', '.join(LAYOUTS)}")
        check_options(name, pairing=pairing, scale=scale)
        if in_channels not in (None, 1, 3):
            raise DatasetError(f"in_channels of dataset {name!r} must be 1 or 3, got {in_channels!r}")
        self.name = name
        self.root = Path(root).expanduser().absolute()
        self.scale = scale
        self.layout = layout
        self.modality = modality or type(self).modality
        self.stain = stain or type(self).stain
        self._pairing_given = pairing
        self.pairing = pairing or "paired"
        self.in_channels = in_channels
        self._channels_from = "the dataset as registered" if in_channels else None
        if layout == "auto":
            # A folder that vanished must not break start-up: the error is raised again on load.
            with contextlib.suppress(DatasetError):
                self._resolve_layout()
        else:
            self._resolve_layout()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {str(self.root)!r}, layout={self.layout!r})"

    # -- layout --------------------------------------------------------------------------------

    def _resolve_layout(self) -> None:
        if self.layout == "auto":
            self.layout = detect_layout(self.root, self.name)
        if self._pairing_given is None:
            self.pairing = self.default_pairing()
        self.description = f"user images in {self.root} ({self.layout} layout)"

    def default_pairing(self) -> str:
        return "unpaired" if self.layout == "cyclegan" else "paired"

    def where(self) -> str:
        return f"folder dataset {self.name!r}"

    def _index(self) -> dict[str, list[Entry]]:
        """Which files make up each split: file names only, no image is opened."""
        if "_index_cache" not in self.__dict__:
            if not self.root.exists():
                raise DatasetError(
                    f"{self.where()}: {self.root} does not exist. Fix the path, or register the dataset again "
                    f"with its new location (--replace), or remove it (`vbench datasets remove {self.name}`)."
                )
            self._resolve_layout()
            try:
                index = self.index_files()
            except OSError as exc:  # e.g. a folder without read permission
                raise DatasetError(f"{self.where()}: cannot list {self.root}: {exc}") from exc
            self._check_names(index)
            for split in ("train", "test"):
                if not index[split]:
                    raise DatasetError(
                        f"{self.where()}: the {split} split of {self.root} has no images "
                        f"(supported: {' '.join(EXTENSIONS)}).\n{TREES}"
                    )
            self.__dict__["_index_cache"] = index
        return self.__dict__["_index_cache"]

    def _check_names(self, index: dict[str, list[Entry]]) -> None:
        """Every file of every layout (CSV rows and adapters too) has a UTF-8 name: ids and
        manifests are text."""
        try:
            images.check_file_name(self.root)
            for e in (e for entries in index.values() for e in entries):
                for path in (e.input, e.target, e.truth):
                    if path is not None:
                        images.check_file_name(path)
        except images.ImageInputError as exc:
            raise DatasetError(f"{self.where()}: {exc}") from None

    def index_files(self) -> dict[str, list[Entry]]:
        """Split -> entries, read from the layout's folders or CSV."""
        if self.layout not in INDEXES:
            raise DatasetError(
                f"{self.where()}: the {self.layout} layout needs its adapter class; register the "
                f"dataset with `vbench datasets add NAME PATH --layout {self.layout}`"
            )
        return INDEXES[self.layout](self.root, self.pairing, self.where())

    def counts(self) -> dict[str, int]:
        """Images per split, from file names only."""
        return {split: len(entries) for split, entries in self._index().items()}

    # -- channels ------------------------------------------------------------------------------

    @property
    def in_channels(self) -> int:
        if self._in_channels is None:
            # Read from the first input only when it was not given at construction.
            first = next(e.input for s in SPLITS for e in self._index()[s])
            self._in_channels = read_image(first, "input", self.where()).shape[0]
            self._channels_from = str(first)
        return self._in_channels

    @in_channels.setter
    def in_channels(self, value) -> None:
        self._in_channels = value

    # -- reading -------------------------------------------------------------------------------

    def _read_split(self, split: str):
        """Yields (entry, input, target, truth) as float32 C x H x W arrays, checking every file."""
        index = self._index()[split]
        memo = {}  # unpaired targets are reused by several inputs
        first = None  # (path, height, width) of the split's first input
        where = self.where()
        for e in index:
            x = read_image(e.input, "input", where)
            if split != "test":  # stainers batch train and val tiles; test tiles are grouped by size
                if first is None:
                    first = (e.input, *x.shape[1:])
                elif tuple(x.shape[1:]) != first[1:]:
                    raise DatasetError(
                        f"{where}: the {split} split mixes image sizes: {e.input} is {x.shape[2]}x{x.shape[1]} "
                        f"but {first[0]} is {first[2]}x{first[1]} (width x height). Crop or resize the {split} images "
                        f"to one size (the test split may mix sizes)."
                    )
            if x.shape[0] != self.in_channels:
                raise DatasetError(
                    f"{where}: inputs have mixed channel counts: {e.input} is {channels_word(x.shape[0])} "
                    f"while {self._channels_from} is {channels_word(self.in_channels)}. Make all inputs grayscale "
                    f"or all RGB (e.g. Image.open(p).convert('L')), or register the dataset again (--replace)."
                )
            y = memo.get(e.target)
            if y is None:
                y = read_image(e.target, "target", where)
                if not e.matched:
                    memo[e.target] = y
            if e.matched:
                self._check_size(e.input, x, e.target, y)
            t = None
            if e.truth is not None:
                t = y if e.truth == e.target else read_image(e.truth, "target", where)
                if e.truth != e.target:
                    self._check_size(e.input, x, e.truth, t)
            yield e, x, y, t

    def _check_size(self, inp: Path, x, target: Path, y) -> None:
        h, w = x.shape[1:]
        big_h, big_w = y.shape[1:]
        s = self.scale
        if (big_h, big_w) != (h * s, w * s):
            raise DatasetError(
                f"{self.where()}: input {inp} is {w}x{h} and target {target} is {big_w}x{big_h} (width x height); "
                f"with scale {s} the target must be {w * s}x{h * s}. Crop or resize the images, or declare the "
                f"right scale."
            )

    def load(self, split: str) -> list:
        import torch

        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        samples = []
        for e, x, y, t in self._read_split(split):
            target = torch.from_numpy(y)
            truth = None if t is None else target if t is y else torch.from_numpy(t)
            meta = {"input_path": str(e.input), "target_path": str(e.target)}
            source = source_of(e.input.stem)  # S of S__K names: tiles of one image are not independent
            if source is not None:
                meta["source"] = source
            if e.truth is not None and e.truth != e.target:
                meta["truth_path"] = str(e.truth)
            samples.append(vbench.Sample(e.id, torch.from_numpy(x), target, truth, meta))
        return samples

    def validate(self) -> FolderDataset:
        """Reads every image fully (so truncated files are found) and checks modes, sizes and channels."""
        for split in SPLITS:
            for _ in self._read_split(split):
                pass
        for region in self.wholes():  # one whole image at a time
            read_native(Path(region.meta["input_path"]), "input", self.where())
            read_native(Path(region.meta["target_path"]), "target", self.where())
        return self

    # -- whole images (the ``wholes`` split, ``folder_wholes``) ---------------------------------

    def whole_entries(self) -> list[Entry]:
        if "_wholes_cache" not in self.__dict__:
            self._index()
            self.__dict__["_wholes_cache"] = index_wholes(self.root, self.layout, self.where())
        return self.__dict__["_wholes_cache"]

    def wholes(self) -> list:
        """The whole images (``vbench.dataset.WholeRegion``), sizes checked against the scale."""
        return whole_regions_of(self.whole_entries(), self.scale, self.where())

    # -- manifest ------------------------------------------------------------------------------

    def manifest(self) -> dict:
        index = self._index()
        digests: dict[Path, str] = {}

        def sha(path: Path) -> str:
            if path not in digests:
                digests[path] = sha256_file(path, self.where())
            return digests[path]

        base = self.root if self.root.is_dir() else self.root.parent

        def rel(path: Path) -> str:
            return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)

        rows = []
        for split in SPLITS:
            for e in index[split]:
                row = {
                    "id": e.id,
                    "split": split,
                    "input": rel(e.input),
                    "input_sha256": sha(e.input),
                    "target": rel(e.target),
                    "target_sha256": sha(e.target),
                }
                if e.truth is not None and e.truth != e.target:
                    row["truth"], row["truth_sha256"] = rel(e.truth), sha(e.truth)
                rows.append(row)
        for e in self.whole_entries():  # only datasets with whole images get these rows
            rows.append(
                {
                    "id": e.id,
                    "split": "wholes",
                    "input": rel(e.input),
                    "input_sha256": sha(e.input),
                    "target": rel(e.target),
                    "target_sha256": sha(e.target),
                }
            )
        # pairing and scale change what the same files mean, so they are part of the split's identity.
        return {
            "format": mf.FORMAT,
            "version": mf.VERSION,
            "dataset": self.name,
            "layout": self.layout,
            "pairing": self.pairing,
            "scale": self.scale,
            "tiles": rows,
        }

    def recorded_path(self) -> Path:
        return manifest_path(self.name)

    def committed_manifest(self) -> dict | None:
        """The manifest recorded by `vbench datasets add`, so `verify` finds files changed since."""
        return recorded_manifest(self.name)

    def info(self) -> dict:
        counts = self.counts()
        recorded = self.committed_manifest()
        out = {
            "files": f"{self.root} ({self.layout} layout)",
            "tiles": ", ".join(f"{split} {counts[split]}" for split in SPLITS),
            "splits": self.split_note,
        }
        if recorded is not None:
            out["manifest hash"] = (
                f"{mf.manifest_hash(recorded)} (recorded when added; `vbench datasets verify "
                f"{self.name}` re-hashes the files)"
            )
            out["manifest"] = str(self.recorded_path())
        else:
            out["manifest hash"] = f"{self.manifest_hash} (of the files now; none was recorded)"
        wholes = self.whole_entries()
        out["whole images"] = (
            f"{len(wholes)} in the wholes split, predicted and scored whole; they are separate images, "
            f"not the test tiles"
            if wholes
            else "none (add ROOT/A/wholes + ROOT/B/wholes, or ROOT/wholesA + ROOT/wholesB)"
        )
        leak = leak_warning(self._index())
        if leak:
            out["warning"] = leak
        return out
