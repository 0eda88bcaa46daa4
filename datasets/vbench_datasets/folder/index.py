"""Which files make up each split of a pix2pix, CycleGAN or CSV folder: file names only, no image
is opened. Every problem names the file and says how to fix it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vbench.dataset import SPLITS
from vbench.errors import DatasetError

from .image_files import EXTENSIONS, files_by_stem
from .trees import TREES


@dataclass(frozen=True)
class Entry:
    id: str
    input: Path
    target: Path
    truth: Path | None  # the aligned ground truth file, when known
    matched: bool  # target is the input's own pair, so its size must agree with the scale


def entry(id_: str, inp: Path, target: Path, pairing: str) -> Entry:
    """An input with its own target (which is its truth when the pairing is ``paired``)."""
    return Entry(id_, inp, target, target if pairing == "paired" else None, True)


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


def csv_file(root: Path, where: str) -> Path:
    if root.is_file():
        return root
    found = sorted(p for p in root.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise DatasetError(
            f"{where}: the csv layout needs exactly one *.csv in {root} (found: {listed}). "
            f"Pass the CSV file itself as the path.\n{TREES}"
        )
    return found[0]


def index_csv(root: Path, pairing: str, where: str) -> dict[str, list[Entry]]:
    path = csv_file(root, where)
    base = path.parent
    index: dict[str, list[Entry]] = {s: [] for s in SPLITS}
    seen: dict[str, int] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in ("input", "target", "split") if c not in columns]
            if missing:
                raise DatasetError(
                    f"{where}: {path} lacks the column(s) {', '.join(missing)}. Its first line must be "
                    f"the header input,target,split (found: {','.join(columns) or 'nothing'})."
                )
            reader.fieldnames = columns
            for row_no, row in enumerate(reader, start=1):
                at = f"{where}: {path} row {row_no} (line {reader.line_num})"
                split = (row["split"] or "").strip()
                if split not in SPLITS:
                    raise DatasetError(f"{at}: split {split!r} is not one of train, val, test; fix that cell")
                files = {}
                for col in ("input", "target"):
                    value = (row[col] or "").strip()
                    if not value:
                        raise DatasetError(f"{at}: the {col} cell is empty; give a path relative to {base}")
                    file = base / value
                    if file.suffix.lower() not in EXTENSIONS:
                        raise DatasetError(f"{at}: {col} {value!r} is not a supported image ({' '.join(EXTENSIONS)})")
                    if not file.is_file():
                        raise DatasetError(f"{at}: {col} file {file} does not exist (paths are relative to {base})")
                    files[col] = file
                id_ = Path(row["input"].strip()).with_suffix("").as_posix()
                if id_ in seen:
                    raise DatasetError(
                        f"{at}: input {row['input'].strip()!r} is listed again (first at row {seen[id_]})"
                    )
                seen[id_] = row_no
                index[split].append(entry(id_, files["input"], files["target"], pairing))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{where}: cannot read {path}: {exc}") from exc
    return index


INDEXES = {"pix2pix": index_pix2pix, "cyclegan": index_cyclegan, "csv": index_csv}
