"""Stain densities by colour deconvolution, the common input of every forward model.

``skimage.color.rgb2hed`` (Ruifrok & Johnston's haematoxylin / eosin / DAB matrix) gives a
concentration per stain. Each is divided by a reference density, about its 99th percentile inside
tissue for that source, so 1 means "strongly stained" and the forward models can use plain weights.
``T`` is the tissue density: the optical density summed over R, G, B (-sum log10(I / 255)),
divided by ``od_ref``.

A pixel is tissue when that summed optical density exceeds ``tissue_od`` (glass reads about 0.06
on both sources). The test is done in integers, R * G * B < 255^3 * 10^-tissue_od, so which tiles
are kept never depends on floating-point rounding. Everything else is float64: float32
transcendentals differ by an ulp or so between CPUs (SIMD paths), enough to flip 16-bit values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

HED_CHANNELS = {"H": 0, "E": 1, "DAB": 2}


@dataclass(frozen=True)
class Deconvolution:
    refs: tuple = (("H", 0.30), ("E", 0.12))  # stain -> reference density (rgb2hed units)
    od_ref: float = 2.0
    tissue_od: float = 0.25
    clip: float = 2.0  # densities are clipped to [0, clip]

    def params(self) -> dict:
        return dict(asdict(self), refs=dict(self.refs), method="skimage.color.rgb2hed")

    def densities(self, rgb, hed) -> dict:
        """Normalised density maps (float64, H x W) for each stain in ``refs``, plus ``T``.
        ``hed`` is ``skimage.color.rgb2hed(rgb)``, computed once per source by the caller."""
        import numpy as np

        out = {stain: np.clip(hed[..., HED_CHANNELS[stain]] / ref, 0.0, self.clip) for stain, ref in self.refs}
        i = np.maximum(rgb, 1).astype(np.float64) / 255.0
        out["T"] = np.clip(-np.log10(i).sum(axis=2) / self.od_ref, 0.0, self.clip)
        return out

    def tissue(self, rgb):
        """Boolean H x W mask of tissue pixels (exact integer test, see the module docstring)."""
        import numpy as np

        limit = int(255**3 * 10**-self.tissue_od)
        prod = np.maximum(rgb, 1).astype(np.uint32)  # 255^3 fits
        return prod[..., 0] * prod[..., 1] * prod[..., 2] < limit
