"""The DSD adapter (dark-field unstained -> H&E, DSD_P and DSD_U) on small fake trees with the real
layout, and the warning for splits that share source images (tile-level splits leak)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench.cli import main
from vbench.errors import DatasetError
from vbench.plugins import load_plugins
from vbench.run import plan, run_sweep
from vbench.store import Store
from vbench_datasets.folder import folder_dataset
from vbench_datasets.folder.adapters import DsdDataset
from vbench_datasets.folder.leaks import leak_warning, source_of
from vbench_datasets.folder.trees import detect_layout


def image(path: Path, seed: int, size=32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").save(path)


def make_dsd(root: Path, train=("1__0", "1__1", "2__0"), val=("3__0", "3__1"), unpaired=False) -> Path:
    """DSD's tree: {train,val}/{A,B,C}/S__K.png; in DSD_U the B tiles have names of their own."""
    for split, names in (("train", train), ("val", val)):
        for i, name in enumerate(names):
            image(root / split / "A" / f"{name}.png", i)
            image(root / split / "C" / f"{name}.png", 200 + i)
            b_name = f"{int(name.split('__')[0]) + 50}__{i}" if unpaired else name
            image(root / split / "B" / f"{b_name}.png", 100 + i)
    return root


def cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, " ".join(out.out.split()), " ".join(out.err.split())


def test_dsd_p_is_misaligned_dark_field_to_he_with_the_official_split(tmp_path):
    root = make_dsd(tmp_path / "DSD_P")
    ds = folder_dataset("dsd-p", root)
    assert isinstance(ds, DsdDataset) and detect_layout(root) == "dsd"
    assert (ds.pairing, ds.modality, ds.stain, ds.task, ds.layout) == (
        "misaligned",
        "darkfield",
        "he",
        "darkfield->he",
        "dsd",
    )
    assert ds.counts() == {"train": 3, "val": 0, "test": 2}
    test = ds.validate().load("test")
    assert [s.id for s in test] == ["3__0", "3__1"] and all(s.truth is None for s in test)
    assert test[0].meta["target_path"].endswith("val/B/3__0.png")
    assert ds.manifest()["tiles"][0]["input"] == "train/A/1__0.png"  # C (light-enhanced) is not read


def test_dsd_u_is_unpaired_from_the_folder_name_and_pairing_overrides(tmp_path):
    root = make_dsd(tmp_path / "DSD_U", unpaired=True)
    ds = folder_dataset("dsd-u", root)
    assert ds.pairing == "unpaired"
    train = ds.validate().load("train")
    assert len(train) == 3 and all(s.truth is None for s in train)
    assert {Path(s.meta["target_path"]).stem for s in train} == {"51__0", "51__1", "52__2"}
    with pytest.raises(
        DatasetError, match=r"(?s)partial DSD copy; missing:.*train/B/1__0\.\* \(partner of train/A/1__0"
    ):
        folder_dataset("dsd-u", root, pairing="misaligned").counts()


def test_a_partial_copy_lists_every_missing_folder_and_the_tree(tmp_path):
    root = make_dsd(tmp_path / "DSD_P")
    for p in (root / "val" / "B").iterdir():
        p.unlink()
    (root / "val" / "B").rmdir()
    with pytest.raises(
        DatasetError, match=r"(?s)not a complete DSD copy; missing folder\(s\): val/B\..*train/A/S__K\.png"
    ):
        folder_dataset("dsd-p", root, layout="dsd").counts()
    with pytest.raises(
        DatasetError, match=r"top of DSD \(DSD_P, DSD_U\).*vbench datasets add dsd-p .*DSD_P --layout dsd"
    ):
        (tmp_path / "DSD_U").mkdir()
        detect_layout(tmp_path)


def test_source_names_and_the_leak_warning(tmp_path):
    assert source_of("img12__3") == "img12" and source_of("a_b__c_d") == "a_b" and source_of("plain") is None
    assert source_of("__3") is None and source_of("x__") is None
    leaky = folder_dataset("leaky", make_dsd(tmp_path / "DSD_P", val=("2__5", "3__0")))
    text = leak_warning(leaky._index())
    assert "train and test share 1 (2)" in text and "split by source image" in text
    assert leak_warning(folder_dataset("clean", make_dsd(tmp_path / "clean" / "DSD_P"))._index()) is None


