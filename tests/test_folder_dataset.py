"""Folder datasets (the folder-datasets plugin, datasets/vbench_datasets) and the core registry of
user datasets (vbench/user_datasets.py): layouts, validation, manifest, registry."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vbench import user_datasets
from vbench.errors import DatasetError
from vbench.plugins import load_plugins
from vbench.user_datasets import registered as registered_folder_datasets
from vbench.user_datasets import remove as remove_folder_dataset
from vbench_datasets import folder
from vbench_datasets.folder.folder_dataset import FolderDataset


def add_folder_dataset(name, path, **options):
    """`vbench datasets add` as a library call, through the installed plugins' layouts."""
    return user_datasets.add(name, path, plugins=load_plugins(), **options)


# -- helpers: tiny images made on the fly ------------------------------------------------------------


def rgb(path: Path, size=(16, 16), seed=0) -> Path:
    w, h = size
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path)
    return path


def gray(path: Path, size=(16, 16), seed=0, bits=8) -> Path:
    w, h = size
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if bits == 16:
        Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16)).save(path)
    else:
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L").save(path)
    return path


def make_pix2pix(root: Path, counts=None, in_size=(16, 16), out_size=(16, 16), rgb_input=False) -> Path:
    counts = counts or {"train": 3, "val": 1, "test": 2}
    for split, n in counts.items():
        for i in range(n):
            name = f"{split}{i}.png"
            if rgb_input:
                rgb(root / "A" / split / name, in_size, seed=i)
            else:
                gray(root / "A" / split / name, in_size, seed=i)
            rgb(root / "B" / split / name, out_size, seed=100 + i)
    return root


def make_cyclegan(root: Path) -> Path:
    for i in range(4):
        gray(root / "trainA" / f"a{i}.png", seed=i)
    for i in range(2):
        rgb(root / "trainB" / f"b{i}.png", seed=10 + i)
    for i in range(2):
        gray(root / "testA" / f"t{i}.png", seed=20 + i)
    rgb(root / "testB" / "t0.png", seed=30)  # same name as testA/t0.png: its ground truth
    rgb(root / "testB" / "a9.png", seed=31)  # sorts first, so testA/t0.png draws it as its target
    return root


