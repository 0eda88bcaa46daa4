"""Nuclei found in the haematoxylin channel and matched between two images (for ``nuclei-f1`` and
``nuclei-dice``).

Detection (``detect``), per image: haematoxylin amount by colour deconvolution
(``skimage.color.rgb2hed``, Ruifrok & Johnston's vectors), smoothed by a Gaussian of ``smooth_um``,
thresholded at Otsu's level (``skimage.filters.threshold_otsu``, on amounts clipped at their 99.5th
percentile so a few black pixels do not move it), never below ``floor`` (so an image without
nuclei, a blank one, finds none instead of splitting its noise; an image whose haematoxylin varies
by less than ``floor`` has none at all, whatever its colour); holes filled, objects smaller
than ``min_area_um2`` dropped; touching nuclei split by a watershed on the distance transform
from maxima at least ``min_distance_um`` apart (``skimage.segmentation.watershed``); centroids by
``skimage.measure.regionprops``. Lengths in microns are converted with the tile's pixel size, or
``PIXELS_PER_UM_UNKNOWN`` when it is not known.

Matching (``match``): one-to-one between predicted and reference centroids by
``scipy.optimize.linear_sum_assignment`` on their distances; a pair farther apart than the radius
is no match. Precision = matched / predicted, recall = matched / reference.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

# Without a known pixel size, microns are taken at 0.5 um/px (a 20x scan).
UM_PER_PX_UNKNOWN = 0.5


@dataclass(frozen=True)
class Detector:
    um_per_px: float = UM_PER_PX_UNKNOWN
    smooth_um: float = 0.5
    floor: float = 0.05  # rgb2hed haematoxylin units; a strongly stained nucleus reads 0.15 to 0.3
    min_area_um2: float = 5.0
    min_distance_um: float = 3.0
    radius_um: float = 4.0  # matching radius, about half a nucleus diameter

    def px(self, um: float) -> float:
        return um / self.um_per_px

    @property
    def radius_px(self) -> float:
        return self.px(self.radius_um)

    def text(self) -> str:
        return (
            f"nuclei: haematoxylin by colour deconvolution (skimage rgb2hed), Gaussian sigma {self.smooth_um:g} um, "
            f"Otsu threshold (amounts clipped at their 99.5th percentile) but at least {self.floor:g} (none when the "
            f"amounts vary by less), holes filled, "
            f"objects under {self.min_area_um2:g} um^2 dropped, touching nuclei split by watershed on the distance "
            f"transform (maxima {self.min_distance_um:g} um apart); microns from the tiles' pixel size, else "
            f"{UM_PER_PX_UNKNOWN:g} um/px"
        )


@dataclass
class Nuclei:
    labels: object  # H x W int label image (0: background)
    centroids: object  # K x 2 float (row, column)

    @property
    def mask(self):
        return self.labels > 0

    def __len__(self) -> int:
        return len(self.centroids)


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64


def detect(rgb, detector: Detector) -> Nuclei:
    """Nuclei of one 3 x H x W RGB tensor (or array) in [0, 1]; cached per image and detector."""
    import numpy as np

    arr = rgb.detach().cpu().double().numpy() if hasattr(rgb, "detach") else np.asarray(rgb, np.float64)
    key = (hashlib.sha1(repr(arr.shape).encode() + arr.tobytes()).hexdigest(), detector)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    found = _detect(arr, detector)
    _CACHE[key] = found
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found


def _detect(arr, d: Detector) -> Nuclei:
    import numpy as np
    from scipy import ndimage
    from skimage.color import rgb2hed
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.measure import regionprops
    from skimage.segmentation import watershed

    h = rgb2hed(np.clip(arr, 0.0, 1.0).transpose(1, 2, 0))[..., 0]
    h = ndimage.gaussian_filter(h, d.px(d.smooth_um))
    clipped = np.clip(h, None, np.percentile(h, 99.5))
    if clipped.max() - clipped.min() < d.floor:  # no contrast, no nuclei (a flat colour may be purple)
        return Nuclei(np.zeros(h.shape, np.int32), np.zeros((0, 2)))
    level = max(float(threshold_otsu(clipped)), d.floor)
    mask = ndimage.binary_fill_holes(h > level)
    blobs, n = ndimage.label(mask)
    area = np.bincount(blobs.ravel(), minlength=n + 1)
    keep = area >= d.min_area_um2 / d.um_per_px**2
    keep[0] = False
    mask = keep[blobs]  # (skimage's remove_small_objects changed its size argument in 0.26)
    if not mask.any():
        return Nuclei(np.zeros(mask.shape, np.int32), np.zeros((0, 2)))
    distance = ndimage.distance_transform_edt(mask)
    blobs = np.where(mask, blobs, 0)
    peaks = peak_local_max(
        distance, min_distance=max(round(d.px(d.min_distance_um)), 1), labels=blobs, exclude_border=False
    )
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask)
    centroids = np.array([r.centroid for r in regionprops(labels)]).reshape(-1, 2)
    return Nuclei(labels, centroids)


@dataclass
class Match:
    matched: int
    predicted: int
    reference: int

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else float("nan")

    @property
    def f1(self) -> float:
        total = self.predicted + self.reference
        return 2.0 * self.matched / total if total else float("nan")


def match(pred, ref, radius: float) -> Match:
    """One-to-one matches of two K x 2 centroid arrays within ``radius`` pixels."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    if len(pred) == 0 or len(ref) == 0:
        return Match(0, len(pred), len(ref))
    dist = cdist(pred, ref)
    # Pairs beyond the radius cost more than any set of pairs within it, so the assignment
    # maximises the number of matches first.
    cost = dist.copy()
    cost[dist > radius] = radius * (len(pred) + len(ref) + 1)
    rows, cols = linear_sum_assignment(cost)
    return Match(int((dist[rows, cols] <= radius).sum()), len(pred), len(ref))


def clear_cache() -> None:
    _CACHE.clear()
