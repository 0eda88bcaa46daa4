"""The csv layout's index: one CSV file with the header ``input,target,split`` and a row per tile.
Every row is checked (:class:`Row`: a known split, image paths as plain text, relative to the CSV
file's folder and inside it) before any image is opened, and every problem names the file, the
row and line, the column and what it should hold."""

from __future__ import annotations

import csv
import io
import posixpath
from pathlib import Path, PureWindowsPath

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from vbench.dataset import SPLITS
from vbench.errors import DatasetError
from vbench.validation import read_text, shown
from vbench.visible import line

from .entries import Entry, entry
from .image_files import EXTENSIONS
from .trees import TREES

COLUMNS = ("input", "target", "split")
PATH_LIMIT = 4096  # characters of a path cell (Linux's PATH_MAX)


class Row(BaseModel):
    """One row as written (cells stripped of surrounding spaces); paths come back normalised
    (``in/./a.png`` -> ``in/a.png``), so the same file is one id however it is written."""

    model_config = ConfigDict(strict=True, frozen=True)

    input: str
    target: str
    split: str

    @field_validator("split")
    @classmethod
    def known_split(cls, value: str) -> str:
        if value.strip() not in SPLITS:
            raise ValueError(f"is not one of {', '.join(SPLITS)}; fix that cell")
        return value.strip()

    @field_validator("input", "target")
    @classmethod
    def relative_image(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty; give the image's path relative to the CSV file's folder")
        if len(value) > PATH_LIMIT:
            raise ValueError(f"is longer than {PATH_LIMIT} characters, which no file path is")
        if line(value) != value:
            raise ValueError("holds a control character or a line break; rename the file without it")
        if value.startswith(("/", "\\", "~")) or PureWindowsPath(value).drive:
            raise ValueError("is an absolute path; give the path relative to the CSV file's folder")
        path = posixpath.normpath(value)
        if path == ".." or path.startswith("../"):
            raise ValueError("leaves the CSV file's folder (..); every image must be inside it")
        if posixpath.splitext(path)[1].lower() not in EXTENSIONS:
            raise ValueError(f"is not a supported image ({' '.join(EXTENSIONS)})")
        return path


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


def read_rows(path: Path, where: str):
    """(row number, line number, :class:`Row`) for each row of the CSV file at ``path``."""
    text = read_text(path, str(path), DatasetError, prefix=f"{where}: ", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [c.strip() for c in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise DatasetError(
                f"{where}: {path} lacks the column(s) {', '.join(missing)}. Its first line must be "
                f"the header input,target,split (found: {shown(','.join(header), 80) if header else 'nothing'})."
            )
        twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
        if twice is not None:
            raise DatasetError(f"{where}: {path} line 1 names the column {shown(twice)} twice; name each once")
        for row_no, cells in enumerate((c for c in reader if c), start=1):
            at = f"{where}: {path} row {row_no} (line {reader.line_num})"
            if len(cells) != len(header):
                raise DatasetError(
                    f"{at}: {len(cells)} cell{'s' * (len(cells) != 1)} where the header has {len(header)} "
                    f'(quote a cell that holds a comma: "a,b.png")'
                )
            values = dict(zip(header, cells))
            try:
                yield row_no, reader.line_num, Row(**{c: values[c] for c in COLUMNS})
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                column = first["loc"][0]
                msg = line(first["msg"].removeprefix("Value error, "))
                raise DatasetError(f"{at}, column {column}: {shown(values[column].strip())} {msg}") from None
    except csv.Error as exc:
        raise DatasetError(f"{where}: {path} line {reader.line_num} is not readable as CSV: {line(exc)}") from None


def index_csv(root: Path, pairing: str, where: str) -> dict[str, list[Entry]]:
    path = csv_file(root, where)
    base = path.parent
    index: dict[str, list[Entry]] = {s: [] for s in SPLITS}
    seen: dict[str, int] = {}
    for row_no, line_no, row in read_rows(path, where):
        at = f"{where}: {path} row {row_no} (line {line_no})"
        files = {}
        for col in ("input", "target"):
            file = base / getattr(row, col)
            try:
                found = file.is_file()
            except OSError as exc:
                raise DatasetError(f"{at}, column {col}: cannot read {file}: {exc.strerror}") from None
            if not found:
                raise DatasetError(f"{at}, column {col}: file {file} does not exist (paths are relative to {base})")
            files[col] = file
        id_ = posixpath.splitext(row.input)[0]
        if id_ in seen:
            raise DatasetError(f"{at}, column input: {shown(row.input)} is listed again (first at row {seen[id_]})")
        seen[id_] = row_no
        index[row.split].append(entry(id_, files["input"], files["target"], pairing))
    return index
