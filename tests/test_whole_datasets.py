"""Whole-image test regions: the bundled datasets' regions (inside the test area, disjoint from
train and val, hashed in committed manifests that `verify` checks), `datasets show` saying how they
relate to the test tiles, and folder datasets' `wholes` split with its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vbench import manifest as mf
from vbench.cli import main
from vbench.dataset import whole_regions
from vbench.errors import DatasetError
from vbench_datasets.folder.folder_dataset import FolderDataset
from vbench_datasets.tissue import DATASETS, QpiIhc, simulated
from vbench_datasets.tissue import whole_regions as tissue_wholes

CMU = [c.name for c in DATASETS if c.source.id == "cmu-1"]


@pytest.mark.parametrize("name", CMU)
def test_slide_datasets_have_2_to_4_test_regions_disjoint_from_train_and_val(name):
    tiles = mf.read(simulated.manifest_path(name))
    wholes = mf.read(tissue_wholes.manifest_path(name))
    assert wholes["tile_manifest"] == mf.manifest_hash(tiles) and wholes["dataset"] == name
    test = next(r for r in tiles["tiling"]["regions"] if r["split"] == "test")
    others = [t for t in tiles["tiles"] if t["split"] != "test"]
    assert 2 <= len(wholes["tiles"]) <= 4
    for r in wholes["tiles"]:
        assert r["split"] == "wholes" and {"input", "target"} <= set(r)
        assert test["y0"] <= r["y"] and r["y"] + r["height"] <= test["y1"]
        assert test["x0"] <= r["x"] and r["x"] + r["width"] <= test["x1"]
        gaps = [max(r["y"] - (t["y"] + t["size"]), t["y"] - (r["y"] + r["height"])) for t in others]
        assert min(gaps) >= tiles["tiling"]["guard"]  # the guard band separates them from train and val
        assert r["height"] % tiles["scale"] == 0 and r["width"] >= 768


def test_regions_are_built_as_committed_and_verify_checks_them(tmp_path, monkeypatch):
    ds = QpiIhc()
    (region,) = whole_regions(ds)
    assert (region.height, region.width) == (512, 192) and region.read_input().shape == (1, 512, 192)
    assert region.read_input().dtype == np.uint16 and region.read_target().dtype == np.uint8
    assert mf.dumps(ds.wholes_manifest()) == tissue_wholes.manifest_path("qpi-ihc").read_text()
    changed = json.loads(tissue_wholes.manifest_path("qpi-ihc").read_text())
    changed["tiles"][0]["input"] = "0" * 64
    fake = tmp_path / "qpi-ihc.json"
    fake.write_text(json.dumps(changed))
    monkeypatch.setattr(tissue_wholes, "manifest_path", lambda name: fake)
    result = ds.verify()
    assert not result.ok and any("whole regions: tile whole-0" in d and "input" in d for d in result.differences)


def test_datasets_show_says_how_regions_relate_to_test_tiles(capsys):
    assert main(["datasets", "show", "qpi-he"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 region(s) cut from the test area" in out and "whole-0 768 x 768 px at y 2196, x 512" in out
    assert "test tiles" in out and "disjoint from train and val" in out


def test_misplaced_regions_are_one_line_errors():
    test = simulated.tiling.Region("test", 100, 400, 0, 500, 100, 100)
    area = {"y0": 0, "y1": 500, "x0": 0, "x1": 500}
    with pytest.raises(DatasetError, match="multiples of the scale 4") as info:
        tissue_wholes.check_boxes("d", [tissue_wholes.Box("w", 102, 0, 200, 200)], test, area, 4)
    assert "\n" not in str(info.value)
    with pytest.raises(DatasetError, match="inside the test region"):
        tissue_wholes.check_boxes("d", [tissue_wholes.Box("w", 0, 0, 200, 200)], test, area, 1)


def save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        save(tmp_path / "A" / split / "t.png", rng.integers(0, 255, (16, 16), dtype=np.uint8))
        save(tmp_path / "B" / split / "t.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    save(tmp_path / "A" / "wholes" / "big.png", rng.integers(0, 255, (300, 220), dtype=np.uint8))
    save(tmp_path / "B" / "wholes" / "big.png", rng.integers(0, 255, (300, 220, 3), dtype=np.uint8))
    return tmp_path


def test_folder_datasets_take_whole_images_in_a_wholes_split(folder):
    ds = FolderDataset("mine", folder)
    (region,) = whole_regions(ds)
    assert (region.id, region.height, region.width) == ("big", 300, 220)
    assert region.read_input().shape == (1, 300, 220) and region.read_reference().shape == (3, 300, 220)
    assert [t["id"] for t in ds.manifest()["tiles"] if t["split"] == "wholes"] == ["big"]
    assert "1 in the wholes split" in ds.info()["whole images"]
    ds.validate()


def test_a_whole_image_that_does_not_fit_the_scale_is_a_one_line_error(folder):
    with pytest.raises(DatasetError, match=r"big.png is 220x300.*with scale 2 the target must be 440x600") as info:
        FolderDataset("mine", folder, scale=2).wholes()
    assert "\n" not in str(info.value)


def test_a_whole_image_over_the_pixel_limit_is_refused_before_decoding(folder, monkeypatch):
    monkeypatch.setenv("VBENCH_MAX_PIXELS", "50000")
    with pytest.raises(DatasetError, match=r"big.png declares .*66,000 pixels.*VBENCH_MAX_PIXELS"):
        FolderDataset("mine", folder).wholes()
