"""Whole-image evaluation (vbench/whole_image.py): a stainer stains a region through vbench
predict's tiled, blended path, the output is scored whole with streamed metrics, metrics that
cannot be computed say why, regions that do not fit the scale are one-line errors, and memory does
not grow with the region (slow test)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from vbench.context import RunContext
from vbench.dataset import WholeRegion
from vbench.errors import ConfigError, MetricNotApplicable
from vbench.plugins import load_plugins
from vbench.predict import LoadedRun, stain_image
from vbench.whole_image import evaluate_region, score_whole, summarize_regions


class Edgy:
    """Gray to colour through a 3 x 3 convolution with zero padding: its tile edges are wrong."""

    name = "edgy"

    def __init__(self, scale=1):
        self.ctx = RunContext(scale=scale, device="cpu", seed=0, in_channels=1)
        self.scale = scale

    def predict(self, x):
        y = torch.nn.functional.conv2d(x, torch.full((1, 1, 3, 3), 1 / 9), padding=1)
        y = torch.nn.functional.interpolate(y, scale_factor=self.scale) if self.scale > 1 else y
        return torch.cat([0.9 - 0.5 * y, 0.8 - 0.6 * y, 0.9 - 0.3 * y], 1).clamp(0, 1)


def region(h=200, w=260, scale=1, seed=0):
    rng = np.random.default_rng(seed)
    inp = (rng.random((1, h, w)) * 65535).astype(np.uint16)
    full = Edgy(scale).predict(torch.from_numpy(inp.astype(np.float32) / 65535)[None])[0]
    target = (full.numpy() * 255 + 0.5).astype(np.uint8)
    return WholeRegion("r0", h * scale, w * scale, lambda: inp, lambda: target)


@pytest.fixture(scope="module")
def metrics():
    p = load_plugins()
    return [(n, p.metrics.get(n)) for n in ("psnr", "ssim", "seam", "stain-drift")]


def test_the_output_is_what_vbench_predict_writes_and_is_scored_whole(metrics):
    r = region()
    result = evaluate_region(Edgy(), r, metrics, scale=1, tile=64, overlap=8, blend="hann")
    loaded = LoadedRun(1, Edgy(), "edgy", "d", 1, 1)
    written = stain_image(loaded, torch.from_numpy(r.read_input().astype(np.float32) / 65535), tile=64, overlap=8)
    assert np.array_equal(result.output, (written.numpy() * 255 + 0.5).astype(np.uint8))
    assert result.params() == {"tile": 64, "overlap": 8, "blend": "hann"} and result.grid.tile == 64
    assert set(result.values) == {"psnr", "ssim", "seam", "stain-drift"}
    assert result.values["psnr"] > 30 and result.values["seam"] < 1.5
    assert all(s["status"] == "computed" and s["n"] == 1 for s in result.summaries)
    butted = evaluate_region(Edgy(), r, metrics, scale=1, tile=64, overlap=0)
    assert butted.values["seam"] > 2 and butted.values["psnr"] < result.values["psnr"]
    rows = summarize_regions([result, butted])
    assert [x["n"] for x in rows] == [2, 2, 2, 2] and rows[0]["metric"] == "psnr"


def test_scale_and_output_file(metrics, tmp_path):
    r = region(48, 64, scale=2)
    result = evaluate_region(Edgy(2), r, metrics[:1], scale=2, tile=32, overlap=4, out=tmp_path / "o.npy")
    assert result.output.shape == (3, 96, 128) and result.grid.tile == 64 and result.grid.overlap == 8
    assert np.array_equal(np.load(tmp_path / "o.npy"), result.output) and result.values["psnr"] > 30


def test_large_images_are_scored_in_blocks_and_the_pipeline_says_so(metrics):
    r = region(150, 150)
    pred = torch.from_numpy(r.read_target().astype(np.float32) / 255)
    pred = pred + 0.02 * torch.randn(pred.shape, generator=torch.Generator().manual_seed(0))
    pred = (pred.clamp(0, 1).numpy() * 255).astype(np.uint8)
    values, rows = score_whole(metrics[:1], pred, r.read_target(), block=64)
    one, _ = score_whole(metrics[:1], pred, r.read_target())
    assert "scored in 9 blocks of at most 64 px" in rows[0]["pipeline"] and values["psnr"] == pytest.approx(
        one["psnr"], abs=0.3
    )


def test_what_a_region_cannot_give_is_not_computed_with_the_reason(metrics):
    p = load_plugins()
    r = region(64, 64)
    chosen = [*metrics, ("fid", p.metrics.get("fid"))] if "fid" in p.metrics.names() else metrics
    no_target = WholeRegion("bare", 64, 64, r.read_input)
    result = evaluate_region(Edgy(), no_target, chosen, scale=1, tile=32, overlap=0)
    reasons = {s["metric"]: s["reason"] for s in result.summaries}
    assert "no aligned reference" in reasons["psnr"] and result.values["psnr"] is None
    assert reasons["seam"] is None
    with pytest.raises(MetricNotApplicable, match="no aligned reference"):
        evaluate_region(Edgy(), no_target, metrics, scale=1, tile=32, overlap=0, explicit=True)
    values, rows = score_whole([metrics[2]], r.read_target())  # no grid given
    assert values["seam"] is None and "no grid was given" in rows[0]["reason"]


def test_regions_that_do_not_fit_the_scale_are_one_line_errors(metrics):
    r = region(40, 40)
    bad = WholeRegion("r9", 80, 80, r.read_input, r.read_target)
    with pytest.raises(ConfigError, match="region 'r9'.*scale 1.*80 x 80") as info:
        evaluate_region(Edgy(), bad, metrics, scale=1, tile=32, overlap=0)
    assert "\n" not in str(info.value)
    short = WholeRegion("r8", 80, 80, r.read_input, lambda: np.zeros((3, 70, 80), np.uint8))
    with pytest.raises(ConfigError, match="region 'r8': its target is 80 x 70 px"):
        evaluate_region(Edgy(2), short, metrics, scale=2, tile=16, overlap=0)
    with pytest.raises(ConfigError, match="overlap"):
        evaluate_region(Edgy(), r, metrics, scale=1, tile=32, overlap=16)
    with pytest.raises(ConfigError, match="blend 'feather'"):
        evaluate_region(Edgy(), r, metrics, scale=1, tile=32, overlap=4, blend="feather")


@pytest.mark.slow
def test_a_4000_px_region_is_evaluated_within_a_memory_bound(tmp_path):
    """Peak memory above the process's state after imports: the output (48 MB as 8 bit), input and
    target (32 + 48 MB) and one tile row of blending; a float copy of the region alone is 192 MB."""
    code = textwrap.dedent(
        """
        import json, resource, sys, time
        import numpy as np, torch
        sys.path.insert(0, sys.argv[1])
        from test_whole_image import Edgy
        from vbench.dataset import WholeRegion
        from vbench.plugins import load_plugins
        from vbench.whole_image import evaluate_region
        torch.set_num_threads(2)
        p = load_plugins()
        metrics = [(n, p.metrics.get(n)) for n in ("psnr", "seam")]
        n = 4000
        inp = (np.add.outer(np.arange(n) % 251, np.arange(n) % 241) * 130).astype(np.uint16)[None]
        target = np.repeat((inp >> 8).astype(np.uint8), 3, axis=0)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.time()
        r = evaluate_region(Edgy(), WholeRegion("big", n, n, lambda: inp, lambda: target), metrics, scale=1, tile=512,
                            overlap=64)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"growth_mb": (peak - base) / 1024, "seconds": time.time() - t, "values": r.values}))
        """
    )
    tests = str(__import__("pathlib").Path(__file__).parent)
    done = subprocess.run([sys.executable, "-c", code, tests], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["growth_mb"] < 400, report
    assert all(v is not None for v in report["values"].values()), report
