"""Bundled baselines: the linear map recovers a linear stain, scale is honoured."""

from __future__ import annotations

import torch

import vbench
from vbench.plugins import load_plugins


def samples(n, size, scale=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        x = torch.rand(2, size, size, generator=g)
        up = torch.nn.functional.interpolate(x[None], scale_factor=scale, mode="bicubic", align_corners=False)[0]
        up = up.clamp(0, 1)
        y = torch.stack([0.5 * up[0] + 0.2 * up[1] + 0.1, 0.3 * up[1] + 0.4, 0.6 - 0.2 * up[0]])
        out.append(vbench.Sample(id=str(i), input=x, target=y, truth=y))
    return out


def fitted(name, train, scale=1):
    cls = load_plugins().stainers.get(name)
    s = cls()
    s.ctx = vbench.RunContext(scale=scale)
    s.fit(train, s.ctx)
    return s


def test_linear_baseline_recovers_a_linear_colour_map_at_any_scale():
    for scale in (1, 2):
        train, test = samples(4, 12, scale), samples(2, 20, scale, seed=1)
        s = fitted("baseline-linear", train, scale)
        pred = s.predict(torch.stack([t.input for t in test]))
        assert pred.shape == (2, 3, 20 * scale, 20 * scale)
        assert torch.allclose(pred, torch.stack([t.target for t in test]), atol=1e-4)


def test_mean_baseline_predicts_the_mean_training_colour():
    train = samples(3, 8)
    s = fitted("baseline-mean", train, scale=2)
    pred = s.predict(torch.rand(1, 2, 5, 5))
    expected = torch.stack([t.target for t in train]).mean(dim=(0, 2, 3))
    assert pred.shape == (1, 3, 10, 10) and torch.allclose(pred[0, :, 0, 0], expected, atol=1e-6)
