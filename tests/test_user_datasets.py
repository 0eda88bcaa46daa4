"""The core registry of user datasets (vbench/user_datasets.py) and the layout contract
(vbench_register_layouts, vbench.DatasetLayout): `vbench datasets add/remove`, modality and stain,
layouts of a third-party plugin, and what happens when a layout's plugin is disabled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench import user_datasets
from vbench.cli import main
from vbench.errors import DatasetError
from vbench.plugins import load_plugins


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def cells(out: str) -> str:
    """A Rich table's text with the borders taken out, one space between words."""
    return " ".join(out.replace("│", " ").split())


def make_pix2pix(root: Path, counts=(("train", 3), ("test", 2))) -> Path:
    for split, n in counts:
        for i in range(n):
            for side, mode in (("A", "L"), ("B", "RGB")):
                (root / side / split).mkdir(parents=True, exist_ok=True)
                arr = np.random.default_rng(i).integers(0, 256, (16, 16) if mode == "L" else (16, 16, 3), np.uint8)
                Image.fromarray(arr, mode).save(root / side / split / f"t{i}.png")
    return root


def test_add_with_modality_and_stain_then_list_show_and_remove(capsys, tmp_path):
    root = make_pix2pix(tmp_path / "data")
    code, out, err = cli(capsys, "datasets", "add", "mine", root, "--modality", "darkfield", "--stain", "he")
    assert code == 0, err
    assert (
        "registered dataset mine (pix2pix, paired, scale 1, 1 input channel(s), darkfield, stain he)"
        in " ".join(out.split())
        and "train 3, val 0, test 2 tiles" in out
    )
    entry = json.loads(user_datasets.registry_path().read_text())["datasets"]["mine"]
    assert (entry["modality"], entry["stain"], entry["layout"]) == ("darkfield", "he", "pix2pix")
    ds = load_plugins().datasets.get("mine")
    assert (ds.modality, ds.stain) == ("darkfield", "he")

    code, out, _ = cli(capsys, "datasets", "show", "mine")
    assert code == 0 and "input modality darkfield" in cells(out) and "target stain he" in cells(out)
    code, out, _ = cli(capsys, "datasets", "list")
    row = next(line for line in out.splitlines() if "mine" in line)
    assert "darkfield" in row and "user-datasets" in row
    code, out, _ = cli(capsys, "datasets", "show", "qpi-ihc")
    assert "input modality quantitative-phase" in cells(out) and "target stain ihc-dab" in cells(out)

    code, out, _ = cli(capsys, "datasets", "remove", "mine")
    assert code == 0 and "removed dataset mine" in out and str(root) in " ".join(out.split())
    assert user_datasets.registered() == {} and not user_datasets.manifest_path("mine").exists()
    assert root.is_dir() and (root / "A" / "train" / "t0.png").is_file()  # the files are kept
    code, _, err = cli(capsys, "datasets", "show", "mine")
    assert code == 2 and "unknown dataset 'mine'" in err


def test_remove_errors_name_the_registry_and_suggest(capsys, tmp_path):
    user_datasets.add("my-data", make_pix2pix(tmp_path / "d"), plugins=load_plugins())
    code, _, err = cli(capsys, "datasets", "remove", "my-dta")
    assert code == 2 and "no dataset named 'my-dta' is registered" in err and "Did you mean 'my-data'" in err
    assert str(user_datasets.registry_path()) in err and "Traceback" not in err
    code, _, err = cli(capsys, "datasets", "remove", "qpi-he")
    assert code == 2 and "only datasets added with `vbench datasets add` can be removed" in err
    assert "my-data" in user_datasets.registered()


def test_add_errors(capsys, tmp_path):
    root = make_pix2pix(tmp_path / "d")
    code, _, err = cli(capsys, "datasets", "add", "mine", root, "--layout", "pix2px")
    assert code == 2 and "unknown layout 'pix2px'" in err and "auto, bci, csv, cyclegan, dsd, mist, pix2pix" in err
    code, _, err = cli(capsys, "datasets", "add", "mine", root, "--pairing", "pared")
    assert code == 2 and "unknown pairing 'pared'" in err and "paired, misaligned, unpaired" in err
    code, _, err = cli(capsys, "datasets", "add", "qpi-he", root, "--replace")
    assert code == 2 and "already exists (tissue-datasets" in err and "cannot be replaced" in err
    code, _, err = cli(capsys, "datasets", "add", "mine", tmp_path / "nowhere")
    assert code == 2 and "nowhere does not exist" in err
    (root / "trainA").mkdir()  # now both pix2pix and cyclegan folders
    code, _, err = cli(capsys, "datasets", "add", "mine", root)
    assert code == 2 and "several layouts (cyclegan, pix2pix)" in err and "--layout" in err
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = cli(capsys, "datasets", "add", "mine", tmp_path / "notes.txt")
    assert code == 2 and "is a file that no layout reads" in err and "pix2pix:" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "datasets", "add", "mine", tmp_path / "empty")
    assert code == 2 and "no recognised dataset layout" in err and "it holds: nothing" in err
    assert "Traceback" not in err and user_datasets.registered() == {}


def test_a_csv_file_beside_image_folders_does_not_win(tmp_path):
    root = make_pix2pix(tmp_path / "d")
    (root / "notes.csv").write_text("not a manifest\n")
    ds = user_datasets.add("mine", root, plugins=load_plugins())
    assert user_datasets.registered()["mine"]["layout"] == "pix2pix" and ds.counts()["train"] == 3


