"""BCI and MIST adapters on small fake trees with the real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench import user_datasets
from vbench.cli import main
from vbench.errors import DatasetError
from vbench.plugins import load_plugins
from vbench_datasets.folder import folder_dataset
from vbench_datasets.folder.adapters import BciDataset, MistDataset
from vbench_datasets.folder.trees import detect_layout


def add_folder_dataset(name, path, **options):
    """`vbench datasets add` as a library call, through the installed plugins' layouts."""
    return user_datasets.add(name, path, plugins=load_plugins(), **options)


def image(path: Path, seed: int, size=16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").save(path)


def make_bci(root: Path, train=3, test=2) -> Path:
    for split, n in (("train", train), ("test", test)):
        for i in range(n):
            name = f"{i:05d}_{split}_{i % 3 + 1}+.png"  # BCI names carry the HER2 score
            image(root / "HE" / split / name, i)
            image(root / "IHC" / split / name, 100 + i)
    return root


def make_mist(root: Path, train=3, val=2) -> Path:
    for split, n in (("train", train), ("val", val)):
        for i in range(n):
            image(root / "TrainValAB" / f"{split}A" / f"{split}_{i}.jpg", i)
            image(root / "TrainValAB" / f"{split}B" / f"{split}_{i}.jpg", 50 + i)
    return root


def test_bci_official_split_and_pairing(tmp_path):
    ds = folder_dataset("bci", make_bci(tmp_path / "BCI_dataset"))
    assert isinstance(ds, BciDataset) and detect_layout(tmp_path / "BCI_dataset") == "bci"
    assert (ds.task, ds.pairing, ds.layout, ds.in_channels) == ("he->ihc-her2", "misaligned", "bci", 3)
    assert ds.counts() == {"train": 3, "val": 0, "test": 2}
    train = ds.validate().load("train")
    assert train[0].id == "00000_train_1+" and train[0].truth is None and train[0].reference is train[0].target
    m = ds.manifest()
    assert m["layout"] == "bci" and m["pairing"] == "misaligned" and len(m["tiles"]) == 5
    assert m["tiles"][0]["input"] == "HE/train/00000_train_1+.png"


def test_mist_maps_val_to_test_and_names_the_stain(tmp_path):
    ds = folder_dataset("mist-her2", make_mist(tmp_path / "MIST" / "HER2"))
    assert isinstance(ds, MistDataset)
    assert (ds.task, ds.pairing) == ("he->ihc-her2", "misaligned")
    assert ds.counts() == {"train": 3, "val": 0, "test": 2}
    assert [s.id for s in ds.load("test")] == ["val_0", "val_1"]
    assert folder_dataset("x", make_mist(tmp_path / "other"), layout="mist").task == "he->ihc"


def test_mist_top_folder_asks_for_one_stain(tmp_path):
    make_mist(tmp_path / "MIST" / "HER2")
    make_mist(tmp_path / "MIST" / "Ki67")
    with pytest.raises(DatasetError) as info:
        detect_layout(tmp_path / "MIST", "mist")
    msg = str(info.value)
    assert "one dataset per stain" in msg and str(tmp_path / "MIST" / "HER2") in msg and "Ki67" in msg


def test_bci_missing_folders_are_all_listed_with_the_tree(tmp_path):
    root = tmp_path / "BCI"
    image(root / "HE" / "train" / "a.png", 0)
    with pytest.raises(DatasetError) as info:
        BciDataset("bci", root).load("train")
    msg = str(info.value)
    assert "missing folder(s): IHC/train, HE/test, IHC/test" in msg
    assert "HE/train/NAME.png" in msg and "IHC/test/NAME.png" in msg  # the expected tree


def test_bci_partial_copy_lists_every_missing_partner(tmp_path):
    root = make_bci(tmp_path / "BCI", train=14)
    for i in range(9):
        (root / "IHC" / "train" / f"{i:05d}_train_{i % 3 + 1}+.png").unlink()
    image(root / "IHC" / "test" / "stray.png", 7)
    with pytest.raises(DatasetError) as info:
        BciDataset("bci", root).load("test")
    msg = str(info.value)
    assert "partial BCI copy" in msg and "IHC/train/00000_train_1+.* (partner of HE/train/00000_train_1+.png)" in msg
    assert "IHC/train/00008_train_3+.*" in msg and "HE/test/stray.*" in msg and "Expected the BCI layout" in msg
    for i in range(9, 12):
        (root / "IHC" / "train" / f"{i:05d}_train_{i % 3 + 1}+.png").unlink()
    with pytest.raises(DatasetError, match=r"\.\.\. and 3 more"):
        BciDataset("bci", root).load("test")


def test_mist_empty_folder(tmp_path):
    root = make_mist(tmp_path / "ER", val=0)
    (root / "TrainValAB" / "valA").mkdir()
    (root / "TrainValAB" / "valB").mkdir()
    with pytest.raises(DatasetError, match="TrainValAB/valA has no images"):
        MistDataset("mist-er", root).load("train")


def test_add_bci_through_the_cli_then_verify_a_tampered_file(tmp_path, capsys):
    root = make_bci(tmp_path / "BCI")
    assert main(["datasets", "add", "bci", str(root)]) == 0
    out = capsys.readouterr().out
    assert "registered dataset bci" in " ".join(out.split()) and "misaligned" in out
    assert main(["datasets", "show", "bci"]) == 0
    out = capsys.readouterr().out
    assert "he->ihc-her2" in out and "official split" in out and "recorded" in out
    assert main(["datasets", "verify", "bci"]) == 0
    image(root / "IHC" / "test" / "00001_test_2+.png", 999)
    assert main(["datasets", "verify", "bci"]) == 2
    err = capsys.readouterr().err
    assert "FAILED" in err and "tile 00001_test_2+ (test): target_sha256 differ" in err


def test_registered_adapter_comes_back_from_the_registry(tmp_path, monkeypatch):
    import importlib.metadata as md

    from vbench.plugins import load_plugins

    others = {ep.name for ep in md.entry_points(group="vbench")} - {"folder-datasets"}
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", ",".join(sorted(others)))
    add_folder_dataset("mist-pr", make_mist(tmp_path / "MIST" / "PR"))
    ds = load_plugins().datasets.get("mist-pr")
    assert isinstance(ds, MistDataset) and ds.task == "he->ihc-pr"
