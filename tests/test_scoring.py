"""The scoring engine's own rules, independent of any bundled metric."""

from __future__ import annotations

import pytest
import torch

import vbench
from vbench.errors import MetricNotApplicable
from vbench.plugins import load_plugins
from vbench.scoring import Item, default_metrics, score


class Gap(vbench.Metric):
    """Mean absolute difference to whatever the engine passes as ``ref``."""

    name = "gap"
    kind = "full-reference"
    higher_is_better = False

    def compute(self, pred, ref):
        return (pred - ref).abs().mean(dim=(1, 2, 3))


class GapToTarget(Gap):
    name = "gap@target"
    against = "target"


class Holey(vbench.Metric):
    """Undefined (NaN) on dark tiles."""

    name = "holey"
    kind = "no-reference"

    def compute(self, pred, ref):
        m = pred.mean(dim=(1, 2, 3))
        return torch.where(m < 0.25, torch.full_like(m, float("nan")), m)


def items(n=4, truth=0.5, target=0.25):
    return [
        Item(
            f"t{i}",
            (lambda v=i / 10: torch.full((3, 8, 8), v)),
            reference=(lambda: torch.full((3, 8, 8), truth)) if truth is not None else None,
            target=(lambda: torch.full((3, 8, 8), target)) if target is not None else None,
            shape=(3, 8, 8),
        )
        for i in range(n)
    ]


def test_full_reference_metrics_compare_with_the_reference_or_the_target_as_they_declare():
    result = score([("gap", Gap()), ("gap@target", GapToTarget())], items())
    assert result.values["gap"]["t0"] == pytest.approx(0.5) and result.values["gap@target"]["t0"] == pytest.approx(0.25)
    # without targets, a target-comparing metric cannot be computed, the other still can
    result = score([("gap", Gap()), ("gap@target", GapToTarget())], items(target=None))
    status = {s["metric"]: s["status"] for s in result.summaries}
    assert status == {"gap": "computed", "gap@target": "not computed"}
    with pytest.raises(MetricNotApplicable, match="no reference images"):
        score([("gap", Gap())], items(truth=None), explicit=True)


def test_nan_scores_are_stored_as_undefined_and_left_out_of_the_summary():
    result = score([("holey", Holey())], items(n=6))
    values = result.values["holey"]
    assert [values[f"t{i}"] is None for i in range(6)] == [True, True, True, False, False, False]
    (summary,) = result.summaries
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(0.4)
    assert ("holey", "t0", None) in result.scores()


def test_default_metrics_follow_the_pairing_and_what_there_is_to_compare_with():
    plugins = load_plugins()
    paired = default_metrics(plugins.metrics, "paired")
    assert {"psnr", "ssim", "niqe"} <= set(paired) and "fid" not in paired
    no_ref = default_metrics(plugins.metrics, "paired", has_reference=False)
    assert "psnr" not in no_ref and "niqe" in no_ref
    unpaired = default_metrics(plugins.metrics, "unpaired", has_reference=False)
    assert "fid" in unpaired and "psnr" not in unpaired
    assert "fid" not in default_metrics(plugins.metrics, "unpaired", has_reference=False, has_targets=False)
