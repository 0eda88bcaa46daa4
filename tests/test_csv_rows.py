"""The csv layout's rows, checked before any image is opened (datasets/vbench_datasets/folder/
csv_index.py): a known split, paths as plain text, relative to the CSV file's folder and inside it,
supported images that exist, each listed once. Every error names the file, the row and line, the
column and what the cell should hold, in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench.cli import main
from vbench.errors import DatasetError
from vbench_datasets.folder.csv_index import index_csv

HEADER = "input,target,split\n"


def images(root: Path) -> Path:
    (root / "in").mkdir(parents=True)
    (root / "out").mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8), "L").save(root / "in" / f"a{i}.png")
        Image.fromarray(np.full((16, 16, 3), 90 + i, np.uint8), "RGB").save(root / "out" / f"a{i}.png")
    return root


@pytest.fixture
def root(tmp_path) -> Path:
    return images(tmp_path / "d")


def index(root: Path, text: str | bytes):
    path = root / "pairs.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return index_csv(path, "paired", "dataset 'mine'")


@pytest.mark.parametrize(
    "rows, expected",
    [
        ("in/a0.png,out/a0.png,tset\n", "row 1 (line 2), column split: 'tset' is not one of train, val, test"),
        ("/etc/a0.png,out/a0.png,train\n", "column input: '/etc/a0.png' is an absolute path; give the path relative"),
        ("in/a0.png,~/a0.png,train\n", "column target: '~/a0.png' is an absolute path"),
        ("C:\\\\a0.png,out/a0.png,train\n", "column input: 'C:\\\\\\\\a0.png' is an absolute path"),
        ("../d/in/a0.png,out/a0.png,train\n", "column input: '../d/in/a0.png' leaves the CSV file's folder (..)"),
        ("in/../../d/in/a0.png,out/a0.png,train\n", "'in/../../d/in/a0.png' leaves the CSV file's folder"),
        ("in/a0\x1b[2J.png,out/a0.png,train\n", "column input: 'in/a0\\x1b[2J.png' holds a control character"),
        ("in/a0\u202egnp.png,out/a0.png,train\n", "'in/a0\\u202egnp.png' holds a control character"),
        ('"in/a0\n.png",out/a0.png,train\n', "row 1 (line 3), column input: 'in/a0\\n.png' holds a control character"),
        (",out/a0.png,train\n", "column input: '' is empty; give the image's path relative to the CSV file's folder"),
        ("in/a0.txt,out/a0.png,train\n", "column input: 'in/a0.txt' is not a supported image (.png"),
        ("in/a0.png,out/a0.png\n", "row 1 (line 2): 2 cells where the header has 3"),
        ("in/a0.png,out/a0.png,train,extra\n", "row 1 (line 2): 4 cells where the header has 3"),
        ("in/zz.png,out/a0.png,train\n", "row 1 (line 2), column input: file "),
        (
            "in/a0.png,out/a0.png,train\n./in/a0.png,out/a1.png,test\n",
            "row 2 (line 3), column input: 'in/a0.png' is listed again (first at row 1)",
        ),
        ("in/" + "x" * 5000 + ".png,out/a0.png,train\n", "is longer than 4096 characters"),
        ("in/" + "x" * 300 + ".png,out/a0.png,train\n", "column input: cannot read"),
    ],
)
def test_a_bad_row_names_the_file_row_line_column_and_what_it_should_hold(root, rows, expected):
    with pytest.raises(DatasetError) as info:
        index(root, HEADER + rows)
    msg = str(info.value)
    assert msg.startswith(f"dataset 'mine': {root / 'pairs.csv'} ") and expected in msg, msg
    assert "\n" not in msg and "\x1b" not in msg and "\u202e" not in msg


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            b"input,target,split\nin/a0.png,out/\xff.png,train\n",
            "is not UTF-8 text: byte 0xff on line 2; save it as UTF-8",
        ),
        (b"input,target\nin/a0.png,out/a0.png\n", "lacks the column(s) split. Its first line must be the header"),
        (b"", "lacks the column(s) input, target, split"),
        (b"input,input,target,split\n", "line 1 names the column 'input' twice"),
        (b'input,target,split\n"in/a0.png,out/a0.png,train', "line 2 is not readable as CSV: unexpected end of data"),
    ],
)
def test_a_bad_file_is_one_line(root, text, expected):
    with pytest.raises(DatasetError, match="dataset 'mine': .*pairs.csv") as info:
        index(root, text)
    assert expected in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_good_rows_keep_their_ids_and_normalise_their_paths(root):
    got = index(root, "\ufeff" + HEADER + " in/a0.png , out/./a0.png,train\nin/sub/../a1.png,out/a1.png, test \n")
    assert [e.id for e in got["train"]] == ["in/a0"] and [e.id for e in got["test"]] == ["in/a1"]
    assert got["train"][0].target == root / "out" / "a0.png" and got["val"] == []


def test_datasets_add_reports_a_bad_row_in_one_line(root, capsys):
    (root / "pairs.csv").write_text(HEADER + "in/a0.png,out/a0.png,train\n../../etc/passwd.png,out/a1.png,test\n")
    code = main(["datasets", "add", "mine", str(root / "pairs.csv")])
    err = capsys.readouterr().err
    assert (
        code == 2
        and "row 2 (line 3), column input: '../../etc/passwd.png' leaves the CSV file's folder" in " ".join(err.split())
    )
    assert "Traceback" not in err
