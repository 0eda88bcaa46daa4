"""PhaseStain: presets, any-size inputs, learning, determinism, divergence, checkpoints."""

from __future__ import annotations

import pytest
import torch

import vbench
from vbench.plugins import load_plugins
from vbench.run import checkpoint, plan
from vbench.run.spec import RunSpec
from vbench_plugins.phasestain import PhaseStain

TINY = dict(
    steps=40,
    tile=16,
    batch=4,
    width=8,
    depth=2,
    d_width=4,
    d_depth=2,
    lr_g=1e-2,
    lr_d=1e-4,
    adv_weight=0.01,
    val_every=10,
    val_tiles=2,
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: on a shared 2-core machine a second thread mostly waits; one is faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def paired(n, size, seed=0, channels=1, scale=1):
    """Target = a smooth non-linear colour map of a blurred input: learnable, needs no context."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        x = torch.nn.functional.avg_pool2d(torch.rand(1, channels, size + 2, size + 2, generator=g), 3, 1)[0]
        up = (
            torch.nn.functional.interpolate(x[None], scale_factor=scale, mode="bicubic")[0].clamp(0, 1)
            if scale > 1
            else x
        )
        m = up.mean(dim=0, keepdim=True)
        y = torch.cat([0.9 - 0.6 * m, 0.3 + 0.5 * m**2, 0.5 + 0.3 * torch.sin(3 * m)]).clamp(0, 1)
        out.append(vbench.Sample(id=f"{seed}-{i}", input=x, target=y, truth=y))
    return out


def trained(params=TINY, seed=0, train=None, val=None, channels=1, scale=1):
    train = train if train is not None else paired(8, 16, channels=channels, scale=scale)
    s = PhaseStain(**params)
    s.ctx = vbench.RunContext(
        seed=seed,
        in_channels=channels,
        scale=scale,
        val=val or paired(2, 16, seed=9, channels=channels, scale=scale),
        budget=vbench.Budget(steps=params["steps"]),
    )
    torch.manual_seed(seed)
    s.fit(train, s.ctx)
    return s


def test_presets_are_selectable_and_hold_every_hyper_parameter():
    plugins = load_plugins()
    assert plugins.stainers.get("phasestain") is PhaseStain
    quick, paper = PhaseStain.presets["quick"], PhaseStain.presets["paper"]
    assert quick["tile"] == 64 and paper["tile"] == 256 and paper["width"] == 64 and quick["width"] < 64
    assert set(quick) - {"max_seconds"} == set(paper)
    (spec,) = plan(plugins, ["phasestain:paper"], ["qpi-he"], [0])
    assert spec.preset == "paper" and spec.params["adv_weight"] == paper["adv_weight"]


def test_predicts_inputs_of_any_size_larger_than_the_training_crops():
    s = trained(dict(TINY, steps=2))
    with torch.inference_mode():
        out = s.predict(torch.rand(2, 1, 37, 53))
    assert out.shape == (2, 3, 37, 53) and out.min() >= 0 and out.max() <= 1


def test_learns_the_colour_map_and_keeps_the_best_validation_generator():
    s = trained()
    test = paired(3, 24, seed=5)
    with torch.inference_mode():
        pred = s.predict(torch.stack([t.input for t in test]))
    target = torch.stack([t.target for t in test])
    err = (pred - target).abs().mean()
    mean_colour_err = (target - target.mean(dim=(0, 2, 3), keepdim=True)).abs().mean()
    assert err < 0.5 * mean_colour_err
    assert 10 <= int(s.best_step) <= 40 and int(s.best_step) % 10 == 0


def test_scale_and_multi_channel_input():
    s = trained(dict(TINY, steps=2), channels=4, scale=2, train=paired(4, 8, channels=4, scale=2))
    with torch.inference_mode():
        assert s.predict(torch.rand(1, 4, 10, 12)).shape == (1, 3, 20, 24)


def test_same_seed_same_result():
    x = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    params = dict(TINY, steps=4)
    models = [trained(params, seed=1), trained(params, seed=1), trained(params, seed=2)]
    with torch.inference_mode():
        a, b, c = (m.predict(x) for m in models)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_divergence_fails_at_the_step_it_happens():
    train = paired(4, 16)
    train[2].input[0, 3, 3] = float("nan")
    s = PhaseStain(**dict(TINY, steps=1000, batch=8))
    s.ctx = vbench.RunContext(in_channels=1, budget=vbench.Budget(steps=1000))
    with pytest.raises(FloatingPointError, match=r"training diverged at step 1: \w+ loss is nan; lower lr_g"):
        s.fit(train, s.ctx)
    assert s.ctx.steps_done == 0


def test_checkpoint_round_trip_and_refusal_of_another_config(tmp_path):
    s = trained(dict(TINY, steps=2))
    spec = RunSpec(stainer="phasestain", dataset="d", params=dict(TINY, steps=2))
    assert checkpoint.save(s, tmp_path, spec)
    x = torch.rand(1, 1, 20, 20)
    r = PhaseStain(**dict(TINY, steps=2))
    r.ctx = vbench.RunContext(in_channels=1)
    checkpoint.load(r, tmp_path)
    with torch.inference_mode():
        assert torch.equal(r.predict(x), s.predict(x))
    wider = PhaseStain(**dict(TINY, width=16))
    wider.ctx = vbench.RunContext(in_channels=1)
    with pytest.raises(RuntimeError, match="size mismatch"):
        checkpoint.load(wider, tmp_path)
    assert r.parameter_count() == sum(p.numel() for p in r.generator.parameters())


def test_a_context_without_a_step_budget_trains_the_presets_steps():
    s = PhaseStain(**dict(TINY, steps=3))
    s.ctx = vbench.RunContext(in_channels=1)  # the Python API, no runner
    s.fit(paired(4, 16), s.ctx)
    assert s.ctx.steps_done == 3
