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
}
LAYOUTS = tuple(LINES)
FALLBACK = ("csv",)  # a stray notes.csv beside image folders must not win over them
TREES = ("Expected one of these layouts:\n" + "\n".join(LINES.values())
         + f"\nImage files may be {' '.join(EXTENSIONS)}.")

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


DETECT = {"pix2pix": is_pix2pix, "cyclegan": is_cyclegan, "csv": is_csv, "bci": is_bci, "mist": is_mist}


def detect_layout(root: Path, name: str = "") -> str:
    """The one layout of this plugin that ``root`` has (a .csv file is the csv layout)."""
    who = f"folder dataset {name!r}: " if name else ""
    return choose_layout(Path(root), DETECT, fallback=FALLBACK, trees=TREES, who=who)