def make_csv(root: Path, rows=None) -> Path:
    rows = rows or [("train", "t0"), ("train", "t1"), ("val", "v0"), ("test", "s0")]
    lines = ["input,target,split"]
    for i, (split, name) in enumerate(rows):
        gray(root / "in" / f"{name}.tif", seed=i)
        rgb(root / "out" / f"{name}.jpg", seed=50 + i)
        lines.append(f"in/{name}.tif,out/{name}.jpg,{split}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def check_sample(s, in_channels=1, in_size=(16, 16), out_size=(16, 16)):
    assert s.input.dtype == torch.float32 and s.target.dtype == torch.float32
    assert tuple(s.input.shape) == (in_channels, in_size[1], in_size[0])
    assert tuple(s.target.shape) == (3, out_size[1], out_size[0])
    for t in (s.input, s.target):
        assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert Path(s.meta["input_path"]).is_file() and Path(s.meta["target_path"]).is_file()


def raises(match_name: str, fn, *args, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        fn(*args, **kwargs)
    assert match_name in str(info.value), str(info.value)
    return str(info.value)


# -- layouts ------------------------------------------------------------------------------------------


def test_pix2pix_loads(tmp_path):
    ds = FolderDataset("p2p", make_pix2pix(tmp_path / "d"))
    assert (ds.layout, ds.pairing, ds.task, ds.scale, ds.in_channels) == ("pix2pix", "paired", "folder", 1, 1)
    sizes = {split: len(ds.load(split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 3, "val": 1, "test": 2}
    train = ds.load("train")
    assert [s.id for s in train] == ["train0", "train1", "train2"]
    for s in train:
        check_sample(s)
        assert s.truth is s.target
    # 8-bit values divide by 255
    raw = np.asarray(Image.open(tmp_path / "d" / "A" / "train" / "train0.png"))
    assert torch.allclose(train[0].input[0], torch.from_numpy(raw.astype(np.float32) / 255))


def test_pix2pix_without_val_and_rgb_16bit_inputs(tmp_path):
    root = make_pix2pix(tmp_path / "d", counts={"train": 2, "test": 1}, rgb_input=True)
    ds = FolderDataset("p2p", root)
    assert ds.load("val") == [] and ds.in_channels == 3
    check_sample(ds.load("test")[0], in_channels=3)

    root16 = tmp_path / "d16"
    for split in ("train", "test"):
        gray(root16 / "A" / split / "x.png", bits=16)
        rgb(root16 / "B" / split / "x.png")
    s = FolderDataset("p16", root16).load("train")[0]
    raw = np.asarray(Image.open(root16 / "A" / "train" / "x.png")).astype(np.float32)
    assert torch.allclose(s.input[0], torch.from_numpy(raw / 65535))


def test_cyclegan_unpaired(tmp_path):
    ds = FolderDataset("cg", make_cyclegan(tmp_path / "d"))
    assert (ds.layout, ds.pairing) == ("cyclegan", "unpaired")
    train = ds.load("train")
    assert len(train) == 4 and ds.load("val") == []
    # targets cycle over trainB in sorted order; training never sees a truth
    assert [Path(s.meta["target_path"]).name for s in train] == ["b0.png", "b1.png", "b0.png", "b1.png"]
    assert all(s.truth is None for s in train)
    for s in train:
        check_sample(s)
    test = {s.id: s for s in ds.load("test")}
    assert test["t0"].meta["target_path"].endswith("a9.png") and test["t0"].meta["truth_path"].endswith("t0.png")
    assert test["t0"].truth is not None and test["t1"].truth is None


def test_cyclegan_paired_needs_matching_names(tmp_path):
    root = tmp_path / "d"
    for split in ("train", "test"):
        gray(root / f"{split}A" / "x.png")
        rgb(root / f"{split}B" / "x.png")
    ds = FolderDataset("cgp", root, pairing="paired")
    s = ds.load("train")[0]
    assert s.truth is s.target
    gray(root / "trainA" / "lonely.png")
    raises("lonely.png", FolderDataset("cgp2", root, pairing="paired").validate)


@pytest.mark.parametrize("via", ["file", "folder"])
def test_csv_layout(tmp_path, via):
    root = make_csv(tmp_path / "d")
    ds = FolderDataset("tab", root / "pairs.csv" if via == "file" else root)
    assert (ds.layout, ds.pairing) == ("csv", "paired")
    assert [len(ds.load(s)) for s in ("train", "val", "test")] == [2, 1, 1]
    s = ds.load("train")[0]
    assert s.id == "in/t0"
    check_sample(s)


def test_scale_two(tmp_path):
    root = make_pix2pix(tmp_path / "d", in_size=(8, 8), out_size=(16, 16))
    ds = FolderDataset("sr", root, scale=2).validate()
    check_sample(ds.load("test")[0], in_size=(8, 8), out_size=(16, 16))
    raises("scale 1", FolderDataset("sr1", root).validate)


def test_construction_reads_no_image(tmp_path, monkeypatch):
    root = make_pix2pix(tmp_path / "d")

    def no_reads(*args, **kwargs):
        raise AssertionError("an image was opened while constructing")

    monkeypatch.setattr(Image, "open", no_reads)
    FolderDataset("p2p", root)
    FolderDataset("p2p", root, layout="pix2pix", pairing="paired", in_channels=1)


# -- validation messages ------------------------------------------------------------------------------


def test_root_missing_and_empty(tmp_path):
    raises("nowhere", FolderDataset("gone", tmp_path / "nowhere").load, "train")
    (tmp_path / "empty").mkdir()
    msg = raises("empty", FolderDataset("empty", tmp_path / "empty").load, "train")
    assert "pix2pix" in msg and "trainA" in msg and "input,target,split" in msg


def test_missing_pair_names_both_files(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    gray(root / "A" / "train" / "orphan.png")
    msg = raises("orphan.png", FolderDataset("p", root).validate)
    assert str(root / "A" / "train" / "orphan.png") in msg
    assert str(root / "B" / "train" / "orphan.png") in msg


def test_truncated_image(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    bad = rgb(root / "B" / "test" / "test1.png", (64, 64))
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    raises("test1.png", FolderDataset("p", root).validate)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_target_must_be_rgb(tmp_path, mode):
    root = make_pix2pix(tmp_path / "d")
    Image.new(mode, (16, 16)).save(root / "B" / "train" / "train1.png")
    msg = raises("train1.png", FolderDataset("p", root).validate)
    assert mode in msg and "RGB" in msg and "convert" in msg


def test_size_mismatch_names_both(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    rgb(root / "B" / "train" / "train2.png", (20, 16))
    msg = raises("train2.png", FolderDataset("p", root).validate)
    assert str(root / "A" / "train" / "train2.png") in msg and "20x16" in msg and "16x16" in msg


def test_mixed_input_channels(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    rgb(root / "A" / "test" / "test0.png")
    msg = raises("test0.png", FolderDataset("p", root).validate)
    assert "channel" in msg


def test_csv_errors(tmp_path):
    root = make_csv(tmp_path / "d")
    csv_file = root / "pairs.csv"
    csv_file.write_text("input,target\nin/t0.tif,out/t0.jpg\n")
    raises("split", FolderDataset("c", csv_file).load, "train")
    csv_file.write_text("input,target,split\nin/t0.tif,out/t0.jpg,train\nin/t1.tif,out/t1.jpg,tset\n")
    msg = raises("'tset'", FolderDataset("c", csv_file).load, "train")
    assert "row 2" in msg
    csv_file.write_text("input,target,split\nin/t0.tif,out/missing.jpg,train\n")
    raises("missing.jpg", FolderDataset("c", csv_file).load, "train")


# -- manifest -----------------------------------------------------------------------------------------


def test_manifest_hashes_files(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    first = FolderDataset("p", root)
    rows = first.manifest()["tiles"]
    assert len(rows) == 6 and set(rows[0]) == {"id", "split", "input", "input_sha256", "target", "target_sha256"}
    assert rows[0]["input"] == "A/train/train0.png" and rows[0]["target"] == "B/train/train0.png"
    assert FolderDataset("p", root).manifest_hash == first.manifest_hash
    rgb(root / "B" / "test" / "test0.png", seed=999)
    assert FolderDataset("p", root).manifest_hash != first.manifest_hash


def test_mixed_sizes_in_train_or_val_are_refused(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    gray(root / "A" / "train" / "train1.png", (20, 20))
    rgb(root / "B" / "train" / "train1.png", (20, 20))
    msg = raises("mixes image sizes", FolderDataset("p", root).validate)
    assert str(root / "A" / "train" / "train1.png") in msg and "20x20" in msg and "16x16" in msg
    assert "train0.png" in msg


def test_mixed_sizes_in_test_are_allowed(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    gray(root / "A" / "test" / "test1.png", (24, 20))
    rgb(root / "B" / "test" / "test1.png", (24, 20))
    shapes = {tuple(s.input.shape) for s in FolderDataset("p", root).validate().load("test")}
    assert shapes == {(1, 16, 16), (1, 20, 24)}


def test_add_records_the_manifest_and_verify_names_changed_files(tmp_path, home):
    root = make_pix2pix(tmp_path / "d")
    ds = add_folder_dataset("mine", root)
    recorded = home / "manifests" / "mine.json"
    assert recorded.is_file() and ds.committed_manifest() == ds.manifest()
    assert FolderDataset("mine", root).verify().ok
    rgb(root / "B" / "test" / "test1.png", seed=999)  # a tampered target
    (root / "A" / "val" / "val0.png").unlink()
    (root / "B" / "val" / "val0.png").unlink()
    result = FolderDataset("mine", root).verify()
    assert not result.ok
    text = "\n".join(result.differences)
    assert "tile test1 (test): target_sha256 differ" in text and "tile val0: in the manifest, not built" in text
    remove_folder_dataset("mine")
    assert not recorded.exists()
    with pytest.raises(DatasetError, match="no committed manifest"):
        FolderDataset("mine", root).verify()


# -- registry and plugin hook -------------------------------------------------------------------------


def test_registry_round_trip(tmp_path, home):
    root = make_pix2pix(tmp_path / "d")
    ds = add_folder_dataset("mine", root)
    assert isinstance(ds, FolderDataset)
    cfg = registered_folder_datasets()["mine"]
    assert cfg["path"] == str(root.resolve()) and cfg["layout"] == "pix2pix" and cfg["in_channels"] == 1
    raises("already registered", add_folder_dataset, "mine", root)
    add_folder_dataset("mine", make_cyclegan(tmp_path / "cg"), replace=True)
    assert registered_folder_datasets()["mine"]["layout"] == "cyclegan"
    assert sorted(p.name for p in home.iterdir()) == ["datasets.json", "manifests"]  # no temp file left behind
    remove_folder_dataset("mine")
    assert registered_folder_datasets() == {}
    raises("mine", remove_folder_dataset, "mine")


@pytest.mark.parametrize("name", ["Mine", "-x", "a b", "", "é"])
def test_bad_names(tmp_path, name):
    with pytest.raises(DatasetError, match="invalid dataset name"):
        add_folder_dataset(name, make_pix2pix(tmp_path / "d"))


def test_add_validates_fully(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    Image.new("RGBA", (16, 16)).save(root / "B" / "val" / "val0.png")
    raises("val0.png", add_folder_dataset, "mine", root)
    assert registered_folder_datasets() == {}


def test_a_file_name_with_a_control_character_is_refused_escaped(tmp_path, capsys):
    from vbench.cli import main

    root = make_pix2pix(tmp_path / "d")
    gray(root / "A" / "test" / "in\x1b[31m\u202e.png")
    rgb(root / "B" / "test" / "in\x1b[31m\u202e.png")
    raises("in\\x1b[31m\\u202e.png holds a control", add_folder_dataset, "mine", root)
    assert main(["datasets", "add", "mine", str(root)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "in\\x1b[31m\\u202e.png" in err


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_file_name_that_is_not_utf8_is_refused_with_its_bytes(tmp_path, capsys, where):
    import os

    from vbench.cli import main

    root = make_pix2pix(tmp_path / "d")
    if where == "file":  # an input and its target named with a Latin-1 byte
        gray(Path(os.fsdecode(os.fsencode(root / "A" / "test") + b"/in\xff.png")))
        rgb(Path(os.fsdecode(os.fsencode(root / "B" / "test") + b"/in\xff.png")))
        shown = "in\\xff.png'"
    else:  # the whole dataset under a folder whose name is not UTF-8
        bad = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
        root = make_pix2pix(bad)
        shown = "caf\\xe9/"
    message = raises("is not valid UTF-8", add_folder_dataset, "mine", root)
    assert shown in message and registered_folder_datasets() == {}
    assert main(["datasets", "add", "mine", str(root)]) == 2
    err = capsys.readouterr().err
    assert shown in err and "Traceback" not in err


def test_corrupt_registry_is_reported_and_kept(tmp_path, home):
    home.mkdir()
    registry = home / "datasets.json"
    registry.write_text("{not json")
    raises(str(registry), registered_folder_datasets)
    raises(str(registry), add_folder_dataset, "mine", make_pix2pix(tmp_path / "d"))
    assert registry.read_text() == "{not json"


def only_folder_plugin(monkeypatch):
    # Keep other bundled plugins (heavy metric stacks) out of these tests.
    others = {ep.name for ep in md.entry_points(group="vbench")} - {"folder-datasets"}
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", ",".join(sorted(others)))


def test_plugin_hook_exposes_registered_dataset(tmp_path, monkeypatch):
    only_folder_plugin(monkeypatch)
    add_folder_dataset("mine", make_pix2pix(tmp_path / "d"), scale=1)
    plugins = load_plugins()
    assert plugins.infos["folder-datasets"].status == "ok", plugins.infos["folder-datasets"].error
    assert "mine" in plugins.datasets
    ds = plugins.datasets.get("mine")
    assert isinstance(ds, FolderDataset) and ds.in_channels == 1
    assert len(ds.samples("train")) == 3


def test_vanished_folder_does_not_break_start(tmp_path, monkeypatch):
    only_folder_plugin(monkeypatch)
    root = make_pix2pix(tmp_path / "d")
    add_folder_dataset("mine", root)
    root.rename(tmp_path / "moved")
    plugins = load_plugins()
    assert plugins.infos["folder-datasets"].status == "ok"
    raises(str(root), plugins.datasets.get("mine").load, "train")


def test_module_import_stays_light():
    code = (
        "import sys, vbench; before = set(sys.modules); import vbench_datasets.folder; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {'torch', 'numpy', 'PIL'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert folder.FolderDataset is FolderDataset
