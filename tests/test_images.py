"""vbench/images.py: the one decoder behind `vbench score`, `vbench predict` and folder datasets."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from vbench import images


def rgb(h=24, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_truncated_jpeg_is_refused(tmp_path):
    # OpenCV decodes a truncated JPEG with a warning and grey rows; the decoder must refuse it.
    path = tmp_path / "cut.jpg"
    Image.fromarray(rgb(256, 256)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(images.UnreadableImage) as info:
        images.decode(path)
    assert info.value.path == path and "truncated" in info.value.reason


def test_sixteen_bit_colour_png_keeps_its_depth(tmp_path):
    import cv2

    arr = (rgb().astype(np.uint16) * 257) + 1
    cv2.imwrite(str(tmp_path / "deep.png"), arr[..., ::-1])
    out = images.decode(tmp_path / "deep.png")
    assert out.dtype == np.uint16 and np.array_equal(out, arr) and images.mode_name(out) == "RGB;uint16"


def test_kinds_and_their_mode_names(tmp_path):
    gray16 = np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 80
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    Image.fromarray(rgb()).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(rgb()).save(tmp_path / "c.bmp")
    tifffile.imwrite(tmp_path / "f.tif", np.full((4, 5, 3), 0.5, np.float32), photometric="rgb")
    np.save(tmp_path / "stack.npy", np.zeros((4, 8, 8), np.float32))
    Image.new("RGBA", (4, 4)).save(tmp_path / "a.png")
    found = {
        name: images.mode_name(images.decode(tmp_path / name))
        for name in ("g16.png", "pal.png", "c.bmp", "f.tif", "a.png")
    }
    assert found == {"g16.png": "I;16", "pal.png": "RGB", "c.bmp": "RGB", "f.tif": "RGB;float32", "a.png": "RGBA"}
    assert np.array_equal(images.decode(tmp_path / "g16.png"), gray16)
    assert images.decode(tmp_path / "stack.npy").shape == (4, 8, 8)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(images.UnreadableImage, match="junk.png"):
        images.decode(tmp_path / "junk.png")


def test_files_by_stem(tmp_path):
    assert images.files_by_stem(tmp_path / "missing") == {}
    Image.fromarray(rgb()).save(tmp_path / "a.png")
    (tmp_path / "._a.png").write_bytes(b"resource fork")
    (tmp_path / "notes.txt").write_text("x")
    assert images.files_by_stem(tmp_path) == {"a": tmp_path / "a.png"}
    Image.fromarray(rgb()).save(tmp_path / "a.tif")
    with pytest.raises(images.ImageInputError, match="two images named 'a'"):
        images.files_by_stem(tmp_path, "target")


def test_importing_images_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, vbench; before = set(sys.modules); import vbench.images; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {'numpy', 'PIL', 'cv2', 'torch'}))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
