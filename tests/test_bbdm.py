"""The bbdm stainer on tiny synthetic scale-4 data: shapes, seeds, checkpoints, batching, scales, variants."""

from __future__ import annotations

import json

import pytest
import torch

import vbench
from vbench.context import Budget, RunContext
from vbench.errors import ConfigError
from vbench.run import checkpoint
from vbench_plugins.bbdm import BBDM

TINY = dict(
    steps=3,
    batch_size=2,
    crop=16,
    lr=1e-3,
    width=8,
    mult=(1, 2),
    blocks=1,
    attention=(),
    head_channels=8,
    patch=2,
    match_width=4,
    ema_start=1,
    sampler="skip",
    sample_steps=5,
)

DATASETS = '''
import torch
import torch.nn.functional as F
import vbench


def tiles(n, size, scale, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        target = F.avg_pool2d(torch.rand(1, 3, size, size, generator=g), 3, 1, 1)[0]
        out.append((target, F.avg_pool2d(target[None], scale)[0][:2]))
    return out


class TinyX4(vbench.Dataset):
    """Two-channel low-resolution input, its 4x RGB target."""
    name = "tiny-x4"
    task = "af->he"
    pairing = "paired"
    scale = 4
    in_channels = 2

    def load(self, split):
        n, size = {"train": (4, 32), "val": (1, 32), "test": (2, 48)}[split]
        return [vbench.Sample(id=f"{split}-{i}", input=x, target=t, truth=t)
                for i, (t, x) in enumerate(tiles(n, size, self.scale, {"train": 0, "val": 1, "test": 2}[split]))]


class TinyX3(TinyX4):
    name = "tiny-x3"
    scale = 3


class TinyBBDM(__import__("vbench_plugins.bbdm", fromlist=["BBDM"]).BBDM):
    name = "bbdm-tiny"
    presets = {"tiny": %r}


@vbench.hookimpl
def vbench_register_datasets(register):
    register(TinyX4)
    register(TinyX3)


@vbench.hookimpl
def vbench_register_stainers(register):
    register(TinyBBDM)
''' % (TINY,)  # noqa: UP031 (a module's source: braces in it are code)


