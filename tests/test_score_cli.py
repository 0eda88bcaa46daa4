"""`vbench score`: folders a user hands it, every output format, each bad input with a clear
error, and predictions made elsewhere scored against a dataset and stored as an external run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench.cli import main


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


def rgb(seed: int, size=(48, 40)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, (size[0] // 8, size[1] // 8, 3))
    img = np.kron(base, np.ones((8, 8, 1))) + rng.integers(-10, 10, (*size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def folders(tmp_path):
    pred, target = tmp_path / "pred", tmp_path / "target"
    pred.mkdir()
    target.mkdir()
    for i in range(3):
        t = rgb(i)
        noisy = np.clip(t.astype(int) + np.random.default_rng(10 + i).integers(-12, 12, t.shape), 0, 255)
        Image.fromarray(t).save(target / f"img{i}.png")
        Image.fromarray(noisy.astype(np.uint8)).save(pred / f"img{i}.png")
    return pred, target


def test_two_folders_in_every_format(capsys, folders):
    pred, target = folders
    code, out, err = cli(capsys, "score", pred, target, "-m", "psnr", "-m", "ssim,ciede2000", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["image"] for r in data["images"]] == ["img0", "img1", "img2"]
    summary = {s["metric"]: s for s in data["summary"]}
    assert set(summary) == {"psnr", "ssim", "ciede2000"}
    assert (
        summary["psnr"]["n"] == 3 and summary["psnr"]["ci_low"] <= summary["psnr"]["mean"] <= summary["psnr"]["ci_high"]
    )
    assert "rounded to 8 bit" in summary["ssim"]["pipeline"]
    assert 20 < summary["psnr"]["mean"] < 40 and 0 < summary["ssim"]["mean"] < 1

    code, out, _ = cli(capsys, "score", pred, target, "-m", "psnr,ssim", "-f", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["image", "psnr", "ssim"] and [r[0] for r in rows[1:]] == [
        "img0",
        "img1",
        "img2",
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
    ]
    assert float(rows[1][1]) == pytest.approx(data["images"][0]["psnr"])

    code, out, _ = cli(capsys, "score", pred, target, "-m", "psnr")
    assert code == 0 and "img2" in out and "summary" in out and "95% CI" in out


def test_default_set_reports_what_it_cannot_compute_without_failing(capsys, folders):
    pred, target = folders
    code, out, err = cli(capsys, "score", pred, target, "-f", "json")
    assert code == 0, err
    summary = {s["metric"]: s for s in json.loads(out)["summary"]}
    assert summary["psnr"]["status"] == "computed" and summary["ssim"]["status"] == "computed"
    assert summary["niqe"]["status"] == "not computed" and "192" in summary["niqe"]["reason"]
    assert summary["lpips"]["status"] == "not computed" and "vbench assets fetch" in summary["lpips"]["reason"]
    assert "not computed" in err
    # without targets only no-reference metrics are in the default set
    code, out, err = cli(capsys, "score", pred, "-f", "json")
    assert code == 0, err
    assert all(s["metric"] not in ("psnr", "ssim", "lpips") for s in json.loads(out)["summary"])


@pytest.mark.parametrize(
    "case, message",
    [
        ("size", "is 40 x 48 px but target"),
        ("missing", "1 target(s) without a prediction"),
        ("extra", "1 prediction(s) without a target"),
        ("gray", "is grayscale but target"),
        ("sixteen-as-eight", "16-bit image whose largest value is"),
        ("float-range", "float images must lie in [0, 1]"),
        ("alpha", "has transparent pixels"),
        ("duplicate", "two images named 'img0'"),
        ("not-an-image", "cannot read"),
    ],
)
def test_bad_inputs_are_one_clear_error(capsys, folders, case, message):
    import cv2

    pred, target = folders
    if case == "size":
        Image.fromarray(rgb(5, size=(48, 48))).save(target / "img1.png")
    elif case == "missing":
        (pred / "img2.png").unlink()
    elif case == "extra":
        Image.fromarray(rgb(7)).save(pred / "img9.png")
    elif case == "gray":
        Image.fromarray(rgb(1)[..., 0]).save(pred / "img1.png")
    elif case == "sixteen-as-eight":
        cv2.imwrite(str(pred / "img0.png"), rgb(0)[..., ::-1].astype(np.uint16))
    elif case == "float-range":
        import tifffile

        (pred / "img0.png").unlink()
        tifffile.imwrite(pred / "img0.tif", rgb(0).astype(np.float32), photometric="rgb")  # 0..255 floats
    elif case == "alpha":
        rgba = np.dstack([rgb(0), np.full((48, 40), 128, np.uint8)])
        Image.fromarray(rgba).save(pred / "img0.png")
    elif case == "duplicate":
        Image.fromarray(rgb(0)).save(pred / "img0.bmp")
    elif case == "not-an-image":
        (pred / "img0.png").write_bytes(b"not a png")
    code, out, err = cli(capsys, "score", pred, target, "-m", "psnr")
    assert code != 0 and "Traceback" not in out + err
    assert message in flat(err)


def test_sixteen_bit_images_score_like_their_eight_bit_values(capsys, folders):
    import cv2

    pred, target = folders
    code, out, _ = cli(capsys, "score", pred, target, "-m", "psnr,ssim", "-f", "json")
    eight = json.loads(out)["images"]
    for p in pred.iterdir():
        arr = np.asarray(Image.open(p)).astype(np.uint16) * 257  # the same values at 16 bit
        p.unlink()
        cv2.imwrite(str(p), arr[..., ::-1])
    code, out, err = cli(capsys, "score", pred, target, "-m", "psnr,ssim", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    sixteen = data["images"]
    assert any("16-bit" in n for n in data["notes"])
    for a, b in zip(eight, sixteen):
        assert a["psnr"] == pytest.approx(b["psnr"], abs=1e-9) and a["ssim"] == pytest.approx(b["ssim"], abs=1e-12)


def test_full_reference_metric_without_a_reference_is_an_error(capsys, folders):
    pred, _ = folders
    code, _, err = cli(capsys, "score", pred, "-m", "psnr")
    assert code != 0 and "psnr is full-reference" in flat(err) and "pass a target folder" in flat(err)


def test_option_errors(capsys, folders, tmp_path):
    pred, target = folders
    for args, message in [
        ((pred, target, "-f", "xml"), "unknown format 'xml'"),
        ((pred, target, "-m", "psnrr"), "Did you mean 'psnr'"),
        ((pred, "--store"), "--store needs --dataset"),
        ((pred, "--as", "x"), "--as names a stored run"),
        ((tmp_path / "nowhere",), "does not exist"),
    ]:
        code, _, err = cli(capsys, "score", *args)
        assert code != 0 and message in flat(err), (args, err)


UNPAIRED = """
import torch
import vbench

