"""The bundled smoke dataset: region-disjoint splits, stable manifest, sensible tiles."""

from __future__ import annotations

import subprocess
import sys

from vbench.plugins import load_plugins


def boxes(ds, split):
    return [(s.meta["y"], s.meta["x"], s.meta["size"]) for s in ds.samples(split)]


def test_splits_are_region_disjoint_with_a_guard_band():
    ds = load_plugins().datasets.get("ihc-demo")
    guard = 32  # at least half a training tile between any two splits

    def apart(a, b):
        (ya, xa, sa), (yb, xb, sb) = a, b
        return ya + sa + guard <= yb or yb + sb + guard <= ya or xa + sa + guard <= xb or xb + sb + guard <= xa

    for one, other in (("train", "test"), ("train", "val"), ("val", "test")):
        assert all(apart(a, b) for a in boxes(ds, one) for b in boxes(ds, other)), (one, other)


def test_tiles_have_the_declared_shapes_and_ranges():
    ds = load_plugins().datasets.get("ihc-demo")
    for split in ("train", "val", "test"):
        for s in ds.samples(split):
            assert s.input.shape[0] == ds.in_channels == 1 and s.target.shape[0] == 3
            assert s.input.shape[1:] == s.target.shape[1:]
            assert 0 <= float(s.input.min()) and float(s.target.max()) <= 1
    assert len(ds.samples("test")) >= 8


def test_manifest_hash_is_identical_in_two_processes():
    code = "from vbench.plugins import load_plugins; print(load_plugins().datasets.get('ihc-demo').manifest_hash)"
    a, b = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2))
    assert a == b and len(a.strip()) == 64
