"""vbench/images.py: the one decoder behind `vbench score`, `vbench predict` and folder datasets."""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from vbench import images
from vbench.errors import ConfigError


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


# --- the pixel limit: a header that declares a huge image is refused before decoding ---------------


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, depth: int = 8) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_bomb(width: int, height: int) -> bytes:
    def segment(marker: int, data: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data

    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    sos = bytes([3]) + b"".join(bytes([i, 0]) for i in (1, 2, 3)) + bytes([0, 63, 0])
    return b"\xff\xd8" + segment(0xC0, sof) + segment(0xDA, sos) + b"\x00" * 16 + b"\xff\xd9"


def bmp_bomb(width: int, height: int) -> bytes:
    head = struct.pack("<2sIHHI", b"BM", 70, 0, 0, 54)
    return head + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 16, 0, 0, 0, 0) + b"\0" * 16


def tiff_bomb(width: int, height: int) -> bytes:
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    tags += [(273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", t, k, 1, v) for t, k, v in tags)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 16


def npy_bomb(shape: tuple, descr="<f4") -> bytes:
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 16


BOMBS = {
    "rgb8.png": png_bomb(100_000, 100_000),
    "rgb16.png": png_bomb(30_000, 30_000, depth=16),  # OpenCV's own limit (2^30 pixels) would decode 5.4 GB
    "big.jpg": jpeg_bomb(65_000, 65_000),
    "big.bmp": bmp_bomb(100_000, 100_000),
    "big.tif": tiff_bomb(100_000, 100_000),
    "big.npy": npy_bomb((100_000, 100_000)),
    "cube.npy": npy_bomb((3000, 3000, 3000), "|u1"),  # no channel axis: every value counts
    "stack.npy": npy_bomb((4, 20_000, 20_000)),  # 4 channels of 400 million pixels
}


@pytest.fixture
def no_decoding(monkeypatch):
    """Every decoder fails the test if it is reached: the limit must act on the header alone."""
    import cv2
    from PIL import ImageFile

    def reached(*args, **kwargs):
        raise AssertionError("a decoder was reached")

    monkeypatch.setattr(ImageFile.ImageFile, "load", reached)
    monkeypatch.setattr(cv2, "imread", reached)
    monkeypatch.setattr(np, "load", reached)
    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", reached)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_tiny_file_declaring_a_huge_image_is_refused_before_decoding(tmp_path, name, no_decoding):
    path = tmp_path / name
    path.write_bytes(BOMBS[name])
    assert path.stat().st_size < 200
    with pytest.raises(images.ImageTooLarge) as info:
        images.decode(path)
    message = str(info.value)
    assert name in message and "134,217,728 pixels" in message and "VBENCH_MAX_PIXELS" in message
    assert re.search(r"\d{1,3}(,\d{3}){2,} pixels", message), message  # the declared size


def real_files(folder) -> list:
    """40 x 40 images in every format the decoder reads (1600 pixels each)."""
    import cv2

    arr = rgb(40, 40)
    Image.fromarray(arr).save(folder / "rgb8.png")
    cv2.imwrite(str(folder / "rgb16.png"), arr.astype(np.uint16) * 257)
    Image.fromarray(arr[..., 0]).save(folder / "gray.png")
    Image.fromarray(arr).save(folder / "a.jpg")
    Image.fromarray(arr).save(folder / "a.bmp")
    Image.fromarray(arr).save(folder / "a.webp")
    Image.fromarray(arr).save(folder / "a.ppm")
    tifffile.imwrite(folder / "a.tif", arr, photometric="rgb")
    np.save(folder / "hwc.npy", arr)
    np.save(folder / "chw.npy", np.zeros((8, 40, 40), np.float32))
    return sorted(p for p in folder.iterdir())


def test_one_limit_for_every_decoder_set_by_the_environment(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    (tmp_path / "images").mkdir()
    files = real_files(tmp_path / "images")
    monkeypatch.setenv("VBENCH_MAX_PIXELS", "1600")
    for path in files:
        assert images.decode(path).size >= 1600, path
    assert PILImage.MAX_IMAGE_PIXELS == 1600  # Pillow's own bomb check uses the same number
    monkeypatch.setenv("VBENCH_MAX_PIXELS", "1599")
    for path in files:
        with pytest.raises(images.ImageTooLarge, match="1,599 pixels"):
            images.decode(path)
    for bad in ("lots", "-5", "0", "1e9"):
        monkeypatch.setenv("VBENCH_MAX_PIXELS", bad)
        with pytest.raises(ConfigError, match="VBENCH_MAX_PIXELS"):
            images.decode(files[0])
    monkeypatch.delenv("VBENCH_MAX_PIXELS")
    assert images.max_pixels() == images.DEFAULT_MAX_PIXELS


def test_an_npy_file_that_is_not_an_image_array_is_refused_from_its_header(tmp_path):
    (tmp_path / "rec.npy").write_bytes(npy_bomb((4, 4), [("a", "<i4")]))
    (tmp_path / "obj.npy").write_bytes(npy_bomb((4, 4), "|O"))
    for name in ("rec.npy", "obj.npy"):
        with pytest.raises(images.UnreadableImage, match="not numbers"):
            images.decode(tmp_path / name)


def test_datasets_add_score_and_predict_refuse_a_bomb_with_one_line(tmp_path, capsys):
    from vbench.cli import main
    from vbench.predict import read_image

    root = tmp_path / "pairs"
    for split in ("train", "val", "test"):
        for side in ("A", "B"):
            (root / side / split).mkdir(parents=True)
            Image.fromarray(rgb(16, 16)).save(root / side / split / "t0.png")
    (root / "A" / "test" / "t0.png").write_bytes(png_bomb(100_000, 100_000))
    assert main(["datasets", "add", "bombed", str(root)]) == 2
    err = capsys.readouterr().err
    assert "t0.png declares 100000 x 100000" in " ".join(err.split()) and "Traceback" not in err

    assert main(["score", str(root / "A" / "test"), str(root / "B" / "test"), "-m", "psnr"]) == 2
    err = capsys.readouterr().err
    assert "t0.png declares 100000 x 100000" in " ".join(err.split()) and "Traceback" not in err

    with pytest.raises(ConfigError, match="declares 100000 x 100000"):
        read_image(root / "A" / "test" / "t0.png")
