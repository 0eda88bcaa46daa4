"""Dim, low-contrast brightfield of an unstained section (the distillation method's input).

Without stain, a section absorbs and scatters little light; what contrast there is comes from
dense structures (nuclei, collagen) and is slightly stronger in the blue (unstained tissue looks
faintly yellow). Under low illumination the camera sees

    transmission_c = exp(-attenuation_c * sum_k weight_k * density_k)
    electrons_c    = Poisson(full_well * illumination_c * blur(transmission_c))
    input_c        = clip(electrons_c / full_well + Normal(0, read_noise), 0, 1)

``illumination`` is the lamp level per channel as a fraction of the camera range (dim, so the
image is dark), ``full_well`` the electrons at full range (sets the shot noise), ``read_noise``
in units of the range. Three channels, like an RGB camera.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class UnstainedBrightfield:
    weights: tuple = (("H", 0.45), ("E", 0.30), ("T", 0.25))
    attenuation: tuple = (0.20, 0.24, 0.30)
    illumination: tuple = (0.36, 0.34, 0.30)
    blur_sigma: float = 1.2
    full_well: float = 6000.0
    read_noise: float = 0.004
    seed: int = 303

    def params(self) -> dict:
        return dict(asdict(self), model="unstained-brightfield", weights=dict(self.weights))

    def simulate(self, dens: dict):
        """3 x H x W float64 in [0, 1]."""
        import numpy as np
        from scipy.ndimage import gaussian_filter

        rng = np.random.default_rng(self.seed)
        density = sum(w * dens[k] for k, w in self.weights)
        out = []
        for att, light in zip(self.attenuation, self.illumination):
            transmission = gaussian_filter(np.exp(-att * density), self.blur_sigma, mode="reflect")
            electrons = rng.poisson(self.full_well * light * transmission)
            signal = electrons / self.full_well
            signal += rng.normal(0.0, self.read_noise, signal.shape)
            out.append(np.clip(signal, 0.0, 1.0))
        return np.stack(out)
