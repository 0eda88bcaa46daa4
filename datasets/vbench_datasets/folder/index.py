"""Which files make up each split of a pix2pix, CycleGAN or CSV folder: file names only, no image
is opened. Every problem names the file and says how to fix it."""

from __future__ import annotations

from pathlib import Path

from vbench.dataset import SPLITS
from vbench.errors import DatasetError

from .entries import Entry, entry
from .image_files import EXTENSIONS, files_by_stem
from .trees import TREES


def pair_by_name(a_dir: Path, b_dir: Path, pairing: str, where: str) -> list[Entry]:
    inputs, targets = files_by_stem(a_dir, where), files_by_stem(b_dir, where)
    for stem, path in inputs.items():
        if stem not in targets:
            raise DatasetError(
                f"{where}: input {path} has no target: expected {b_dir / path.name} "
                f"(same name, any of {' '.join(EXTENSIONS)}). Add the target or remove the input."
            )
    for stem, path in targets.items():
        if stem not in inputs:
            raise DatasetError(
                f"{where}: target {path} has no input: expected {a_dir / path.name}. "
                f"Add the input or remove the target."
            )
    return [entry(stem, inputs[stem], targets[stem], pairing) for stem in sorted(inputs)]


def index_pix2pix(root: Path, pairing: str, where: str) -> dict[str, list[Entry]]:
    for side in ("A", "B"):
        if not (root / side).is_dir():
            raise DatasetError(
                f"{where}: {root / side} is missing. The pix2pix layout needs ROOT/A/<split> "
                f"(inputs) and ROOT/B/<split> (targets).\n{TREES}"
            )
    return {s: pair_by_name(root / "A" / s, root / "B" / s, pairing, where) for s in SPLITS}


def index_cyclegan(root: Path, pairing: str, where: str) -> dict[str, list[Entry]]:
    missing = [d for d in ("trainA", "trainB", "testA", "testB") if not (root / d).is_dir()]
    if (root / "valA").is_dir() != (root / "valB").is_dir():
        missing.append("valB" if (root / "valA").is_dir() else "valA")
    if missing:
        raise DatasetError(
            f"{where}: the cyclegan layout in {root} lacks the folder(s) {', '.join(missing)}. "
            f"Create them (valA/valB are optional but go together).\n{TREES}"
        )
    index = {}
    for split in SPLITS:
        a_dir, b_dir = root / f"{split}A", root / f"{split}B"
        if pairing != "unpaired":
            index[split] = pair_by_name(a_dir, b_dir, pairing, where)
            continue
        inputs, targets = files_by_stem(a_dir, where), files_by_stem(b_dir, where)
        if inputs and not targets:
            raise DatasetError(f"{where}: {b_dir} has no images but {a_dir} has {len(inputs)}; add targets")
        pool = [targets[k] for k in sorted(targets)]
        # Unpaired: targets are drawn independently, in sorted order, cycling over the split's B files.
        # Only test may use a same-named B file as truth; train must stay unpaired.
        index[split] = [
            Entry(stem, inputs[stem], pool[i % len(pool)], targets.get(stem) if split == "test" else None, False)
            for i, stem in enumerate(sorted(inputs))
        ]
    return index


def index_csv(root: Path, pairing: str, where: str) -> dict[str, list[Entry]]:
    """The csv layout (``csv_index``, with pydantic: loaded when a CSV dataset is read, not on every start)."""
    from .csv_index import index_csv as read

    return read(root, pairing, where)


INDEXES = {"pix2pix": index_pix2pix, "cyclegan": index_cyclegan, "csv": index_csv}
