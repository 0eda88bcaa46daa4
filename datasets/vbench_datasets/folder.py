"""Folder datasets: the user's own images in a pix2pix, CycleGAN or CSV layout.

Registered folder datasets live in ``$VBENCH_HOME/datasets.json`` (default ``~/.vbench``) and
are exposed to the harness by this module's ``vbench_register_datasets`` hook.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import vbench
from vbench import manifest as mf
from vbench.dataset import PAIRINGS, SPLITS
from vbench.errors import DatasetError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
LAYOUTS = ("pix2pix", "cyclegan", "csv", "bci", "mist")  # bci and mist: public.py
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
REGISTRY_FILE = "datasets.json"
MANIFESTS = "manifests"  # $VBENCH_HOME/manifests/NAME.json: the manifest recorded when NAME was added

# Pillow modes we accept for inputs; 16-bit PNGs open as "I" or "I;16" depending on the Pillow version.
GRAY_MODES = ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N")

TREES = """Expected one of these layouts:
  pix2pix:  ROOT/A/{train,val,test}/NAME.png (inputs) and ROOT/B/{train,val,test}/NAME.png (targets); val is optional
  cyclegan: ROOT/trainA, ROOT/trainB, ROOT/testA, ROOT/testB (+ optional ROOT/valA, ROOT/valB)
  csv:      ROOT/NAME.csv with a header input,target,split (paths relative to the CSV file's folder)
  bci:      ROOT/HE/{train,test}/NAME.png and ROOT/IHC/{train,test}/NAME.png (the BCI dataset)
  mist:     ROOT/TrainValAB/{trainA,trainB,valA,valB}/NAME.jpg, ROOT being one stain of MIST (e.g. MIST/HER2)
Image files may be .png .jpg .jpeg .tif .tiff .bmp."""


@dataclass(frozen=True)
class _Entry:
    id: str
    input: Path
    target: Path
    truth: Path | None  # the aligned ground truth file, when known
    matched: bool  # target is the input's own pair, so its size must agree with the scale


class FolderDataset(vbench.Dataset):
    """One user dataset read from a folder (or a CSV manifest).

    Construction touches no image, so registering many of them keeps the CLI start fast;
    problems with the files surface in ``load``/``validate``.
    """

    task = "folder"

    def __init__(self, name, root, *, layout="auto", pairing=None, scale=1, in_channels=None):
        _check_name(name)
        if layout not in LAYOUTS + ("auto",):
            raise DatasetError(f"unknown layout {layout!r} for dataset {name!r}: use one of auto, {', '.join(LAYOUTS)}")
        if pairing is not None and pairing not in PAIRINGS:
            raise DatasetError(f"unknown pairing {pairing!r} for dataset {name!r}: use one of {', '.join(PAIRINGS)}")
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise DatasetError(f"scale of dataset {name!r} must be a whole number >= 1, got {scale!r}")
        if in_channels not in (None, 1, 3):
            raise DatasetError(f"in_channels of dataset {name!r} must be 1 or 3, got {in_channels!r}")
        self.name = name
        self.root = Path(root).expanduser().absolute()
        self.scale = scale
        self.layout = layout
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
        return f"FolderDataset({self.name!r}, {str(self.root)!r}, layout={self.layout!r})"

    # -- layout --------------------------------------------------------------------------------

    def _resolve_layout(self) -> None:
        if self.layout == "auto":
            self.layout = detect_layout(self.root, self.name)
        if self._pairing_given is None:
            self.pairing = self._default_pairing()
        self.description = f"user images in {self.root} ({self.layout} layout)"

    def _default_pairing(self) -> str:
        return "unpaired" if self.layout == "cyclegan" else "paired"

    def _where(self) -> str:
        return f"folder dataset {self.name!r}"

    def _index(self) -> dict[str, list[_Entry]]:
        """Which files make up each split: file names only, no image is opened."""
        if "_index_cache" not in self.__dict__:
            if not self.root.exists():
                raise DatasetError(
                    f"{self._where()}: {self.root} does not exist. Fix the path, or register the dataset again "
                    f"with its new location (replace=True), or remove it."
                )
            self._resolve_layout()
            try:
                index = self._index_layout()
            except OSError as exc:  # e.g. a folder without read permission
                raise DatasetError(f"{self._where()}: cannot list {self.root}: {exc}") from exc
            for split in ("train", "test"):
                if not index[split]:
                    raise DatasetError(
                        f"{self._where()}: the {split} split of {self.root} has no images "
                        f"(supported: {' '.join(EXTENSIONS)}).\n{TREES}"
                    )
            self.__dict__["_index_cache"] = index
        return self.__dict__["_index_cache"]

    def _index_layout(self) -> dict[str, list[_Entry]]:
        if self.layout not in ("pix2pix", "cyclegan", "csv"):
            raise DatasetError(f"{self._where()}: the {self.layout} layout needs its adapter class; register the "
                               f"dataset with `vbench datasets add NAME PATH --layout {self.layout}`")
        return {"pix2pix": self._index_pix2pix, "cyclegan": self._index_cyclegan, "csv": self._index_csv}[self.layout]()

    def counts(self) -> dict[str, int]:
        """Images per split, from file names only."""
        return {split: len(entries) for split, entries in self._index().items()}

    def _index_pix2pix(self) -> dict[str, list[_Entry]]:
        for side in ("A", "B"):
            if not (self.root / side).is_dir():
                raise DatasetError(
                    f"{self._where()}: {self.root / side} is missing. The pix2pix layout needs ROOT/A/<split> "
                    f"(inputs) and ROOT/B/<split> (targets).\n{TREES}"
                )
        return {s: self._pair_by_name(self.root / "A" / s, self.root / "B" / s) for s in SPLITS}

    def _index_cyclegan(self) -> dict[str, list[_Entry]]:
        missing = [d for d in ("trainA", "trainB", "testA", "testB") if not (self.root / d).is_dir()]
        if (self.root / "valA").is_dir() != (self.root / "valB").is_dir():
            missing.append("valB" if (self.root / "valA").is_dir() else "valA")
        if missing:
            raise DatasetError(
                f"{self._where()}: the cyclegan layout in {self.root} lacks the folder(s) {', '.join(missing)}. "
                f"Create them (valA/valB are optional but go together).\n{TREES}"
            )
        index = {}
        for split in SPLITS:
            a_dir, b_dir = self.root / f"{split}A", self.root / f"{split}B"
            if self.pairing != "unpaired":
                index[split] = self._pair_by_name(a_dir, b_dir)
                continue
            inputs, targets = _images_by_stem(a_dir), _images_by_stem(b_dir)
            if inputs and not targets:
                raise DatasetError(f"{self._where()}: {b_dir} has no images but {a_dir} has {len(inputs)}; add targets")
            pool = [targets[k] for k in sorted(targets)]
            # Unpaired: targets are drawn independently, in sorted order, cycling over the split's B files.
            # Only test may use a same-named B file as truth; train must stay unpaired.
            index[split] = [
                _Entry(stem, inputs[stem], pool[i % len(pool)], targets.get(stem) if split == "test" else None, False)
                for i, stem in enumerate(sorted(inputs))
            ]
        return index

    def _pair_by_name(self, a_dir: Path, b_dir: Path) -> list[_Entry]:
        inputs, targets = _images_by_stem(a_dir), _images_by_stem(b_dir)
        for stem, path in inputs.items():
            if stem not in targets:
                raise DatasetError(
                    f"{self._where()}: input {path} has no target: expected {b_dir / path.name} "
                    f"(same name, any of {' '.join(EXTENSIONS)}). Add the target or remove the input."
                )
        for stem, path in targets.items():
            if stem not in inputs:
                raise DatasetError(
                    f"{self._where()}: target {path} has no input: expected {a_dir / path.name}. "
                    f"Add the input or remove the target."
                )
        return [self._entry(stem, inputs[stem], targets[stem]) for stem in sorted(inputs)]

    def _entry(self, id_: str, inp: Path, target: Path) -> _Entry:
        return _Entry(id_, inp, target, target if self.pairing == "paired" else None, True)

    def _csv_file(self) -> Path:
        if self.root.is_file():
            return self.root
        found = sorted(p for p in self.root.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) or "none"
            raise DatasetError(
                f"{self._where()}: the csv layout needs exactly one *.csv in {self.root} (found: {listed}). "
                f"Pass the CSV file itself as the path.\n{TREES}"
            )
        return found[0]

    def _index_csv(self) -> dict[str, list[_Entry]]:
        path = self._csv_file()
        base = path.parent
        index: dict[str, list[_Entry]] = {s: [] for s in SPLITS}
        seen: dict[str, int] = {}
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                columns = [c.strip() for c in reader.fieldnames or []]
                missing = [c for c in ("input", "target", "split") if c not in columns]
                if missing:
                    raise DatasetError(
                        f"{self._where()}: {path} lacks the column(s) {', '.join(missing)}. Its first line must be "
                        f"the header input,target,split (found: {','.join(columns) or 'nothing'})."
                    )
                reader.fieldnames = columns
                for row_no, row in enumerate(reader, start=1):
                    where = f"{self._where()}: {path} row {row_no} (line {reader.line_num})"
                    split = (row["split"] or "").strip()
                    if split not in SPLITS:
                        raise DatasetError(f"{where}: split {split!r} is not one of train, val, test; fix that cell")
                    files = {}
                    for col in ("input", "target"):
                        value = (row[col] or "").strip()
                        if not value:
                            raise DatasetError(f"{where}: the {col} cell is empty; give a path relative to {base}")
                        file = base / value
                        if file.suffix.lower() not in EXTENSIONS:
                            raise DatasetError(
                                f"{where}: {col} {value!r} is not a supported image ({' '.join(EXTENSIONS)})"
                            )
                        if not file.is_file():
                            raise DatasetError(
                                f"{where}: {col} file {file} does not exist (paths are relative to {base})"
                            )
                        files[col] = file
                    id_ = Path(row["input"].strip()).with_suffix("").as_posix()
                    if id_ in seen:
                        raise DatasetError(
                            f"{where}: input {row['input'].strip()!r} is listed again (first at row {seen[id_]})"
                        )
                    seen[id_] = row_no
                    index[split].append(self._entry(id_, files["input"], files["target"]))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"{self._where()}: cannot read {path}: {exc}") from exc
        return index

    # -- channels ------------------------------------------------------------------------------

    @property
    def in_channels(self) -> int:
        if self._in_channels is None:
            # Detected from the first input's header only when it was not given at construction.
            index = self._index()
            first = next(e.input for s in SPLITS for e in index[s])
            self._in_channels = _input_channels(_peek_mode(first, self._where()), first, self._where())
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
        for e in index:
            x = _read_image(e.input, "input", self._where())
            if split != "test":  # stainers batch train and val tiles; test tiles are grouped by size
                if first is None:
                    first = (e.input, *x.shape[1:])
                elif tuple(x.shape[1:]) != first[1:]:
                    raise DatasetError(
                        f"{self._where()}: the {split} split mixes image sizes: {e.input} is {x.shape[2]}x{x.shape[1]} "
                        f"but {first[0]} is {first[2]}x{first[1]} (width x height). Crop or resize the {split} images "
                        f"to one size (the test split may mix sizes)."
                    )
            if x.shape[0] != self.in_channels:
                raise DatasetError(
                    f"{self._where()}: inputs have mixed channel counts: {e.input} is {_channels_word(x.shape[0])} "
                    f"while {self._channels_from} is {_channels_word(self.in_channels)}. Make all inputs grayscale "
                    f"or all RGB (e.g. Image.open(p).convert('L')), or register the dataset again (replace=True)."
                )
            y = memo.get(e.target)
            if y is None:
                y = _read_image(e.target, "target", self._where())
                if not e.matched:
                    memo[e.target] = y
            if e.matched:
                self._check_size(e.input, x, e.target, y)
            t = None
            if e.truth is not None:
                t = y if e.truth == e.target else _read_image(e.truth, "target", self._where())
                if e.truth != e.target:
                    self._check_size(e.input, x, e.truth, t)
            yield e, x, y, t

    def _check_size(self, inp: Path, x, target: Path, y) -> None:
        h, w = x.shape[1:]
        big_h, big_w = y.shape[1:]
        s = self.scale
        if (big_h, big_w) != (h * s, w * s):
            raise DatasetError(
                f"{self._where()}: input {inp} is {w}x{h} and target {target} is {big_w}x{big_h} (width x height); "
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
            if e.truth is not None and e.truth != e.target:
                meta["truth_path"] = str(e.truth)
            samples.append(vbench.Sample(e.id, torch.from_numpy(x), target, truth, meta))
        return samples

    def validate(self) -> FolderDataset:
        """Reads every image fully (so truncated files are found) and checks modes, sizes and channels."""
        for split in SPLITS:
            for _ in self._read_split(split):
                pass
        return self

    def manifest(self) -> dict:
        index = self._index()
        digests: dict[Path, str] = {}

        def sha(path: Path) -> str:
            if path not in digests:
                digests[path] = _sha256_file(path, self._where())
            return digests[path]

        base = self.root if self.root.is_dir() else self.root.parent

        def rel(path: Path) -> str:
            return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)

        rows = []
        for split in SPLITS:
            for e in index[split]:
                row = {"id": e.id, "split": split, "input": rel(e.input), "input_sha256": sha(e.input),
                       "target": rel(e.target), "target_sha256": sha(e.target)}
                if e.truth is not None and e.truth != e.target:
                    row["truth"], row["truth_sha256"] = rel(e.truth), sha(e.truth)
                rows.append(row)
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
        return vbench_home() / MANIFESTS / f"{self.name}.json"

    def committed_manifest(self) -> dict | None:
        """The manifest recorded by `vbench datasets add`, so `verify` finds files changed since."""
        path = self.recorded_path()
        return mf.read(path) if path.is_file() else None

    def info(self) -> dict:
        counts = self.counts()
        recorded = self.committed_manifest()
        out = {
            "files": f"{self.root} ({self.layout} layout)",
            "tiles": ", ".join(f"{split} {counts[split]}" for split in SPLITS),
            "splits": self.split_note,
        }
        if recorded is not None:
            out["manifest hash"] = f"{mf.manifest_hash(recorded)} (recorded when added; `vbench datasets verify "\
                                   f"{self.name}` re-hashes the files)"
            out["manifest"] = str(self.recorded_path())
        else:
            out["manifest hash"] = f"{self.manifest_hash} (of the files now; none was recorded)"
        return out

    split_note = "as given by the folders / CSV"


def detect_layout(root: Path, name: str = "") -> str:
    """``pix2pix`` if ROOT has A/ or B/, ``cyclegan`` if it has trainA/.../testB, else ``csv`` if it
    is a .csv file or holds a .csv file."""
    who = f"folder dataset {name!r}: " if name else ""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{who}{root} does not exist. Check the path.")
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "csv"
        raise DatasetError(f"{who}{root} is a file but not a .csv manifest; pass a folder or a CSV file.\n{TREES}")
    try:
        names = {p.name for p in root.iterdir()}
    except OSError as exc:
        raise DatasetError(f"{who}cannot list {root}: {exc}") from exc
    if names & {"HER2", "ER", "Ki67", "PR"} and "TrainValAB" not in names:
        stains = ", ".join(sorted(names & {"HER2", "ER", "Ki67", "PR"}))
        raise DatasetError(
            f"{who}{root} looks like the top of MIST ({stains}); MIST holds one dataset per stain: register one "
            f"stain folder, e.g. `vbench datasets add mist-her2 {root / 'HER2'} --layout mist`."
        )
    found = []
    if names & {"HE", "IHC"}:
        found.append("bci")
    if "TrainValAB" in names:
        found.append("mist")
    if names & {"A", "B"}:
        found.append("pix2pix")
    if names & {f"{s}{side}" for s in SPLITS for side in "AB"}:
        found.append("cyclegan")
    if len(found) > 1:
        raise DatasetError(f"{who}{root} has folders of several layouts ({', '.join(found)}); pass layout= to choose")
    if found:
        return found[0]
    # A stray notes.csv beside image folders should not win, hence csv last.
    if any(n.lower().endswith(".csv") for n in names):
        return "csv"
    listing = ", ".join(sorted(names)[:10]) + (", ..." if len(names) > 10 else "")
    raise DatasetError(f"{who}no recognised dataset layout in {root} (it holds: {listing or 'nothing'}).\n{TREES}")


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for p in sorted(folder.iterdir()):
        # Dot files include macOS "._x.png" resource forks, which are not images.
        if p.name.startswith(".") or p.suffix.lower() not in EXTENSIONS or not p.is_file():
            continue
        if p.stem in found:
            raise DatasetError(f"{found[p.stem]} and {p} have the same name; ids must be unique: rename or remove one")
        found[p.stem] = p
    return found


def _channels_word(c: int) -> str:
    return "grayscale (1 channel)" if c == 1 else f"RGB ({c} channels)"


def _input_channels(mode: str, path: Path, where: str) -> int:
    if mode in GRAY_MODES:
        return 1
    if mode == "RGB":
        return 3
    raise DatasetError(
        f"{where}: input {path} has image mode {mode}; inputs must be grayscale (8 or 16 bit) or 8-bit RGB. "
        f"Convert it, e.g. Image.open(p).convert('L') or .convert('RGB')."
    )


def _peek_mode(path: Path, where: str) -> str:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{where}: cannot read image {path}: {exc}. Re-export or remove the file.") from exc


def _read_image(path: Path, role: str, where: str):
    """The image as a float32 C x H x W array in [0, 1]; 8-bit / 255, 16-bit / 65535."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()  # decodes everything, so a truncated file fails here
            mode = im.mode
            if role == "target" and mode != "RGB":
                raise DatasetError(
                    f"{where}: target {path} has image mode {mode}, but targets must be RGB (the stained image). "
                    f"Convert it, e.g. Image.open(p).convert('RGB').save(p)."
                )
            if role == "input":
                _input_channels(mode, path, where)
            arr = np.asarray(im)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{where}: cannot read {role} image {path}: {exc}. Re-export or remove the file.") from exc
    if arr.dtype == bool:
        out = arr.astype(np.float32)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 1:
        out = arr.astype(np.float32) / np.float32(255)
    elif arr.dtype.kind in "ui" and arr.dtype.itemsize <= 4:
        # 16-bit grayscale (mode I;16, or I for PNGs in some Pillow versions)
        if arr.min() < 0 or arr.max() > 65535:
            raise DatasetError(
                f"{where}: {role} {path} holds values outside 0..65535; only 8- and 16-bit images are supported"
            )
        out = arr.astype(np.float32) / np.float32(65535)
    else:
        raise DatasetError(f"{where}: {role} {path} has unsupported pixel type {arr.dtype}; save it as 8- or 16-bit")
    out = out[None] if out.ndim == 2 else out.transpose(2, 0, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def _sha256_file(path: Path, where: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise DatasetError(f"{where}: cannot read {path}: {exc}") from exc


# -- the user's registry of folder datasets ------------------------------------------------------


def vbench_home() -> Path:
    return Path(os.environ.get("VBENCH_HOME") or "~/.vbench").expanduser()


def _check_name(name) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise DatasetError(
            f"invalid dataset name {name!r}: use lower-case letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (e.g. 'my-he-stains')"
        )


def registered_folder_datasets() -> dict:
    """Name -> {"path", "layout", "pairing", "scale", "in_channels"} of every registered folder dataset."""
    path = vbench_home() / REGISTRY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read the dataset registry {path}: {exc}") from exc
    fix = "Fix it by hand or move it away; vbench does not overwrite it."
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"the dataset registry {path} is not valid JSON ({exc}). {fix}") from exc
    entries = data.get("datasets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise DatasetError(f'the dataset registry {path} lacks a "datasets" object. {fix}')
    for name, cfg in entries.items():
        ok = isinstance(cfg, dict) and isinstance(cfg.get("path"), str) and NAME_RE.fullmatch(name)
        if not ok:
            raise DatasetError(f"the dataset registry {path} has a malformed entry {name!r}. {fix}")
    return entries


def _write_registry(entries: dict) -> None:
    path = vbench_home() / REGISTRY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file in the same folder then os.replace: readers never see a half-written file.
    fd, tmp = tempfile.mkstemp(prefix=".datasets-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "datasets": entries}, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def folder_dataset(name, root, *, layout="auto", **kwargs) -> FolderDataset:
    """A FolderDataset, or the adapter class of a public dataset layout (BCI, MIST)."""
    if layout == "auto":
        with contextlib.suppress(DatasetError):  # a vanished folder is reported on load
            layout = detect_layout(Path(root).expanduser(), name)
    if layout in ("bci", "mist"):
        from .public import ADAPTERS

        return ADAPTERS[layout](name, root, **kwargs)
    return FolderDataset(name, root, layout=layout, **kwargs)


def add_folder_dataset(name, path, *, pairing=None, scale=1, layout="auto", replace=False) -> FolderDataset:
    """Validates every image of the folder and registers it under ``name``."""
    _check_name(name)
    entries = registered_folder_datasets()
    if name in entries and not replace:
        raise DatasetError(
            f"a folder dataset named {name!r} is already registered ({entries[name]['path']}); "
            f"choose another name or pass replace=True"
        )
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"cannot add dataset {name!r}: {root} does not exist. Check the path.")
    ds = folder_dataset(name, root.resolve(), layout=layout, pairing=pairing, scale=scale).validate()
    mf.write(ds.recorded_path(), ds.manifest())
    entries[name] = {
        "path": str(ds.root),
        "layout": ds.layout,
        "pairing": ds.pairing,
        "scale": ds.scale,
        "in_channels": ds.in_channels,
    }
    _write_registry(entries)
    return ds


def remove_folder_dataset(name) -> dict:
    """Forgets a registered folder dataset (its files are left alone); returns its entry."""
    entries = registered_folder_datasets()
    if name not in entries:
        close = difflib.get_close_matches(str(name), list(entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        known = ", ".join(sorted(entries)) or "(none)"
        raise DatasetError(f"no folder dataset named {name!r} is registered.{hint} Registered: {known}")
    cfg = entries.pop(name)
    _write_registry(entries)
    with contextlib.suppress(FileNotFoundError):
        (vbench_home() / MANIFESTS / f"{name}.json").unlink()
    return cfg


@vbench.hookimpl
def vbench_register_datasets(register):
    for name, cfg in registered_folder_datasets().items():
        try:
            ds = folder_dataset(
                name,
                cfg["path"],
                layout=cfg.get("layout", "auto"),
                pairing=cfg.get("pairing"),
                scale=cfg.get("scale", 1),
                in_channels=cfg.get("in_channels"),
            )
        except DatasetError as exc:
            raise DatasetError(f"{vbench_home() / REGISTRY_FILE}, entry {name!r}: {exc}") from exc
        register(ds)
