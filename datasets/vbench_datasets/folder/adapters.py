"""Adapters for public datasets, read from a copy the user downloaded: BCI and MIST (H&E -> IHC) and
DSD (dark-field unstained -> H&E, the distillation paper's data).

BCI, MIST and DSD_P pair an image with the stain of the *consecutive* section, so their pairing is
``misaligned`` and no aligned truth exists: full-reference metrics compare with that section, and
``@reg`` metrics with it registered to the prediction. DSD_U is unpaired. Each applies the
dataset's official split; none has a validation split (``val`` is empty). Register one with
``vbench datasets add NAME PATH --layout bci|mist|dsd``; the manifest of its files is recorded then.
"""

from __future__ import annotations

from pathlib import Path

from vbench.dataset import SPLITS
from vbench.errors import DatasetError

from .folder_dataset import FolderDataset
from .image_files import EXTENSIONS, files_by_stem
from .index import Entry, entry
from .trees import BCI_TREE, DSD_TREE, MIST_STAINS, MIST_TREE


class PublicDataset(FolderDataset):
    """A fixed folder layout with an official split; reports everything missing at once."""

    layout_name = ""
    tree = ""
    split_note = ""
    folders: dict = {}  # split -> (input folder, target folder), relative to the root
    modality = "he"  # the inputs are H&E brightfield images
    stain = "ihc-dab"  # IHC revealed by DAB, counterstained with haematoxylin

    def __init__(self, name, root, *, layout=None, **options):
        super().__init__(name, root, layout=self.layout_name, **options)

    def default_pairing(self) -> str:
        return "misaligned"

    def index_files(self) -> dict[str, list[Entry]]:
        where = self.where()
        missing = [rel for pair in self.folders.values() for rel in pair if not (self.root / rel).is_dir()]
        if missing:
            raise DatasetError(
                f"{where}: {self.root} is not a complete {self.layout_name.upper()} copy; missing folder(s): "
                f"{', '.join(missing)}.\n{self.tree}"
            )
        index: dict[str, list[Entry]] = {s: [] for s in SPLITS}
        problems = []
        for split, (a_rel, b_rel) in self.folders.items():
            inputs, targets = files_by_stem(self.root / a_rel, where), files_by_stem(self.root / b_rel, where)
            if not inputs:
                problems.append(f"{a_rel} has no images ({' '.join(EXTENSIONS)})")
            if self.pairing == "unpaired":
                if not targets:
                    problems.append(f"{b_rel} has no images ({' '.join(EXTENSIONS)})")
                    continue
                # Targets drawn independently: sorted, cycling over the split's B files; no truth.
                pool = [targets[k] for k in sorted(targets)]
                index[split] = [
                    Entry(k, inputs[k], pool[i % len(pool)], None, False) for i, k in enumerate(sorted(inputs))
                ]
                continue
            problems += [
                f"{b_rel}/{p.stem}.* (partner of {a_rel}/{p.name})" for k, p in inputs.items() if k not in targets
            ]
            problems += [
                f"{a_rel}/{p.stem}.* (partner of {b_rel}/{p.name})" for k, p in targets.items() if k not in inputs
            ]
            index[split] = [entry(k, inputs[k], targets[k], self.pairing) for k in sorted(inputs) if k in targets]
        if problems:
            shown = "\n  ".join(problems[:10]) + (
                f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            )
            raise DatasetError(
                f"{where}: {self.root} is a partial {self.layout_name.upper()} copy; missing:\n  {shown}\n"
                f"Download the missing files again, or remove the unpaired ones.\n{self.tree}"
            )
        return index


class BciDataset(PublicDataset):
    """BCI: H&E -> HER2 IHC, 1024 x 1024 px pairs of consecutive breast cancer sections."""

    layout_name = "bci"
    tree = BCI_TREE
    task = "he->ihc-her2"
    folders = {"train": ("HE/train", "IHC/train"), "test": ("HE/test", "IHC/test")}
    split_note = "BCI's official split: train and test (no val)"


class MistDataset(PublicDataset):
    """MIST: H&E -> one IHC stain (HER2, ER, Ki67 or PR) of consecutive breast cancer sections."""

    layout_name = "mist"
    tree = MIST_TREE
    folders = {"train": ("TrainValAB/trainA", "TrainValAB/trainB"), "test": ("TrainValAB/valA", "TrainValAB/valB")}
    split_note = "MIST's official split: train -> train, val -> test (no val)"

    def __init__(self, name, root, **options):
        super().__init__(name, root, **options)
        stain = next((s for s in MIST_STAINS if s.lower() == Path(root).name.lower()), None)
        self.task = f"he->ihc-{stain.lower()}" if stain else "he->ihc"


class DsdDataset(PublicDataset):
    """DSD: dark-field images of unstained sections -> bright-field H&E, 256 px tiles (the
    distillation paper's public data). DSD_P pairs each input with the H&E of the same tissue, not
    aligned (``misaligned``); DSD_U is ``unpaired``. The pairing is
    read from the folder name (DSD_P / DSD_U), else ``misaligned``; ``--pairing`` overrides it."""

    layout_name = "dsd"
    tree = DSD_TREE
    task = "darkfield->he"
    modality = "darkfield"
    stain = "he"
    folders = {"train": ("train/A", "train/B"), "test": ("val/A", "val/B")}
    split_note = "DSD's official split: train -> train, val -> test (no val)"

    def default_pairing(self) -> str:
        return "unpaired" if "dsd_u" in self.root.name.lower() else "misaligned"


ADAPTERS = {"bci": BciDataset, "mist": MistDataset, "dsd": DsdDataset}
