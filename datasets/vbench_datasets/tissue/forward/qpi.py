"""Quantitative phase of an unstained section (the PhaseStain input).

The optical phase delay of a thin section is proportional to its refractive-index increment times
its thickness, i.e. to the local dry mass (protein, nucleic acid). Stain uptake stands in for dry
mass: haematoxylin marks chromatin-dense nuclei, eosin (or DAB) protein-rich cytoplasm and stroma,
and ``T`` adds the mass of tissue that takes up little stain. So

    phase = sum_k weight_k * density_k             (radians / full_scale after normalising)
    input = clip(offset + blur(phase) / full_scale + noise, 0, 1)

with a Gaussian point-spread function (``blur_sigma`` in source pixels, a low-NA objective) and
additive Gaussian phase noise (``noise_sigma``, the phase-retrieval noise floor). Glass has zero
phase, so background reads ``offset``. One value per pixel: a 1-channel image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class QuantitativePhase:
    weights: tuple = (("H", 0.45), ("E", 0.30), ("T", 0.25))
    full_scale: float = 1.6
    offset: float = 0.05
    blur_sigma: float = 1.0
    noise_sigma: float = 0.012
    seed: int = 101

    def params(self) -> dict:
        return dict(asdict(self), model="quantitative-phase", weights=dict(self.weights))

    def simulate(self, dens: dict):
        """1 x H x W float64 in [0, 1]."""
        import numpy as np
        from scipy.ndimage import gaussian_filter

        phase = sum(w * dens[k] for k, w in self.weights)
        phase = gaussian_filter(phase, self.blur_sigma, mode="reflect")
        noise = np.random.default_rng(self.seed).normal(0.0, self.noise_sigma, phase.shape)
        return np.clip(self.offset + phase / self.full_scale + noise, 0.0, 1.0)[None]
