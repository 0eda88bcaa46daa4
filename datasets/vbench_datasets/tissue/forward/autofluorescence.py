"""Low-resolution multi-channel autofluorescence of an unstained section (the BBDM input).

Unstained tissue fluoresces on its own: collagen and elastin of the stroma (eosinophilic) and
NADH / flavins of the cytoplasm are bright in the UV and blue filter sets, chromatin-rich nuclei
are dark there, and the red filter sets see weaker, broader emission (lipofuscin, porphyrins).
Each channel is therefore a different non-negative mix of the stain densities and the tissue
density ``T`` (``mix``, one row per filter set; a negative H weight is the nuclear dip).

    emission_c = clip(sum_k mix[c][k] * density_k, 0, inf)
    counts_c   = Poisson(photons_c * area_downsample(blur(emission_c), factor)) + Normal(0, read_noise)
    input_c    = clip(counts_c / (photons_c * headroom), 0, 1)

``blur_sigma`` is the point-spread function at the source (target) resolution, ``factor`` the
pixel ratio between target and input (each input pixel integrates factor x factor target pixels),
``photons`` the expected photo-electrons at unit emission per channel (dim: shot noise matters) and
``read_noise`` the camera read noise in electrons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Autofluorescence:
    channels: tuple = ("DAPI", "FITC", "TxRed", "Cy5")
    mix: tuple = (
        (("H", -0.30), ("E", 0.55), ("T", 0.30)),
        (("H", -0.20), ("E", 0.70), ("T", 0.20)),
        (("H", 0.05), ("E", 0.35), ("T", 0.30)),
        (("H", 0.20), ("E", 0.15), ("T", 0.30)),
    )
    factor: int = 4
    blur_sigma: float = 1.5
    photons: tuple = (1000.0, 800.0, 600.0, 400.0)
    read_noise: float = 3.0
    headroom: float = 1.25
    seed: int = 202

    def params(self) -> dict:
        return dict(
            asdict(self), model="autofluorescence", mix={c: dict(row) for c, row in zip(self.channels, self.mix)}
        )

    def simulate(self, dens: dict):
        """C x (H / factor) x (W / factor) float64 in [0, 1]; H and W must be multiples of factor."""
        import numpy as np
        from scipy.ndimage import gaussian_filter
        from skimage.transform import downscale_local_mean

        rng = np.random.default_rng(self.seed)
        out = []
        for row, photons in zip(self.mix, self.photons):
            emission = np.clip(sum(w * dens[k] for k, w in row), 0.0, None)
            emission = gaussian_filter(emission, self.blur_sigma, mode="reflect")
            low = downscale_local_mean(emission, (self.factor, self.factor))
            counts = rng.poisson(photons * low) + rng.normal(0.0, self.read_noise, low.shape)
            out.append(np.clip(counts / (photons * self.headroom), 0.0, 1.0))
        return np.stack(out)
