"""Staining metrics with datasets: niqe-stain fitted on a dataset's train targets (stitched from
positioned tiles, cached per manifest hash), stain-density agreement per task, and the default
metric set inside `vbench run`, where metrics that cannot be computed are recorded, never fatal."""

from __future__ import annotations

import pytest
import torch

from vbench.errors import MetricNotApplicable
from vbench.plugins import load_plugins
from vbench.run import plan, run_sweep
from vbench.store import Store

STAINY = '''
import numpy as np
import torch
import vbench
from skimage import data

_RGB = torch.from_numpy(data.immunohistochemistry().astype(np.float32) / 255).permute(2, 0, 1)


class Stainy(vbench.Dataset):
    """Real IHC tissue: 64 px train tiles with their positions (x < 256), 192 px test tiles (x >= 320)."""
    name = "stainy"
    task = "brightfield->ihc"
    pairing = "paired"
    in_channels = 1

    def load(self, split):
        out = []
        if split == "train":
            spots = [(y, x, 64) for y in range(0, 320, 64) for x in range(0, 256, 64)]
        elif split == "val":
            spots = [(448, 0, 64)]
        else:
            spots = [(0, 320, 192), (192, 320, 192)]
        for y, x, n in spots:
            t = _RGB[:, y:y + n, x:x + n].clone()
            out.append(vbench.Sample(id=f"{split}-{y}-{x}", input=t.mean(0, keepdim=True), target=t, truth=t,
                                     meta={"source": "ihc", "y": y, "x": x}))
        return out


class Masson(Stainy):
    name = "masson"
    task = "af->masson"


class Unpaired(Stainy):
    name = "stainy-unpaired"
    pairing = "unpaired"

    def load(self, split):
        samples = super().load(split)
        for s in samples:
            s.truth = None
        return samples


class Scattered(Stainy):
    """Train tiles of 64 px that never touch (as unpaired targets are drawn): no 96 px block."""
    name = "scattered"

    def load(self, split):
        if split != "train":
            return super().load(split)
        corners = [(y, x) for y in range(0, 448, 96) for x in range(0, 512, 96)]
        return [
            vbench.Sample(id=f"train-{y}-{x}", input=_RGB[:1, y : y + 64, x : x + 64],
                          target=_RGB[:, y : y + 64, x : x + 64], meta={"source": "ihc", "y": y, "x": x})
            for y, x in corners
        ]


@vbench.hookimpl
def vbench_register_datasets(register):
    register(Stainy)
    register(Masson)
    register(Unpaired)
    register(Scattered)
'''


@pytest.fixture
def plugins(plugin_module):
    return load_plugins(extra=[plugin_module(STAINY)])


def test_niqe_stain_is_fitted_on_train_targets_and_cached_per_manifest(plugins, tmp_path):
    from vbench_plugins.metrics.no_reference import niqe_stain

    ds = plugins.datasets.get("stainy")
    metric = plugins.metrics.get("niqe-stain")
    metric.setup(ds)
    path = niqe_stain.cache_path(ds)
    assert path.is_file() and str(tmp_path) in str(path) and ds.manifest_hash[:16] in path.name
    model = metric._model
    assert model.n_patches >= niqe_stain.MIN_PATCHES  # stitched: 256 x 320 px of 64 px tiles

    real = torch.stack([s.target for s in ds.samples("test")])
    noise = torch.rand(real.shape, generator=torch.Generator().manual_seed(0))
    real_score, noise_score = metric.compute(real, None), metric.compute(noise, None)
    assert torch.all(real_score < noise_score)

    niqe_stain._MEMORY.clear()
    fresh = type(metric)()
    fresh.setup(ds)  # read back from the cache file
    assert torch.allclose(fresh.compute(real, None), real_score)


def test_niqe_stain_fits_smaller_blocks_on_scattered_small_tiles(plugins):
    metric = plugins.metrics.get("niqe-stain")
    metric.setup(plugins.datasets.get("scattered"))
    assert metric._model.block == 64 and metric._model.n_patches >= 10
    real = torch.stack([s.target for s in plugins.datasets.get("scattered").samples("test")])
    assert torch.isfinite(metric.compute(real, None)).all()


def test_niqe_metrics_refuse_small_tiles_and_niqe_stain_needs_a_dataset(plugins):
    metric = plugins.metrics.get("niqe-stain")
    with pytest.raises(MetricNotApplicable, match="at least 192 x 192"):
        metric.compute(torch.rand(1, 3, 96, 96), None)
    with pytest.raises(MetricNotApplicable, match="fitted on a dataset"):
        type(metric)().compute(torch.rand(1, 3, 192, 192), None)


def test_stain_agreement_follows_the_task(plugins):
    ds = plugins.datasets.get("stainy")
    ref = torch.stack([s.target for s in ds.samples("test")])
    corr, mae = plugins.metrics.get("stain-corr"), plugins.metrics.get("stain-mae")
    corr.setup(ds)
    mae.setup(ds)
    assert torch.allclose(corr.compute(ref, ref), torch.ones(2, dtype=torch.float64))
    assert float(mae.compute(ref, ref).abs().max()) == 0.0
    blurred = torch.nn.functional.avg_pool2d(ref, 5, 1, 2, count_include_pad=False)
    assert torch.all(corr.compute(blurred, ref) < 1) and torch.all(mae.compute(blurred, ref) > 0)
    with pytest.raises(MetricNotApplicable, match="neither H&E"):
        plugins.metrics.get("stain-corr").setup(plugins.datasets.get("masson"))
    dab = plugins.metrics.get("stain-dab-corr")
    assert "DAB" in dab.pipeline and float(dab.compute(ref, ref).min()) == pytest.approx(1.0)


