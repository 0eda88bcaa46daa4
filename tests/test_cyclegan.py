"""CycleGAN: reference defaults in the paper preset, identity loss only for equal channels,
unpaired/paired/misaligned data, any-size inputs, schedule, determinism, divergence."""

from __future__ import annotations

import pytest
import torch

import vbench
from vbench.plugins import load_plugins
from vbench.run import plan
from vbench_plugins.cyclegan import CycleGAN
from vbench_plugins.nets import ImagePool, linear_decay_scheduler

TINY = dict(steps=3, tile=16, batch=2, width=4, blocks=1, d_width=4, d_layers=2, pool_size=4)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: on a shared 2-core machine a second thread mostly waits; one is faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def samples(n, size, channels=1, seed=0, scale=1):
    g = torch.Generator().manual_seed(seed)
    return [
        vbench.Sample(
            id=str(i),
            input=torch.rand(channels, size, size, generator=g),
            target=torch.rand(3, size * scale, size * scale, generator=g),
        )
        for i in range(n)
    ]


def fitted(channels=1, params=TINY, seed=0, scale=1, train=None):
    s = CycleGAN(**params)
    s.ctx = vbench.RunContext(
        seed=seed, in_channels=channels, scale=scale, pairing="unpaired", budget=vbench.Budget(steps=params["steps"])
    )
    s.fit(train if train is not None else samples(4, 16, channels, scale=scale), s.ctx)
    return s


def test_paper_preset_follows_the_reference_defaults_and_quick_is_small():
    paper, quick = CycleGAN.presets["paper"], CycleGAN.presets["quick"]
    assert {
        k: paper[k]
        for k in (
            "width",
            "blocks",
            "d_width",
            "d_layers",
            "norm",
            "lr",
            "beta1",
            "cycle_weight",
            "identity_weight",
            "pool_size",
            "tile",
            "batch",
            "decay_from",
        )
    } == dict(
        width=64,
        blocks=9,
        d_width=64,
        d_layers=3,
        norm="instance",
        lr=2e-4,
        beta1=0.5,
        cycle_weight=10.0,
        identity_weight=0.5,
        pool_size=50,
        tile=256,
        batch=1,
        decay_from=0.5,
    )
    assert quick["tile"] == 64 and quick["width"] < 64 and quick["blocks"] < 9
    plugins = load_plugins()
    (spec,) = plan(plugins, ["cyclegan:paper"], ["qpi-he"], [0])
    assert spec.params["blocks"] == 9


def test_identity_loss_only_when_input_and_stain_have_the_same_channels():
    assert int(fitted(channels=1).identity_on) == 0
    assert int(fitted(channels=3).identity_on) == 1
    assert "identity_on" in fitted(channels=4).state_dict()


def test_runs_on_paired_data_ignoring_the_pairing_and_predicts_any_size():
    train = samples(3, 16)
    for s in train:
        s.truth = s.target
    model = fitted(train=train)
    with torch.inference_mode():
        out = model.predict(torch.rand(2, 1, 37, 50))
    assert out.shape == (2, 3, 37, 50) and 0 <= float(out.min()) and float(out.max()) <= 1
    assert model.parameter_count() == sum(p.numel() for p in model.generator.parameters())


def test_super_resolution_scale():
    model = fitted(channels=4, scale=2, train=samples(3, 8, channels=4, scale=2))
    with torch.inference_mode():
        assert model.predict(torch.rand(1, 4, 9, 11)).shape == (1, 3, 18, 22)


def test_same_seed_same_result():
    x = torch.rand(1, 1, 20, 20)
    models = [fitted(seed=3), fitted(seed=3), fitted(seed=4)]
    with torch.inference_mode():
        a, b, c = (m.predict(x) for m in models)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_divergence_fails_at_the_step_it_happens():
    train = samples(2, 16)
    for s in train:
        s.input[0, 0, 0] = float("inf")
    s = CycleGAN(**dict(TINY, steps=100))
    s.ctx = vbench.RunContext(in_channels=1, budget=vbench.Budget(steps=100))
    with pytest.raises(FloatingPointError, match="training diverged at step 1: .* loss is nan"):
        s.fit(train, s.ctx)


def test_learning_rate_is_flat_then_decays_linearly_to_zero():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = linear_decay_scheduler(opt, 10, 0.5)
    lrs = []
    for step in range(1, 11):
        opt.step()
        sched.step_update(num_updates=step)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:5] == [2e-4] * 5
    assert lrs[5:] == pytest.approx([1.6e-4, 1.2e-4, 0.8e-4, 0.4e-4, 0.0])


def test_image_pool_returns_old_fakes_about_half_the_time_once_full():
    pool = ImagePool(4, seed=0)
    first = pool.query(torch.arange(4.0).view(4, 1))
    assert torch.equal(first, torch.arange(4.0).view(4, 1))
    out = torch.cat([pool.query(torch.full((1, 1), 100.0 + i)) for i in range(200)])
    old = (out[:, 0] != 100 + torch.arange(200.0)).float().mean()
    assert 0.35 < old < 0.65


def test_a_context_without_a_step_budget_trains_the_presets_steps():
    s = CycleGAN(**TINY)
    s.ctx = vbench.RunContext(in_channels=1, pairing="unpaired")  # the Python API, no runner
    s.fit(samples(4, 16), s.ctx)
    assert s.ctx.steps_done == TINY["steps"]