def test_datasets_add_and_show_through_the_cli(tmp_path, capsys):
    root = make_dsd(tmp_path / "DSD_P", val=("2__5", "3__0"))
    code, out, err = cli(capsys, "datasets", "add", "dsd-p", str(root), "--layout", "dsd")
    assert code == 0, err
    entry = json.loads(
        (Path(load_plugins().datasets.get("dsd-p").recorded_path()).parent.parent / "datasets.json").read_text()
    )["datasets"]["dsd-p"]
    assert (entry["layout"], entry["pairing"], entry["modality"], entry["stain"]) == (
        "dsd",
        "misaligned",
        "darkfield",
        "he",
    )
    code, out, err = cli(capsys, "datasets", "show", "dsd-p")
    assert code == 0, err
    assert "darkfield" in out and "DSD's official split" in out
    assert "tile-level split" in out and "train and test share 1 (2)" in out


def test_a_pix2pix_folder_with_source_tile_names_is_warned_too(tmp_path):
    root = tmp_path / "mine"
    for split, names in (("train", ("s1__0", "s2__0")), ("test", ("s1__1",))):
        for i, n in enumerate(names):
            image(root / "A" / split / f"{n}.png", i)
            image(root / "B" / split / f"{n}.png", 10 + i)
    info = folder_dataset("mine", root).info()
    assert "train and test share 1 (s1)" in info["warning"]


def test_a_run_on_dsd_p_scores_against_the_registered_target(tmp_path, db_url):
    from vbench import user_datasets

    user_datasets.add("dsd-p", make_dsd(tmp_path / "DSD_P"), plugins=load_plugins(), layout="dsd")
    plugins = load_plugins()
    store = Store(db_url)
    specs = plan(plugins, ["baseline-mean"], ["dsd-p"], [0], metrics=["psnr", "psnr@reg"])
    (outcome,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    summaries = {s.metric: s for s in store.summaries([outcome.run_id])}
    # A flat prediction is never registered: psnr@reg equals psnr against the (unaligned) target.
    assert summaries["psnr@reg"].status == "computed"
    assert summaries["psnr@reg"].mean == pytest.approx(summaries["psnr"].mean)
    run = store.get_run(outcome.run_id)
    assert (run.modality, run.stain) == ("darkfield", "he")


def test_the_leaderboard_resamples_the_source_images_a_run_recorded(tmp_path, db_url):
    """Tiles cut from one image are not independent: a run on tiles of several source images
    (S__K names) stores each tile's source, and the leaderboard's interval resamples sources."""
    from vbench import user_datasets
    from vbench.report.intervals import intervals
    from vbench.stats import hierarchical_bootstrap

    val = ("3__0", "3__1", "3__2", "4__0", "4__1", "5__0")
    user_datasets.add("dsd-src", make_dsd(tmp_path / "DSD_P", val=val), plugins=load_plugins(), layout="dsd")
    plugins = load_plugins()
    assert plugins.datasets.get("dsd-src").load("test")[0].meta["source"] == "3"
    store = Store(db_url)
    specs = plan(plugins, ["baseline-mean"], ["dsd-src"], [0], metrics=["psnr"])
    (outcome,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    run = store.get_run(outcome.run_id)
    assert run.tile_sources_dict == {name: name.split("__")[0] for name in val}
    assert store.run_detail(run.id)["tile_sources"]["4__1"] == "4"
    scores = store.scores(run.id, "psnr")
    summaries = {run.id: {s.metric: s for s in store.summaries([run.id])}}
    got = intervals(store, {"row": ([run], "psnr")}, summaries)["row"]
    tiles = list(scores)
    by_source = hierarchical_bootstrap([[scores[t] for t in tiles]], [[t.split("__")[0] for t in tiles]])
    by_tile = hierarchical_bootstrap([[scores[t] for t in tiles]])
    assert (got["ci_low"], got["ci_high"]) == (by_source["ci_low"], by_source["ci_high"])
    assert (got["ci_low"], got["ci_high"]) != (by_tile["ci_low"], by_tile["ci_high"])
