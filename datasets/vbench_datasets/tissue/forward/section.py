"""An adjacent stained section: the target of the misaligned dataset.

In practice the stained image comes from the next section (or the same section after staining and
re-mounting), so it never lines up with the label-free image: the tissue is stretched a little,
and the slide sits shifted and rotated. The stain itself also comes out stronger or weaker. So

    stain:  each stain amount (rgb2hed) is scaled by gain_k * (1 + thickness(x)), then recombined
            with scikit-image's stain matrix (Beer-Lambert: ln I' = ln I + ln(1e-6) * delta_stains @ M)
    warp:   x_source = R(rotation) (x - centre) + centre + shift + elastic(x)   (cubic spline sampling)

``elastic`` and ``thickness`` are smooth random fields: cubic B-splines whose coefficients are
normal noise on a grid of spacing ``elastic_grid`` / ``thickness_grid`` px over the whole image,
scaled so that the B-spline's bound (a convex combination of its coefficients) is exactly
``elastic_px`` (vector length) and ``thickness``. ``bound(shape)`` is thus a true upper bound of
the displacement anywhere; it sizes the guard bands between splits. The fields are functions of
the absolute pixel position, so each tile is computed on its own and gives the same pixels
whichever other tiles are built.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

LOG_ADJUST = math.log(1e-6)  # rgb2hed's scaling of optical density


@dataclass(frozen=True)
class AdjacentSection:
    elastic_px: float = 6.0
    elastic_grid: int = 96
    rotation_deg: float = 0.25
    shift_px: tuple = (3.0, -4.0)  # (rows, columns)
    gains: tuple = (("H", 1.10), ("E", 0.90))
    thickness: float = 0.05
    thickness_grid: int = 256
    seed: int = 404
    # Spline order of the resampling (scipy map_coordinates, prefiltered). Not bilinear: that
    # averages neighbours at sub-pixel positions, blurring the target, which favoured blurred outputs.
    order: int = 3

    def params(self, shape=None) -> dict:
        row = dict(asdict(self), model="adjacent-section", gains=dict(self.gains))
        if shape is not None:
            row["displacement_bound_px"] = round(self.bound(shape), 3)
        return row

    def bound(self, shape) -> float:
        h, w = shape[:2]
        radius = math.hypot((h - 1) / 2, (w - 1) / 2)
        return (
            self.elastic_px
            + math.hypot(*self.shift_px)
            + 2 * math.sin(math.radians(abs(self.rotation_deg)) / 2) * radius
        )

    def fields(self, shape) -> dict:
        """The B-spline coefficients of the random fields for an image of this shape (float64)."""
        import numpy as np

        rng = np.random.default_rng(self.seed)
        h, w = shape[:2]

        def grid(spacing, n):
            return rng.standard_normal((n, -(-h // spacing) + 4, -(-w // spacing) + 4))

        elastic = grid(self.elastic_grid, 2)
        elastic *= self.elastic_px / math.sqrt(2) / np.abs(elastic).max(axis=(1, 2), keepdims=True)
        thickness = grid(self.thickness_grid, 1)[0]
        thickness *= self.thickness / np.abs(thickness).max()
        return {"shape": (h, w), "elastic": elastic, "thickness": thickness}

    def tile(self, fields: dict, rgb, hed, origin: tuple[int, int], y: int, x: int, size: int):
        """The adjacent section's 3 x size x size uint8 tile at (y, x) of the full image.

        ``rgb`` (H x W x 3 uint8) and ``hed`` (rgb2hed of it, float64) hold a window of the full image
        starting at ``origin``; it must reach ``bound`` + 2 px beyond the tile on every side.
        """
        import numpy as np
        from scipy.ndimage import map_coordinates
        from skimage.color import rgb_from_hed

        from .stains import HED_CHANNELS

        h, w = fields["shape"]
        rows, cols = np.mgrid[y : y + size, x : x + size].astype(np.float64)
        src_r, src_c = self.source_positions(fields, rows, cols)

        # The window of source pixels the warp reads, restained.
        m = math.ceil(self.bound((h, w))) + 2
        y0, x0 = max(y - m, 0), max(x - m, 0)
        y1, x1 = min(y + size + m, h), min(x + size + m, w)
        oy, ox = origin
        if y0 < oy or x0 < ox or y1 > oy + rgb.shape[0] or x1 > ox + rgb.shape[1]:
            raise ValueError("the window given to AdjacentSection.tile does not cover the warp's reach")
        win = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
        wr, wc = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        thickness = _spline(fields["thickness"], wr, wc, self.thickness_grid)
        delta = np.zeros((y1 - y0, x1 - x0, 3))
        for stain, gain in self.gains:
            k = HED_CHANNELS[stain]
            delta += (hed[win][..., k] * (gain * (1 + thickness) - 1))[..., None] * rgb_from_hed[k]
        log_i = np.log(np.maximum(rgb[win].astype(np.float64), 1.0) / 255.0)
        stained = np.clip(np.exp(log_i + LOG_ADJUST * delta), 0.0, 1.0)

        out = np.empty((3, size, size), np.uint8)
        coords = np.stack([src_r - y0, src_c - x0])
        for c in range(3):
            moved = map_coordinates(stained[..., c], coords, order=self.order, mode="nearest")
            out[c] = np.round(np.clip(moved, 0.0, 1.0) * 255.0).astype(np.uint8)
        return out

    def source_positions(self, fields: dict, rows, cols):
        """(row, column) in the original section seen by the adjacent section's pixels (rows, cols)."""
        h, w = fields["shape"]
        cy, cx = (h - 1) / 2, (w - 1) / 2
        t = math.radians(self.rotation_deg)
        dy, dx = rows - cy, cols - cx
        elastic = fields["elastic"]
        src_r = (
            math.cos(t) * dy
            - math.sin(t) * dx
            + cy
            + self.shift_px[0]
            + _spline(elastic[0], rows, cols, self.elastic_grid)
        )
        src_c = (
            math.sin(t) * dy
            + math.cos(t) * dx
            + cx
            + self.shift_px[1]
            + _spline(elastic[1], rows, cols, self.elastic_grid)
        )
        return src_r, src_c


def _spline(coef, rows, cols, spacing: int):
    """Cubic B-spline with coefficients ``coef`` on a grid of ``spacing`` px, at the given pixels."""
    import numpy as np
    from scipy.ndimage import map_coordinates

    # prefilter=False: coefficients, not samples, so |value| <= max |coef| everywhere.
    return map_coordinates(
        coef, np.stack([rows / spacing + 1, cols / spacing + 1]), order=3, prefilter=False, mode="nearest"
    )
