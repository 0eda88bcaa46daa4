"""`vbench predict`: whole images of any size, seamless blending, checkpoints, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vbench.cli import main
from vbench.plugins import load_plugins
from vbench.predict import load_run, ramp, read_image, stain_image, tile_starts
from vbench.run import run_sweep
from vbench.run.spec import RunSpec
from vbench.store import Store

# Random-ish weights (2 steps): a U-Net whose tile edges differ visibly when tiles are just butted.
TINY = dict(steps=2, tile=16, batch=2, width=4, depth=4, d_width=4, d_depth=2, val_every=1, val_tiles=1)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def trained(tiny_dataset, db_url, monkeypatch):
    """A completed phasestain run on the toy dataset; the CLI sees the toy dataset too."""
    plugins = load_plugins(extra=[tiny_dataset])
    monkeypatch.setattr("vbench.cli.predict.loaded_plugins", lambda: plugins)
    store = Store(db_url)
    spec = RunSpec(stainer="phasestain", dataset="tiny", preset="quick", params=TINY, metrics=["psnr"])
    (outcome,) = run_sweep([spec], store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    return plugins, store, outcome.run_id


def predict(db_url, run_id, *args):
    return main(["predict", "--run", str(run_id), *map(str, args), "--db", db_url, "--device", "cpu", "-q"])


def texture(n, seed=0, channels=1):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    planes = [np.clip(0.5 + 4 * gaussian_filter(rng.standard_normal((n, n)), 3), 0, 1) for _ in range(channels)]
    return np.stack(planes, axis=-1).squeeze(-1) if channels == 1 else np.stack(planes, axis=-1)


def seam_ratio(img, borders):
    """Mean squared gradient across tile borders / its median elsewhere, worst of x and y."""
    gx = ((img[:, :, 1:] - img[:, :, :-1]) ** 2).sum(0).mean(0)
    gy = ((img[:, 1:, :] - img[:, :-1, :]) ** 2).sum(0).mean(1)
    idx = [b - 1 for b in borders]
    return max(float(gx[idx].mean() / gx.median()), float(gy[idx].mean() / gy.median()))


def borders(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    return sorted({s for s in starts if s > 0} | {s + tile for s in starts if s + tile < length})


def test_ramps_of_neighbours_sum_to_one_and_tiles_cover_the_image():
    left, right = ramp(64, 16, False, True), ramp(64, 16, True, False)
    assert torch.allclose(left[-16:] + right[:16], torch.ones(16, dtype=torch.float64))
    assert float(ramp(64, 16, True, True).min()) > 0 and torch.equal(
        ramp(64, 16, False, False), torch.ones(64, dtype=torch.float64)
    )
    assert tile_starts(2000, 256, 32) == [0, 224, 448, 672, 896, 1120, 1344, 1568, 1744]
    assert tile_starts(100, 256, 32) == [0]


def test_a_2000_px_image_comes_out_seamless(trained, db_url, tmp_path):
    plugins, store, run_id = trained
    image = texture(2000)
    Image.fromarray((image * 255).round().astype(np.uint8)).save(tmp_path / "big.png")
    assert predict(db_url, run_id, tmp_path / "big.png", "-o", tmp_path / "out", "--tile", 256, "--overlap", 32) == 0
    out = torch.from_numpy(np.asarray(Image.open(tmp_path / "out" / "big.png"), dtype=np.float32) / 255).permute(
        2, 0, 1
    )
    assert out.shape == (3, 2000, 2000)
    assert seam_ratio(out, borders(2000, 256, 32)) < 1.3

    # The measure sees seams when tiles are butted without blending (same model, smaller crop).
    loaded = load_run(store, run_id, plugins)
    crop = read_image(tmp_path / "big.png")[:, :768, :768]
    butted = stain_image(loaded, crop, tile=256, overlap=0)
    assert seam_ratio(butted, borders(768, 256, 0)) > 3


def test_any_size_and_checkpoint_round_trip(trained, db_url, tmp_path):
    plugins, store, run_id = trained
    np.save(tmp_path / "odd.npy", texture(45)[None].astype(np.float32))
    assert predict(db_url, run_id, tmp_path / "odd.npy", "-o", tmp_path / "out", "--tile", 32, "--overlap", 8) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "odd.png"))
    assert out.shape == (45, 45, 3)
    # The restored model reproduces the run's own test predictions.
    loaded = load_run(store, run_id, plugins)
    test = plugins.datasets.get("tiny").samples("test")
    with torch.inference_mode():
        pred = loaded.stainer.predict(torch.stack([t.input for t in test]))
    # PSNR as vbench defines it (peak 1, MSE + 1e-8), written out here: the restored weights must
    # give the run's own outputs, so every tile's score agrees to rounding.
    diff = (pred.clamp(0, 1) - torch.stack([t.target for t in test])).double()
    psnr = -10 * torch.log10((diff**2).mean(dim=(1, 2, 3)) + 1e-8)
    stored = store.scores(run_id, "psnr")
    assert set(stored) == {t.id for t in test}
    for t, value in zip(test, psnr.tolist()):
        assert abs(stored[t.id] - value) < 1e-6, t.id


def test_bad_inputs_and_runs_are_clear_errors(trained, db_url, tmp_path, capsys):
    plugins, store, run_id = trained
    grey, rgb = tmp_path / "grey.png", tmp_path / "rgb.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(grey)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(rgb)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    np.save(tmp_path / "hot.npy", np.full((8, 8), 2.0, np.float32))
    out = tmp_path / "out"

    def error(run, *args, to=out):
        code = predict(db_url, run, *args, "-o", to)
        text = " ".join(capsys.readouterr().err.split())
        assert code != 0 and "Traceback" not in text
        return text

    assert "no run 42" in error(42, grey)
    assert "rgb.png: 3 channel(s), but run 1 (phasestain, trained on tiny) takes 1-channel input" in error(run_id, rgb)
    assert "does not exist" in error(run_id, tmp_path / "missing.png")
    assert "unsupported file type" in error(run_id, tmp_path / "notes.txt")
    assert "broken.png cannot be read as an image" in error(run_id, tmp_path / "broken.png")
    assert "must lie in [0, 1]" in error(run_id, tmp_path / "hot.npy")
    assert "share a file name stem" in error(run_id, grey, tmp_path / "sub" / "grey.png")
    assert not out.exists()  # nothing is written before every input is checked

    folder = Path(store.get_run(run_id).artifacts)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, stainer="cyclegan")))
    assert "written by stainer 'cyclegan'" in error(run_id, grey)
    (folder / "config.json").write_text(json.dumps(config))

    assert "tile 32 and overlap 16: need 0 <= overlap < tile / 2" in error(run_id, grey, "--tile", 32, "--overlap", 16)
    if not torch.cuda.is_available():
        code = main(["predict", "--run", str(run_id), str(grey), "-o", str(out), "--db", db_url, "--device", "cuda"])
        assert code != 0 and "--device cuda: this machine has no such CUDA device" in " ".join(
            capsys.readouterr().err.split()
        )
    assert "--precision 'fp16': use fp32 or bf16" in error(run_id, grey, "--precision", "fp16")
    (tmp_path / "a-file").write_text("x")
    assert "output folder" in error(run_id, grey, to=tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "x"
    assert not out.exists()

    # Existing outputs are kept unless --overwrite.
    assert predict(db_url, run_id, grey, "-o", out) == 0
    (out / "grey.png").write_bytes(b"mine")
    assert "grey.png already exist(s); choose another -o folder or pass --overwrite" in error(run_id, grey)
    assert (out / "grey.png").read_bytes() == b"mine"
    assert predict(db_url, run_id, grey, "-o", out, "--overwrite") == 0
    assert Image.open(out / "grey.png").size == (20, 20)
    (out / "grey.png").unlink()

    # A checkpoint trained with other params than the run records is refused, naming them; one whose
    # config agrees but whose tensors do not fit is refused too.
    store.update_run(run_id, params=json.dumps(dict(TINY, width=8)))
    assert "trained with other params than run 1 records: width=4 (run: 8)" in error(run_id, grey)
    (folder / "config.json").write_text(json.dumps(dict(config, params=dict(TINY, width=8))))
    assert "does not fit stainer 'phasestain'" in error(run_id, grey)
    (folder / "config.json").write_text(json.dumps(config))

    (folder / "model.safetensors").unlink()
    assert f"run {run_id} (phasestain, completed) has no checkpoint" in error(run_id, grey)


def test_a_run_whose_dataset_is_gone_still_predicts(trained, tmp_path):
    plugins, store, run_id = trained
    bare = load_plugins()  # without the toy dataset: scale and channels come from the checkpoint
    with pytest.raises(Exception, match="tiny"):
        bare.datasets.get("tiny")
    loaded = load_run(store, run_id, bare)
    assert (loaded.scale, loaded.in_channels) == (1, 1)
    assert stain_image(loaded, torch.from_numpy(texture(24)[None].astype(np.float32))).shape == (3, 24, 24)


def test_a_bf16_run_predicts_under_bf16_unless_told_otherwise(tiny_dataset, db_url, tmp_path, monkeypatch):
    """`vbench predict` stains as the run's scores were made (its precision); --precision overrides."""
    plugins = load_plugins(extra=[tiny_dataset])
    monkeypatch.setattr("vbench.cli.predict.loaded_plugins", lambda: plugins)
    spec = RunSpec(
        stainer="phasestain", dataset="tiny", preset="quick", params=TINY, metrics=["psnr"], precision="bf16"
    )
    store = Store(db_url)
    (outcome,) = run_sweep([spec], store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    image = texture(96).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    pngs = {}
    for name, args in {"default": [], "bf16": ["--precision", "bf16"], "fp32": ["--precision", "fp32"]}.items():
        assert predict(db_url, outcome.run_id, tmp_path / "in.npy", "-o", tmp_path / name, *args) == 0
        pngs[name] = np.asarray(Image.open(tmp_path / name / "in.png"))
    assert np.array_equal(pngs["default"], pngs["bf16"])
    stained = {}
    for precision in ("fp32", "bf16", None):
        loaded = load_run(store, outcome.run_id, plugins, precision=precision)
        assert loaded.stainer.ctx.precision == (precision or "bf16")
        stained[precision] = stain_image(loaded, torch.from_numpy(image)[None], tile=32, overlap=4)
    assert torch.equal(stained[None], stained["bf16"])
    gap = (stained["bf16"] - stained["fp32"]).abs().max()
    assert 0 < gap < 0.05  # bf16 rounds the forward passes: a little, not nothing