class Loose(vbench.Dataset):
    name = "loose"
    task = "gray->he"
    pairing = "unpaired"
    in_channels = 1

    def load(self, split):
        g = torch.Generator().manual_seed(3)
        return [vbench.Sample(id=f"{split}-{i}", input=torch.rand(1, 16, 16, generator=g),
                              target=torch.rand(3, 16, 16, generator=g)) for i in range(3)]

@vbench.hookimpl
def vbench_register_datasets(register):
    register(Loose)
"""


@pytest.fixture
def with_datasets(monkeypatch, tiny_dataset, plugin_module):
    """`vbench score` sees the test datasets `tiny` (paired) and `loose` (unpaired)."""
    import vbench.cli.score as cli_metrics
    from vbench.plugins import load_plugins

    names = [tiny_dataset, plugin_module(UNPAIRED)]
    monkeypatch.setattr(cli_metrics, "loaded_plugins", lambda: load_plugins(extra=names))
    return load_plugins(extra=names)


def export_predictions(dataset, folder: Path, shift: float = 0.0, skip=(), size=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in dataset.samples("test"):
        if s.id in skip:
            continue
        arr = np.round(np.clip(s.reference.numpy() + shift, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
        img = Image.fromarray(arr)
        if size is not None:
            img = img.resize(size)
        img.save(folder / f"{s.id}.png")


def test_predictions_made_elsewhere_rank_on_the_leaderboard_as_external(capsys, with_datasets, tmp_path, db_url):
    tiny = with_datasets.datasets.get("tiny")
    export_predictions(tiny, tmp_path / "good", shift=0.01)
    export_predictions(tiny, tmp_path / "bad", shift=0.2)
    code, out, err = cli(
        capsys,
        "score",
        tmp_path / "good",
        "--dataset",
        "tiny",
        "--store",
        "--as",
        "their-net",
        "--db",
        db_url,
        "-f",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["run_id"] == 1 and "stored as external run 1" in flat(err)
    assert {s["metric"] for s in data["summary"] if s["status"] == "computed"} >= {"psnr", "ssim", "ciede2000"}

    from vbench.store import Store

    store = Store(db_url)
    run = store.get_run(1)
    assert run.external and run.status == "completed" and run.stainer == "their-net"
    assert run.manifest_hash == tiny.manifest_hash and run.n_test_tiles == 4
    assert len(store.scores(1, "psnr")) == 4

    code, _, err = cli(capsys, "score", tmp_path / "bad", "-d", "tiny", "--store", "--as", "other-net", "--db", db_url)
    assert code == 0, err
    code, out, _ = cli(capsys, "leaderboard", "--db", db_url, "-f", "json")
    (board,) = json.loads(out)
    assert [(r["label"], r["external"]) for r in board["rows"]] == [("their-net", True), ("other-net", True)]
    code, out, _ = cli(capsys, "leaderboard", "--db", db_url, "-f", "md")
    assert "their-net (external)" in out


def test_dataset_mode_errors(capsys, with_datasets, tmp_path):
    tiny = with_datasets.datasets.get("tiny")
    ids = [s.id for s in tiny.samples("test")]
    export_predictions(tiny, tmp_path / "partial", skip=(ids[0],))
    code, _, err = cli(capsys, "score", tmp_path / "partial", "-d", "tiny", "-m", "psnr")
    assert code != 0 and "1 test tile(s) of tiny have no prediction" in flat(err) and ids[0] in err

    export_predictions(tiny, tmp_path / "extra")
    Image.fromarray(rgb(0, (16, 16))).save(tmp_path / "extra" / "stray.png")
    code, _, err = cli(capsys, "score", tmp_path / "extra", "-d", "tiny", "-m", "psnr")
    assert code != 0 and "are not test tiles of tiny: stray.png" in flat(err)

    export_predictions(tiny, tmp_path / "big", size=(32, 32))
    code, _, err = cli(capsys, "score", tmp_path / "big", "-d", "tiny", "-m", "psnr")
    assert code != 0 and "expects 16 x 16 px" in flat(err)

    code, _, err = cli(capsys, "score", tmp_path / "big", tmp_path / "big", "-d", "tiny")
    assert code != 0 and "not both" in flat(err)
    code, _, err = cli(capsys, "score", tmp_path / "big", "-d", "tiny", "--split", "val", "--store", "--as", "x")
    assert code != 0 and "only the test split ranks" in flat(err)


def test_full_reference_on_unpaired_data_is_meaningless(capsys, with_datasets, tmp_path):
    loose = with_datasets.datasets.get("loose")
    export_predictions(loose, tmp_path / "pred")
    code, _, err = cli(capsys, "score", tmp_path / "pred", "-d", "loose", "-m", "psnr")
    msg = flat(err)
    assert code != 0 and "psnr is full-reference" in msg and "unpaired" in msg
    code, out, err = cli(capsys, "score", tmp_path / "pred", "-d", "loose", "-f", "json")
    assert code == 0, err
    names = {s["metric"] for s in json.loads(out)["summary"]}
    assert "psnr" not in names and "niqe-stain" in names  # the unpaired default set: no-reference, distribution


GAP_METRIC = '''
import torch
import vbench
from vbench import DistributionMetric

class MeanGap(DistributionMetric):
    """Distance between the mean colours of the two sets (a toy distribution metric)."""
    name = "mean-gap"
    higher_is_better = False
    pipeline = "absolute difference of the sets' mean RGB"

    def compute_set(self, preds, targets):
        p = torch.cat([b.flatten(1).mean(1) for b in preds]).mean()
        t = torch.cat([b.flatten(1).mean(1) for b in targets]).mean()
        return float((p - t).abs())

@vbench.hookimpl
def vbench_register_metrics(register):
    register(MeanGap)
'''


def test_distribution_metrics_score_the_two_sets(capsys, folders, monkeypatch, plugin_module):
    import vbench.cli.score as cli_metrics
    from vbench.plugins import load_plugins

    name = plugin_module(GAP_METRIC)
    monkeypatch.setattr(cli_metrics, "loaded_plugins", lambda: load_plugins(extra=[name]))
    pred, target = folders
    code, out, err = cli(capsys, "score", pred, target, "-m", "psnr,mean-gap", "-f", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["image", "psnr", "mean-gap"] and rows[1][2] == ""
    mean_row = next(r for r in rows if r[0] == "mean")
    assert 0 <= float(mean_row[2]) < 0.05
    code, out, err = cli(capsys, "score", pred, "-m", "mean-gap")
    assert code != 0 and "compares predictions with real targets" in flat(err)
