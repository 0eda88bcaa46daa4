"""Dark-field image of an unstained section (the input of the distillation paper's DSD data).

Dark-field illumination lets no direct light into the objective: only light the specimen scatters
is seen, so glass and empty lumen are black and tissue glows where its refractive index changes.
Dense tissue scatters a little everywhere; the sharp index steps at nuclear borders (chromatin
against cytoplasm) and at the edges of tissue scatter most. Short wavelengths scatter more, so
the glow is bluish. The signal is weak, so shot noise and the camera's read noise show:

    density    = sum_k weight_k * density_k                       (H, E and tissue density T)
    scatter    = bulk * density + edge * |grad G_s * H| + border * |grad G_s * T|
    electrons_c = Poisson(full_well * (exposure * gain_c * blur(scatter) + stray))
    input_c    = clip(electrons_c / full_well + Normal(0, read_noise), 0, 1)

``|grad G_s * X|`` is the gradient magnitude at the scale ``edge_sigma`` px
(``scipy.ndimage.gaussian_gradient_magnitude``), ``blur`` the objective's point-spread function
(Gaussian ``blur_sigma`` px), ``gain`` the relative scattering per camera channel (R, G, B),
``stray`` the light that reaches the camera without the specimen (the black level), ``full_well``
the electrons at full range (few: a dim image) and ``read_noise`` in units of the range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class UnstainedDarkfield:
    weights: tuple = (("H", 0.45), ("E", 0.30), ("T", 0.25))
    bulk: float = 0.30
    edge: float = 1.6
    border: float = 1.0
    edge_sigma: float = 1.0
    gains: tuple = (0.80, 1.00, 1.25)
    exposure: float = 0.55
    stray: float = 0.01
    blur_sigma: float = 1.0
    full_well: float = 1200.0
    read_noise: float = 0.006
    seed: int = 606

    def params(self) -> dict:
        return dict(asdict(self), model="unstained-darkfield", weights=dict(self.weights))

    def simulate(self, dens: dict):
        """3 x H x W float64 in [0, 1]."""
        import numpy as np
        from scipy.ndimage import gaussian_filter, gaussian_gradient_magnitude

        rng = np.random.default_rng(self.seed)
        density = sum(w * dens[k] for k, w in self.weights)
        scatter = (
            self.bulk * density
            + self.edge * gaussian_gradient_magnitude(dens["H"], self.edge_sigma, mode="reflect")
            + self.border * gaussian_gradient_magnitude(dens["T"], self.edge_sigma, mode="reflect")
        )
        light = gaussian_filter(scatter, self.blur_sigma, mode="reflect")
        out = []
        for gain in self.gains:
            electrons = rng.poisson(self.full_well * (self.exposure * gain * light + self.stray))
            signal = electrons / self.full_well + rng.normal(0.0, self.read_noise, light.shape)
            out.append(np.clip(signal, 0.0, 1.0))
        return np.stack(out)
