"""The folder layouts' trees: what each expects (shown in errors) and how each is recognised from
file names alone (``--layout auto``)."""

from __future__ import annotations

from pathlib import Path

from vbench.dataset import SPLITS
from vbench.errors import DatasetError
from vbench.images import EXTENSIONS
from vbench.layouts import choose_layout

LINES = {
    "pix2pix": "  pix2pix:  ROOT/A/{train,val,test}/NAME.png (inputs) and ROOT/B/{train,val,test}/NAME.png "
    "(targets); val is optional",
    "cyclegan": "  cyclegan: ROOT/trainA, ROOT/trainB, ROOT/testA, ROOT/testB (+ optional ROOT/valA, ROOT/valB)",
    "csv": "  csv:      ROOT/NAME.csv with a header input,target,split (paths relative to the CSV file's folder)",
    "bci": "  bci:      ROOT/HE/{train,test}/NAME.png and ROOT/IHC/{train,test}/NAME.png (the BCI dataset)",
    "mist": "  mist:     ROOT/TrainValAB/{trainA,trainB,valA,valB}/NAME.jpg, ROOT being one stain of MIST "
    "(e.g. MIST/HER2)",
    "dsd": "  dsd:      ROOT/{train,val}/{A,B}/NAME.png (A dark-field unstained, B H&E; C, light-enhanced, is not "
    "used), ROOT being DSD_P or DSD_U",
}
LAYOUTS = tuple(LINES)
FALLBACK = ("csv",)  # a stray notes.csv beside image folders must not win over them
TREES = "Expected one of these layouts:\n" + "\n".join(LINES.values()) + f"\nImage files may be {' '.join(EXTENSIONS)}."

BCI_TREE = """Expected the BCI layout (https://bupt-ai-cz.github.io/BCI, Liu et al. 2022):
  ROOT/
    HE/train/NAME.png    H&E inputs      IHC/train/NAME.png    HER2 IHC targets (same NAME)
    HE/test/NAME.png                     IHC/test/NAME.png
Official split: train -> train, test -> test (no validation split)."""

MIST_TREE = """Expected one stain of the MIST layout (Li et al. 2023), ROOT being e.g. MIST/HER2:
  ROOT/
    TrainValAB/trainA/NAME.jpg   H&E inputs    TrainValAB/trainB/NAME.jpg   IHC targets (same NAME)
    TrainValAB/valA/NAME.jpg                   TrainValAB/valB/NAME.jpg
Official split: train -> train, val -> test (MIST publishes no separate test set; no validation split)."""

MIST_STAINS = ("HER2", "ER", "Ki67", "PR")

DSD_TREE = """Expected one set of the DSD layout (the dark-field staining datasets DSD_P, paired but
misaligned, and DSD_U, unpaired), ROOT being DSD_P or DSD_U:
  ROOT/
    train/A/S__K.png   dark-field unstained inputs    train/B/S__K.png   bright-field H&E targets
    val/A/S__K.png                                    val/B/S__K.png
    (train/C, val/C: the authors' light-enhanced images, not used)
In DSD_P an input and its target share their name; in DSD_U they need not.
Official split: train -> train, val -> test (no validation split)."""
DSD_SETS = ("DSD_P", "DSD_U")


def names_in(root: Path) -> set[str]:
    try:
        return {p.name for p in root.iterdir()} if root.is_dir() else set()
    except OSError as exc:
        raise DatasetError(f"cannot list {root}: {exc}") from exc


def is_pix2pix(root: Path) -> bool:
    return bool(names_in(root) & {"A", "B"})


def is_cyclegan(root: Path) -> bool:
    return bool(names_in(root) & {f"{split}{side}" for split in SPLITS for side in "AB"})


def is_csv(root: Path) -> bool:
    if root.is_file():
        return root.suffix.lower() == ".csv"
    return any(n.lower().endswith(".csv") for n in names_in(root))


def is_bci(root: Path) -> bool:
    return bool(names_in(root) & {"HE", "IHC"})


def is_mist(root: Path) -> bool:
    names = names_in(root)
    stains = names & set(MIST_STAINS)
    if stains and "TrainValAB" not in names:
        raise DatasetError(
            f"{root} looks like the top of MIST ({', '.join(sorted(stains))}); MIST holds one dataset per stain: "
            f"register one stain folder, e.g. `vbench datasets add mist-her2 {root / 'HER2'} --layout mist`."
        )
    return "TrainValAB" in names


def is_dsd(root: Path) -> bool:
    names = names_in(root)
    sets = {n for n in names if n.upper() in DSD_SETS}
    if sets and not names & {"train", "val"}:
        first = min(sets)
        raise DatasetError(
            f"{root} looks like the top of DSD ({', '.join(sorted(sets))}); DSD holds one dataset per set: register "
            f"one, e.g. `vbench datasets add dsd-p {root / first} --layout dsd`."
        )
    return any((root / split / side).is_dir() for split in ("train", "val") for side in "AB")


DETECT = {"pix2pix": is_pix2pix, "cyclegan": is_cyclegan, "csv": is_csv, "bci": is_bci, "mist": is_mist, "dsd": is_dsd}


def detect_layout(root: Path, name: str = "") -> str:
    """The one layout of this plugin that ``root`` has (a .csv file is the csv layout)."""
    who = f"folder dataset {name!r}: " if name else ""
    return choose_layout(Path(root), DETECT, fallback=FALLBACK, trees=TREES, who=who)
