"""The Brownian bridge of bbdm: marginals, schedule, posterior step, sampling plans and the sampler loop."""

from __future__ import annotations

import pytest
import torch

from vbench_plugins.bbdm.bridge import Bridge, sample


@pytest.fixture(scope="module")
def bridge():
    return Bridge(1000, max_var=1.0)


def test_marginal_is_the_target_at_0_and_the_input_at_T(bridge):
    g = torch.Generator().manual_seed(0)
    x0, y, noise = (torch.randn(2, 3, 8, 8, generator=g) for _ in range(3))
    t0, tT = torch.zeros(2, dtype=torch.long), torch.full((2,), bridge.T)
    assert torch.equal(bridge.marginal(x0, y, t0, noise), x0)
    assert torch.allclose(bridge.marginal(x0, y, tT, noise), y, atol=0, rtol=0)
    mid = bridge.marginal(x0, y, torch.full((2,), 500), torch.zeros_like(x0))
    assert torch.allclose(mid, 0.5 * x0 + 0.5 * y)


@pytest.mark.parametrize("s", [1.0, 0.5])
def test_schedule_is_linear_from_0001_to_0999_with_variance_2s_m_minus_m2(s):
    b = Bridge(1000, max_var=s)
    m = b.m
    assert m[0] == 0 and m[-1] == 1
    assert m[1] == pytest.approx(0.001) and m[999] == pytest.approx(0.999)
    assert torch.allclose(m[1:] - m[:-1], torch.full((1000,), 0.001, dtype=torch.float64))
    assert torch.allclose(b.var, 2 * s * (m - m**2))
    assert b.var[0] == 0 and b.var[-1] == 0 and b.var.max() == pytest.approx(s / 2)


def test_one_step_posterior_matches_the_paper(bridge):
    """BBDM eq. 8-9: mean = (d_{t-1}/d_t)(1-m_t)/(1-m_{t-1}) x_t + (1-m_{t-1}) d_{t|t-1}/d_t x0
    + (m_{t-1} - m_t (1-m_t)/(1-m_{t-1}) d_{t-1}/d_t) y, var = d_{t|t-1} d_{t-1} / d_t."""
    m, d = bridge.m, bridge.var
    for t in [2, 3, 10, 50, 333, 500, 900, 999]:
        ms, mt, ds, dt = (float(v) for v in (m[t - 1], m[t], d[t - 1], d[t]))
        d_ts = dt - ds * ((1 - mt) / (1 - ms)) ** 2
        c_x0, c_y, c_xt, var = bridge.step_coefs(t, t - 1)
        assert c_xt == pytest.approx(ds / dt * (1 - mt) / (1 - ms), rel=1e-9)
        assert c_x0 == pytest.approx((1 - ms) * d_ts / dt, rel=1e-9)
        assert c_y == pytest.approx(ms - mt * (1 - mt) / (1 - ms) * ds / dt, rel=1e-9, abs=1e-12)
        assert var == pytest.approx(d_ts * ds / dt, rel=1e-9)


def test_skip_step_is_gaussian_conditioning_and_the_ends_are_exact(bridge):
    m, d = bridge.m, bridge.var
    for t, s in [(1000, 800), (800, 600), (600, 10), (200, 150), (51, 1)]:
        mt, ms, dt, ds = (float(v) for v in (m[t], m[s], d[t], d[s]))
        a = (1 - mt) / (1 - ms)  # x_t given x_s: a x_s + ..., Cov(x_s, x_t) = a d_s
        c_x0, c_y, c_xt, var = bridge.step_coefs(t, s)
        if dt > 0:
            assert c_xt == pytest.approx(a * ds / dt, rel=1e-9)
            assert var == pytest.approx(ds - (a * ds) ** 2 / dt, rel=1e-9)
        else:  # x_T = y says nothing about x0: the step is the marginal at s
            assert var == pytest.approx(ds)
            assert c_x0 + 0 == pytest.approx(1 - ms) and c_y + c_xt == pytest.approx(ms)
    assert bridge.step_coefs(10, 0)[:3] == (1.0, 0.0, 0.0) and bridge.step_coefs(10, 0)[3] == 0


def test_sampling_plans_count_network_evaluations(bridge):
    assert len(bridge.plan(1000)) == 1000 and len(bridge.plan(200)) == 200 and len(bridge.plan(20)) == 20
    assert [t for t, _, _ in bridge.plan(20)][:3] == [1000, 950, 900]
    mean = bridge.plan(1000, exit_t=50)
    assert len(mean) == 1000
    assert all(noisy for t, s, noisy in mean if s >= 50 and s > 0)
    assert not any(noisy for t, s, noisy in mean if s < 50)
    jump = bridge.plan(1000, exit_t=50, jump=True)
    assert len(jump) == 951 and jump[-1] == (50, None, False)
    assert len(bridge.plan(20, exit_t=50, jump=True)) == 20  # t = 50 is on the 20-step grid


def _oracle(x0):
    """A perfect network for the 'grad' objective: returns x_t - x0."""

    def eps(inp, t):
        return inp[:, :3] - x0

    return eps


@pytest.mark.parametrize("steps, exit_t, jump", [(1000, 0, False), (20, 0, False), (1000, 50, False), (50, 50, True)])
def test_a_perfect_network_samples_the_target_exactly(bridge, steps, exit_t, jump):
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 3, 4, 4, generator=g) * 1.6 - 0.8
    y = torch.rand(2, 3, 4, 4, generator=g) * 2 - 1
    out = sample(_oracle(x0), y, bridge, steps, exit_t, jump, generator=g)
    assert torch.allclose(out, x0, atol=1e-6)


def test_sampler_is_batched_reuses_one_buffer_and_runs_in_inference_mode(bridge):
    seen = []

    def eps(inp, t):
        seen.append((inp.data_ptr(), inp.shape[0], t, torch.is_inference_mode_enabled()))
        return torch.zeros_like(inp[:, :3])

    y = torch.zeros(5, 3, 6, 6)
    sample(eps, y, bridge, 30)
    assert len(seen) == 30
    assert len({p for p, *_ in seen}) == 1 and {n for _, n, _, _ in seen} == {5}
    assert all(mode for *_, mode in seen)
    assert [t for _, _, t, _ in seen] == [t for t, _, _ in bridge.plan(30)]


def test_fixed_seed_reproduces_sampling_and_mean_sampling_is_quieter(bridge):
    def zero(inp, t):  # an untrained network: x0 estimate = x_t, so the path noise shows
        return torch.zeros_like(inp[:, :3])

    y = torch.zeros(1, 3, 32, 32)
    draw = lambda seed, **kw: sample(zero, y, bridge, generator=torch.Generator().manual_seed(seed), **kw)  # noqa: E731
    a, b, c = draw(3, steps=100), draw(3, steps=100), draw(4, steps=100)
    assert torch.equal(a, b) and not torch.equal(a, c)
    vanilla = torch.stack([draw(k, steps=100) for k in range(8)]).std(0).mean()
    mean = torch.stack([draw(k, steps=100, exit_t=500) for k in range(8)]).std(0).mean()
    assert mean < vanilla


def test_bad_steps_are_refused(bridge):
    with pytest.raises(ValueError):
        bridge.step_coefs(5, 5)
    with pytest.raises(ValueError):
        Bridge(1)