def _data(n, size, scale=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        t = torch.nn.functional.avg_pool2d(torch.rand(1, 3, size, size, generator=g), 3, 1, 1)[0]
        out.append(vbench.Sample(id=str(i), input=torch.nn.functional.avg_pool2d(t[None], scale)[0][:2], target=t))
    return out


def _trained(scale=4, **over):
    ctx = RunContext(scale=scale, in_channels=2, seed=0, budget=Budget(steps=over.get("steps", TINY["steps"])))
    stainer = BBDM(**{**TINY, **over})
    stainer.ctx = ctx
    stainer.fit(_data(3, 32, scale), ctx)
    return stainer


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    return _trained()


def test_predicts_the_scaled_shape_in_range_for_any_tile_size(trained):
    out = trained.predict(torch.rand(3, 2, 11, 13))
    assert out.shape == (3, 3, 44, 52)
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    assert trained.ctx.steps_done == TINY["steps"]


def test_plateau_schedule_ysubx_objective_and_least_squares_colour_init():
    stainer = _trained(schedule="plateau", objective="ysubx", init_color=True, match_weight=0.0, lr=0.0)
    rows, targets = [], []
    for s in _data(3, 32, 4):  # the training tiles _trained used
        up = torch.nn.functional.interpolate(s.input[None].double() * 2 - 1, scale_factor=4, mode="bicubic")
        rows.append(torch.cat([up[0].flatten(1), torch.ones(1, up[0][0].numel(), dtype=up.dtype)]).T)
        targets.append((s.target.double() * 2 - 1).flatten(1).T)
    fit = torch.linalg.lstsq(torch.cat(rows), torch.cat(targets)).solution.T.float()
    colour = stainer.net.match.color  # lr 0 keeps the initial map
    assert torch.allclose(colour.weight[:, :, 0, 0], fit[:, :-1], atol=1e-4)
    assert torch.allclose(colour.bias, fit[:, -1], atol=1e-4)
    assert stainer.predict(torch.rand(2, 2, 8, 8)).shape == (2, 3, 32, 32)


def test_ema_follows_the_trained_weights(trained):
    net, ema = dict(trained.net.named_parameters()), dict(trained.ema.module.named_parameters())
    assert any(not torch.equal(net[k], ema[k]) for k in net)


def test_fixed_seed_reproduces_sampling(trained):
    x = torch.rand(2, 2, 8, 8)
    torch.manual_seed(5)
    a = trained.predict(x)
    torch.manual_seed(5)
    b = trained.predict(x)
    c = trained.predict(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = lambda: torch.Generator().manual_seed(9)  # noqa: E731
    assert torch.equal(trained.predict(x, generator=g()), trained.predict(x, generator=g()))


def test_reverse_process_is_batched_with_runtime_step_count(trained):
    calls = []
    hook = trained.ema.module.unet.register_forward_hook(
        lambda mod, args, out: calls.append((args[0].shape[0], torch.is_inference_mode_enabled()))
    )
    try:
        for steps, n_avg in [(5, 1), (12, 3)]:
            calls.clear()
            trained.sample_steps, trained.n_avg = steps, n_avg
            trained.predict(torch.rand(4, 2, 8, 8))
            assert calls == [(4 * n_avg, True)] * steps
            assert trained.last_nfe == trained.nfe == steps * n_avg
    finally:
        hook.remove()
        trained.sample_steps, trained.n_avg = TINY["sample_steps"], 1


def test_averaging_samples_lowers_the_spread(trained):
    x = torch.rand(1, 2, 12, 12)

    def spread(n_avg):
        trained.n_avg = n_avg
        outs = [trained.predict(x, generator=torch.Generator().manual_seed(k)) for k in range(6)]
        return torch.stack(outs).std(0).mean()

    try:
        assert spread(4) < 0.8 * spread(1)
    finally:
        trained.n_avg = 1


def test_checkpoint_restores_the_trained_model(trained, tmp_path):
    from vbench.run.spec import RunSpec

    checkpoint.save(trained, tmp_path, RunSpec(stainer="bbdm", dataset="tiny-x4", params=TINY))
    again = BBDM(**TINY)
    again.ctx = RunContext(scale=4, in_channels=2)
    checkpoint.load(again, tmp_path)
    x = torch.rand(2, 2, 8, 8)
    assert torch.equal(
        trained.predict(x, generator=torch.Generator().manual_seed(1)),
        again.predict(x, generator=torch.Generator().manual_seed(1)),
    )


def test_unsupported_scale_is_a_clear_error(plugin_module):
    with pytest.raises(ConfigError, match=r"bbdm produces output/input scales \[1, 2, 4, 5\].*needs 3"):
        _trained(scale=3)
    from vbench.plugins import load_plugins
    from vbench.run import plan

    plugins = load_plugins(extra=[plugin_module(DATASETS)])
    with pytest.raises(ConfigError, match="cannot run bbdm on tiny-x3: .*scales"):
        plan(plugins, ["bbdm"], ["tiny-x3"], [0], strict=True)


def test_bad_sampling_settings_are_refused(trained):
    for attr, value, msg in [
        ("sampler", "ddim", "unknown sampler"),
        ("sample_steps", 0, "sample_steps"),
        ("n_avg", 0, "n_avg"),
    ]:
        old = getattr(trained, attr)
        setattr(trained, attr, value)
        try:
            with pytest.raises(ConfigError, match=msg):
                trained.predict(torch.rand(1, 2, 8, 8))
        finally:
            setattr(trained, attr, old)


def test_presets_build_and_the_paper_net_has_the_reference_width():
    from vbench_plugins.bbdm.diffusion_unet import BridgeNet

    for name, preset in BBDM.presets.items():
        s = BBDM(**preset)
        with torch.device("meta"):
            net = BridgeNet(
                4,
                4,
                s.match_width,
                width=s.width,
                mult=tuple(s.mult),
                blocks=s.blocks,
                attention=tuple(s.attention),
                head_channels=s.head_channels,
                patch=s.patch,
            )
            y = net.match(torch.empty(2, 4, s.crop // 4, s.crop // 4))
            out = net.unet(torch.empty(2, 6, s.crop, s.crop), torch.zeros(2, dtype=torch.long))
        assert y.shape == (2, 3, s.crop, s.crop) and out.shape == (2, 3, s.crop, s.crop), name
    assert BBDM.presets["paper"]["width"] == 128 and BBDM.presets["paper"]["mult"] == (1, 4, 8)
    assert {"vanilla", "skip", "mean", "mean-skip", "avg3"} <= set(BBDM.variants)


@pytest.mark.slow
def test_sampling_variants_reuse_one_trained_model_and_store_the_spread(plugin_module, db_url, tmp_path, monkeypatch):
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from vbench.cli import main
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins, store = load_plugins(extra=[plugin_module(DATASETS)]), Store(db_url)
    # The variant comes first and trains; the plain run after it reuses that model.
    names = ["bbdm-tiny:tiny+mean-skip+steps20+avg3", "bbdm-tiny:tiny"]
    specs = plan(plugins, names, ["tiny-x4"], [0], metrics=["psnr"], repeats=3)
    variant, base = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert base.status == variant.status == "completed", (base.message, variant.message)
    runs = [store.get_run(o.run_id) for o in (base, variant)]
    assert runs[0].trained_by == runs[1].id and runs[1].trained_by is None
    assert runs[1].preset == "tiny+mean-skip+steps20+avg3"
    assert '"sampler": "mean-skip"' in runs[1].params and '"n_avg": 3' in runs[1].params
    # each run keeps its own sample grid; the checkpoint stays with the run that trained it
    assert runs[0].artifacts != runs[1].artifacts
    assert all((Path(r.artifacts) / "samples.png").is_file() for r in runs)
    assert not (Path(runs[0].artifacts) / checkpoint.WEIGHTS).exists()
    std = [{s.metric: s for s in store.summaries([r.id])}["pixel_std"].mean for r in runs]
    assert 0 < std[1] < std[0]
    # network evaluations per tile are stored with each run: steps taken x samples averaged
    nfe = [{s.metric: s for s in store.summaries([r.id])}["nfe"].mean for r in runs]
    variant_model = plugins.stainers.get("bbdm-tiny")(**json.loads(runs[1].params))
    assert nfe[1] == variant_model.nfe and nfe[1] % 3 == 0 and nfe[0] > 0

    # `vbench predict` on the plain run: its model comes from the variant's checkpoint, the output is
    # 4x larger, and the run's seed makes the stochastic sampler repeat itself.
    monkeypatch.setattr("vbench.cli.predict.loaded_plugins", lambda: plugins)
    np.save(tmp_path / "low.npy", np.random.default_rng(0).random((2, 12, 12)).astype(np.float32))

    def stained(out, *extra):
        args = ["predict", "--run", str(runs[0].id), str(tmp_path / "low.npy"), "-o", str(tmp_path / out)]
        assert main([*args, "--db", db_url, "--device", "cpu", "-q", *extra]) == 0
        return np.asarray(Image.open(tmp_path / out / "low.png"))

    first = stained("a")
    assert first.shape == (48, 48, 3)
    assert np.array_equal(first, stained("b")) and not np.array_equal(first, stained("c", "--seed", "1"))


def test_divergence_fails_at_the_step_it_happens():
    data = _data(3, 32)
    for s in data:
        s.input[:] = float("nan")
    stainer = BBDM(**dict(TINY, steps=1000))
    stainer.ctx = RunContext(scale=4, in_channels=2, seed=0, budget=Budget(steps=1000))
    with pytest.raises(FloatingPointError, match=r"training diverged at step 1: bridge loss is nan; lower lr"):
        stainer.fit(data, stainer.ctx)
    assert stainer.ctx.steps_done == 0


def test_a_context_without_a_step_budget_trains_the_presets_steps():
    stainer = BBDM(**TINY)
    stainer.ctx = RunContext(scale=4, in_channels=2, seed=0)  # the Python API, no runner
    stainer.fit(_data(3, 32), stainer.ctx)
    assert stainer.ctx.steps_done == TINY["steps"]
