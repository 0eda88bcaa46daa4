"""`ihc-demo`: a smoke-sized paired dataset from scikit-image's IHC colon image.

Source: ``skimage.data.immunohistochemistry()`` (512 x 512 RGB, DAB + haematoxylin, no known
restrictions; see datasets/README.md). The label-free input is *simulated*: unstained tissue
attenuates brightfield light weakly, so the input is a dim, low-contrast single-channel image
whose absorbance follows the total stain optical density (colour deconvolution, rgb2hed),
blurred by the optics (Gaussian, sigma 1 px) with read noise (sigma 0.01). Values are stored
at 8 bit so the manifest hash does not depend on float rounding.

Regions (columns x, rows y; no tile crosses a guard band, so splits cannot leak):
train x 0-256, y 0-384 (64 px tiles, stride 32) | val x 0-256, y 448-512 (64 px)
test x 320-512, all rows (96 px tiles). Guard bands: x 256-320 and y 384-448.
"""

from __future__ import annotations

import vbench

TRAIN_TILE, TEST_TILE = 64, 96
ABSORBANCE, BLUR_SIGMA, NOISE_SIGMA, NOISE_SEED = 0.25, 1.0, 0.01, 1234


class IhcDemo(vbench.Dataset):
    name = "ihc-demo"
    task = "brightfield->ihc"
    pairing = "paired"
    scale = 1
    in_channels = 1
    description = "Smoke-sized demo: simulated unstained brightfield -> DAB/haematoxylin IHC, 512 px colon image"
    simulated = "input simulated from real stained tissue of one slide (scikit-image IHC colon image)"

    def load(self, split):
        import torch

        inp, tgt = _images()
        out = []
        for y, x, size in _tiles(split):
            out.append(vbench.Sample(
                id=f"{split}-y{y:03d}-x{x:03d}",
                input=torch.from_numpy(inp[y:y + size, x:x + size][None].copy()),
                target=torch.from_numpy(tgt[y:y + size, x:x + size].transpose(2, 0, 1).copy()),
                truth=None,
                meta={"source": "skimage.data.immunohistochemistry", "y": y, "x": x, "size": size},
            ))
        for s in out:
            s.truth = s.target  # paired and aligned: the target is the truth
        return out


def _tiles(split):
    if split == "train":
        return [(y, x, TRAIN_TILE) for y in range(0, 384 - TRAIN_TILE + 1, 32) for x in range(0, 256 - TRAIN_TILE + 1, 32)]
    if split == "val":
        return [(448, x, TRAIN_TILE) for x in range(0, 256, TRAIN_TILE)]
    if split == "test":
        return [(y, x, TEST_TILE) for y in range(0, 512 - TEST_TILE + 1, TEST_TILE) for x in (320, 416)]
    raise ValueError(f"unknown split {split!r}; use train, val or test")


_CACHE: dict = {}


def _images():
    """(input H x W, target H x W x 3) as float32 in [0, 1], quantised to 8 bit."""
    if not _CACHE:
        import numpy as np
        from skimage import data
        from skimage.color import rgb2hed
        from skimage.filters import gaussian

        rgb = data.immunohistochemistry()
        density = np.clip(rgb2hed(rgb), 0, None).sum(axis=2)
        density /= np.percentile(density, 99.5)
        light = 1.0 - ABSORBANCE * np.clip(density, 0, 1)
        light = gaussian(light, sigma=BLUR_SIGMA)
        light += np.random.default_rng(NOISE_SEED).normal(0, NOISE_SIGMA, light.shape)
        inp = np.round(np.clip(light, 0, 1) * 255) / 255
        _CACHE["input"] = inp.astype(np.float32)
        _CACHE["target"] = (rgb / 255.0).astype(np.float32)
    return _CACHE["input"], _CACHE["target"]


@vbench.hookimpl
def vbench_register_datasets(register):
    register(IhcDemo)
