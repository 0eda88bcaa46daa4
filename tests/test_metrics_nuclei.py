"""Cell-level metrics: nuclei found in the haematoxylin channel, matched one-to-one within a radius
(nuclei-f1, -precision, -recall) and compared pixel by pixel (nuclei-dice)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from skimage import data

import vbench
from vbench.errors import MetricNotApplicable
from vbench.plugins import load_plugins
from vbench.scoring import Item, score
from vbench_plugins.metrics.cells import nuclei

# Real tissue with haematoxylin-stained nuclei (the IHC counterstain).
RGB = torch.from_numpy(data.immunohistochemistry().astype(np.float32) / 255).permute(2, 0, 1)
TILE = RGB[:, 200:392, 200:392].clone()


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def fresh(plugins, name):
    return type(plugins.metrics.get(name))()


def test_identical_images_score_one(plugins):
    found = nuclei.detect(TILE, nuclei.Detector())
    assert len(found) >= 10 and 0.02 < float(found.mask.mean()) < 0.5
    for name in ("nuclei-f1", "nuclei-precision", "nuclei-recall", "nuclei-dice"):
        assert float(fresh(plugins, name).compute(TILE[None], TILE[None])[0]) == 1.0, name


def test_a_shift_beyond_the_radius_drops_f1_and_one_within_keeps_it(plugins):
    metric = fresh(plugins, "nuclei-f1")
    radius = nuclei.Detector().radius_px  # 8 px at the default 0.5 um/px
    near = RGB[:, 200 + 3 : 392 + 3, 200:392].clone()
    far = RGB[:, 200 + int(3 * radius) : 392 + int(3 * radius), 200:392].clone()
    f1_near, f1_far = (float(metric.compute(x[None], TILE[None])[0]) for x in (near, far))
    assert f1_near > 0.8 and f1_far < 0.5, (f1_near, f1_far)


def test_a_blank_prediction_scores_zero_with_a_note(plugins, caplog):
    blank = torch.ones_like(TILE)
    purple = torch.tensor([0.55, 0.35, 0.65]).view(3, 1, 1).expand_as(TILE).clone()  # flat, but haematoxylin-like
    for name in ("nuclei-f1", "nuclei-recall", "nuclei-dice"):
        with caplog.at_level(logging.WARNING, logger="vbench.metrics"):
            values = fresh(plugins, name).compute(torch.stack([blank, purple]), torch.stack([TILE, TILE]))
        assert values.tolist() == [0.0, 0.0], name
        assert f"{name}: 2 of 2 predictions show no nuclei" in caplog.text
        caplog.clear()
    # Where neither image shows nuclei the score is undefined: stored as None, never NaN.
    items = [
        Item("blank", lambda: blank, reference=lambda: blank, shape=tuple(blank.shape)),
        Item("tissue", lambda: TILE, reference=lambda: TILE, shape=tuple(TILE.shape)),
    ]
    result = score([("nuclei-f1", fresh(plugins, "nuclei-f1"))], items, explicit=True)
    assert result.values["nuclei-f1"] == {"blank": None, "tissue": 1.0}
    assert result.summaries[0]["mean"] == 1.0 and result.summaries[0]["n"] == 1


def test_matching_is_one_to_one_within_the_radius():
    ref = np.array([[10.0, 10.0], [50.0, 50.0]])
    pred = np.array([[11.0, 10.0], [9.0, 11.0], [80.0, 80.0]])  # two near the first, one far from both
    m = nuclei.match(pred, ref, radius=5.0)
    assert (m.matched, m.predicted, m.reference) == (1, 3, 2)
    assert m.precision == pytest.approx(1 / 3) and m.recall == 0.5 and m.f1 == pytest.approx(0.4)
    assert nuclei.match(np.zeros((0, 2)), ref, 5.0).f1 == 0.0 and math.isnan(nuclei.match(ref[:0], ref[:0], 5.0).f1)


DATASETS = """
import torch
import vbench
from skimage import data
import numpy as np

_RGB = torch.from_numpy(data.immunohistochemistry().astype(np.float32) / 255).permute(2, 0, 1)


class Cells(vbench.Dataset):
    name = "cells"
    task = "gray->he"
    stain = "he"
    pairing = "misaligned"
    in_channels = 1
    with_truth = True

    def load(self, split):
        t = _RGB[:, 200:392, 200:392].clone()
        truth = t if self.with_truth and split != "train" else None
        return [vbench.Sample(f"{split}-0", t.mean(0, keepdim=True), t, truth, {"um_per_px": 0.25})]


class NoTruth(Cells):
    name = "cells-no-truth"
    with_truth = False
    max_displacement_px = 12.0


class Trichrome(Cells):
    name = "cells-trichrome"
    stain = "masson-trichrome"


@vbench.hookimpl
def vbench_register_datasets(register):
    for cls in (Cells, NoTruth, Trichrome):
        register(cls)
"""


def test_misaligned_data_uses_the_truth_when_known_else_the_registered_target(plugin_module):
    plugins = load_plugins(extra=[plugin_module(DATASETS)])
    metric = fresh(plugins, "nuclei-f1")
    metric.setup(plugins.datasets.get("cells"))
    assert metric.registration is None and metric.detector.um_per_px == 0.25 and metric.detector.radius_px == 16
    metric.setup(plugins.datasets.get("cells-no-truth"))
    assert metric.registration is not None and metric.registration.max_px == 12.0
    shifted = RGB[:, 206:398, 196:388].clone()  # the adjacent section, 6 px and -4 px away
    registered = float(metric.compute(TILE[None], shifted[None])[0])
    assert registered > 0.8
    with pytest.raises(
        MetricNotApplicable,
        match=r"stain 'masson-trichrome' of dataset 'cells-trichrome' is not "
        r"known to hold haematoxylin.*--stain he",
    ):
        fresh(plugins, "nuclei-dice").setup(plugins.datasets.get("cells-trichrome"))
    assert "linear_sum_assignment" in plugins.metrics.get("nuclei-f1").pipeline
    assert "rgb2hed" in plugins.metrics.get("nuclei-dice").pipeline
    assert isinstance(plugins.metrics.get("nuclei-f1"), vbench.ImageMetric)