def test_disabled_layout_plugin_leaves_a_dataset_that_says_why(capsys, tmp_path, monkeypatch):
    user_datasets.add("mine", make_pix2pix(tmp_path / "d"), plugins=load_plugins())
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", "folder-datasets")
    plugins = load_plugins()
    assert plugins.infos["user-datasets"].status == "ok" and "mine" in plugins.datasets
    code, out, _ = cli(capsys, "datasets", "list")
    assert code == 0 and "unavailable" in out
    for command in (
        ("datasets", "show", "mine"),
        ("datasets", "verify", "mine"),
        ("run", "-s", "baseline-mean", "-d", "mine", "--no-isolate", "-q", "--db", f"sqlite:///{tmp_path / 'r.db'}"),
    ):
        code, _, err = cli(capsys, *command)
        assert code != 0 and "Traceback" not in err, command
        assert "'pix2pix' layout, which no enabled plugin provides" in err, (command, err)
        assert "VBENCH_DISABLE_PLUGINS" in err and "vbench datasets remove mine" in err
    code, _, err = cli(capsys, "datasets", "add", "other", tmp_path / "d")
    assert code == 2 and "no enabled plugin provides a dataset layout" in err and "VBENCH_DISABLE_PLUGINS" in err
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", "user-datasets")
    plugins = load_plugins()
    assert plugins.infos["user-datasets"].status == "disabled" and "mine" not in plugins.datasets


def test_broken_registry_entries(capsys, tmp_path):
    root = make_pix2pix(tmp_path / "d")
    user_datasets.add("mine", root, plugins=load_plugins())
    registry = user_datasets.registry_path()
    data = json.loads(registry.read_text())
    data["datasets"]["odd"] = dict(data["datasets"]["mine"], pairing="sideways")
    registry.write_text(json.dumps(data))
    plugins = load_plugins()
    assert len(plugins.datasets.get("mine").load("train")) == 3  # one bad entry spoils nothing else
    with pytest.raises(DatasetError, match=r"entry|unknown pairing 'sideways' for dataset 'odd'") as info:
        plugins.datasets.get("odd").load("train")
    assert str(registry) in str(info.value)

    registry.write_text("{not json")
    code, out, err = cli(capsys, "datasets", "list")
    assert code == 0 and "qpi-he" in out  # the bundled datasets stay usable
    assert "user-datasets is broken" in err and str(registry) in err and "not valid JSON" in err


def test_add_through_a_third_party_layout(tmp_path, plugin_module):
    module = plugin_module('''
        from pathlib import Path
        import torch
        import vbench
        from vbench.user_datasets import recorded_manifest

        class Flat(vbench.Dataset):
            """Every PNG under ROOT/tiles: the first three are train, the rest test; target = input."""
            task = "flat"

            def __init__(self, name, root, pairing, scale, in_channels, modality, stain):
                self.name, self.root, self.pairing, self.scale = name, Path(root), pairing or "paired", scale
                self.in_channels, self.modality, self.stain = in_channels or 3, modality, stain

            def load(self, split):
                files = sorted((self.root / "tiles").glob("*.png"))
                files = {"train": files[:3], "val": [], "test": files[3:]}[split]
                t = [torch.full((3, 8, 8), i / 10) for i, _ in enumerate(files)]
                return [vbench.Sample(f.stem, x, x, x) for f, x in zip(files, t)]

            def manifest(self):
                return {"format": "vbench-manifest", "version": 1, "dataset": self.name,
                        "tiles": [{"id": p.name} for p in sorted((self.root / "tiles").glob("*.png"))]}

            def committed_manifest(self):
                return recorded_manifest(self.name)

        class FlatLayout(vbench.DatasetLayout):
            name = "flat"
            tree = "  flat:     ROOT/tiles/*.png"

            def detect(self, root):
                return (Path(root) / "tiles").is_dir()

            def open(self, name, root, *, pairing=None, scale=1, in_channels=None, modality="", stain=""):
                return Flat(name, root, pairing, scale, in_channels, modality, stain)

        @vbench.hookimpl
        def vbench_register_layouts(register):
            register(FlatLayout)
    ''')
    root = tmp_path / "flat"
    (root / "tiles").mkdir(parents=True)
    for i in range(5):
        Image.new("RGB", (8, 8)).save(root / "tiles" / f"{i}.png")
    plugins = load_plugins([module])
    assert plugins.infos[module].registered == [("layout", "flat")]
    ds = user_datasets.add("flat-data", root, plugins=plugins, stain="he")
    assert user_datasets.registered()["flat-data"] == {
        "path": str(root.resolve()),
        "layout": "flat",
        "pairing": "paired",
        "scale": 1,
        "in_channels": 3,
        "modality": "",
        "stain": "he",
    }
    assert user_datasets.recorded_manifest("flat-data") == ds.manifest()
    again = load_plugins([module]).datasets.get("flat-data")
    assert again.stain == "he" and [s.id for s in again.samples("test")] == ["3", "4"]
    assert ds.verify().ok
    Image.new("RGB", (8, 8)).save(root / "tiles" / "5.png")
    assert "tile 5.png: built, not in the manifest" in ds.verify().differences


def test_a_layout_that_is_not_a_dataset_layout_breaks_only_its_plugin(plugin_module):
    module = plugin_module("""
        import vbench

        class NotALayout:
            name = "odd"

        @vbench.hookimpl
        def vbench_register_layouts(register):
            register(NotALayout)
    """)
    plugins = load_plugins([module])
    assert (
        plugins.infos[module].status == "broken"
        and "does not subclass vbench.DatasetLayout" in plugins.infos[module].error
    )
    assert "pix2pix" in plugins.layouts and "odd" not in plugins.layouts
