"""`vbench score --tile/--overlap` on whole images made elsewhere, and each bad input as a one-line
error: no grid for seam, --overlap not smaller than --tile, a pair of different sizes, an image
over the pixel limit (refused before decoding), a grid that does not fit a dataset's scale."""

from __future__ import annotations

import json

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


def one_error(err: str) -> bool:
    """One message (the console wraps it at its width, so count messages, not lines)."""
    return err.count("error:") == 1 and "Traceback" not in err


def he(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(120, 230, (h // 10 + 1, w // 10 + 1, 3)), np.ones((10, 10, 1)))[:h, :w]
    return np.clip(base + rng.integers(-8, 8, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def wholes(tmp_path):
    pred, target = tmp_path / "pred", tmp_path / "target"
    pred.mkdir()
    target.mkdir()
    for name, (h, w) in {"a": (300, 420), "b": (257, 263)}.items():
        t = he(h, w)
        p = t.astype(int)
        p[:, ::100] = p[:, ::100] // 2  # dark seams on every 100th column and row: the tile grid (100, 0)
        p[::100] = p[::100] // 2
        Image.fromarray(t).save(target / f"{name}.png")
        Image.fromarray(p.astype(np.uint8)).save(pred / f"{name}.png")
    return pred, target


def test_whole_images_of_any_size_with_their_grid(capsys, wholes):
    pred, target = wholes
    code, out, err = cli(capsys, "score", pred, target, "-m", "seam", "-m", "stain-drift", "--tile", 100, "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["image"] for r in data["images"]] == ["a", "b"]
    assert all(r["seam"] > 2 and r["stain-drift"] > 0 for r in data["images"])
    code, out, err = cli(capsys, "score", target, target, "-m", "seam", "--tile", 100, "--overlap", 0, "-f", "json")
    assert code == 0 and all(r["seam"] < 1.6 for r in json.loads(out)["images"])


def test_seam_without_a_grid_is_not_computed_and_says_why(capsys, wholes):
    code, _, err = cli(capsys, "score", *wholes, "-m", "seam")
    assert code == 2 and "seam is not computed" in flat(err) and "--tile" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, words",
    [
        (("--tile", 256, "--overlap", 256), "overlap 256 with tile 256"),
        (("--tile", 256, "--overlap", 300), "smaller than the tile"),
        (("--overlap", 16), "give its tile side with --tile"),
    ],
)
def test_bad_grids_are_one_line_errors(capsys, wholes, args, words):
    code, _, err = cli(capsys, "score", *wholes, "-m", "seam", *args)
    assert code == 2 and words in flat(err) and one_error(err), err


def test_a_grid_that_does_not_fit_the_scale_is_a_one_line_error(capsys, wholes):
    code, _, err = cli(capsys, "score", wholes[0], "-d", "af-he-x4", "-m", "seam", "--tile", 250)
    assert code == 2 and "scale 4" in flat(err) and one_error(err), err


def test_a_pair_of_different_sizes_is_a_one_line_error_naming_the_file(capsys, wholes):
    pred, target = wholes
    Image.fromarray(he(300, 400)).save(pred / "a.png")
    code, _, err = cli(capsys, "score", pred, target, "-m", "seam", "--tile", 100)
    assert code == 2 and str(pred / "a.png") in flat(err) and "400 x 300" in flat(err) and one_error(err)


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(capsys, wholes, monkeypatch):
    monkeypatch.setenv("VBENCH_MAX_PIXELS", "100000")
    code, _, err = cli(capsys, "score", *wholes, "-m", "seam", "--tile", 100)
    assert code == 2 and "a.png declares" in flat(err) and "VBENCH_MAX_PIXELS" in err