def test_full_reference_metrics_do_not_apply_to_unpaired_data(plugins):
    ds = plugins.datasets.get("stainy-unpaired")
    for name in ("psnr", "ssim", "ciede2000", "stain-corr"):
        with pytest.raises(MetricNotApplicable, match="unpaired"):
            plugins.metrics.get(name).setup(ds)


def test_default_metrics_in_a_run_are_computed_or_recorded_with_the_reason(plugins, db_url):
    store = Store(db_url)
    specs = plan(plugins, ["baseline-linear"], ["stainy"], [0])  # textured output: NIQE is undefined on flat tiles
    (outcome,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    summaries = {s.metric: s for s in store.summaries([outcome.run_id])}
    for name in ("psnr", "ssim", "ciede2000", "stain-corr", "stain-mae", "niqe-stain", "niqe"):  # niqe: shipped
        assert summaries[name].status == "computed" and summaries[name].n == 2, (name, summaries[name].reason)
    assert summaries["lpips"].status == "not computed" and "vbench assets fetch" in summaries["lpips"].reason
    assert "rounded to 8 bit" in summaries["ssim"].pipeline

    unpaired = plan(plugins, ["baseline-mean"], ["stainy-unpaired"], [0])
    (outcome,) = run_sweep(unpaired, store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    summaries = {s.metric: s for s in store.summaries([outcome.run_id])}
    assert "psnr" not in summaries and summaries["niqe-stain"].status == "computed"
    assert summaries["fid"].status == "not computed"


def _csv_dataset(root, n=3):
    """A CSV-registered user dataset of real IHC tissue tiles (task "folder": no stain in it)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    rgb = data.immunohistochemistry()
    lines = ["input,target,split"]
    for i, split in enumerate(["train"] * n + ["test"] * 2):
        tile = rgb[64 * i : 64 * i + 64, :64]
        (root / "in").mkdir(parents=True, exist_ok=True)
        (root / "out").mkdir(parents=True, exist_ok=True)
        Image.fromarray(tile.mean(axis=2).astype(np.uint8)).save(root / "in" / f"t{i}.png")
        Image.fromarray(tile).save(root / "out" / f"t{i}.png")
        lines.append(f"in/t{i}.png,out/t{i}.png,{split}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root


def test_stain_metrics_read_the_declared_stain_of_a_user_dataset(tmp_path, db_url):
    """A CSV dataset cannot say its stain through the task; with --stain he it is scored, and the
    run stores the modality and the stain."""
    from vbench import user_datasets

    root = _csv_dataset(tmp_path / "csv")
    user_datasets.add("plain", root, plugins=load_plugins(), layout="csv")
    user_datasets.add("declared", root, plugins=load_plugins(), layout="csv", modality="darkfield", stain="he")
    plugins = load_plugins()
    with pytest.raises(MetricNotApplicable, match=r"task 'folder' of dataset 'plain'.*--stain he"):
        plugins.metrics.get("stain-corr").setup(plugins.datasets.get("plain"))

    store = Store(db_url)
    specs = plan(plugins, ["baseline-linear"], ["plain", "declared"], [0], metrics=["stain-corr", "stain-mae"])
    outcomes = run_sweep(specs, store, plugins, isolate=False, progress=False)
    by_dataset = {store.get_run(o.run_id).dataset: o.run_id for o in outcomes}
    plain = {s.metric: s for s in store.summaries([by_dataset["plain"]])}
    declared = {s.metric: s for s in store.summaries([by_dataset["declared"]])}
    assert plain["stain-corr"].status == "not computed" and "--stain he" in plain["stain-corr"].reason
    assert declared["stain-corr"].status == declared["stain-mae"].status == "computed"
    assert declared["stain-corr"].n == 2
    run = store.get_run(by_dataset["declared"])
    assert (run.modality, run.stain) == ("darkfield", "he")
    assert (store.get_run(by_dataset["plain"]).modality, store.get_run(by_dataset["plain"]).stain) == ("", "")


def test_a_declared_stain_wins_over_the_task_and_an_unknown_one_is_named(plugins):
    from vbench_plugins.metrics.stain.deconvolution import stains_of_dataset

    ds = plugins.datasets.get("stainy")  # task brightfield->ihc
    ds.stain = "he"
    assert stains_of_dataset(ds) == (("h", "e"), "stain 'he'")
    ds.stain = "ihc-dab"
    assert stains_of_dataset(ds)[0] == ("h", "dab")
    ds.stain = "trichrome"
    with pytest.raises(MetricNotApplicable, match=r"stain 'trichrome' of dataset 'stainy' is neither H&E"):
        plugins.metrics.get("stain-mae").setup(ds)
