"""baseline-colormap: a non-linear per-pixel map beats the linear one, multi-channel inputs, scale."""

from __future__ import annotations

import torch

import vbench
from vbench.plugins import load_plugins


def curved(n, size, channels=1, scale=1, seed=0):
    """Target colour = a non-linear function of the input value at each pixel (no context)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        x = torch.rand(channels, size, size, generator=g)
        up = (
            torch.nn.functional.interpolate(x[None], scale_factor=scale, mode="bicubic")[0].clamp(0, 1)
            if scale > 1
            else x
        )
        m = up.mean(dim=0, keepdim=True)
        y = torch.cat([0.5 + 0.4 * torch.sin(6 * m), (m - 0.5) ** 2 * 3, 1 - m**3]).clamp(0, 1)
        out.append(vbench.Sample(id=str(i), input=x, target=y, truth=y))
    return out


def fitted(name, train, channels=1, scale=1):
    s = load_plugins().stainers.get(name)()
    s.ctx = vbench.RunContext(scale=scale, in_channels=channels)
    s.fit(train, s.ctx)
    return s


def mae(model, test):
    pred = model.predict(torch.stack([t.input for t in test]))
    return float((pred - torch.stack([t.target for t in test])).abs().mean())


def test_colormap_captures_a_non_linear_map_the_linear_one_misses():
    train, test = curved(6, 32), curved(2, 40, seed=1)
    colormap, linear = fitted("baseline-colormap", train), fitted("baseline-linear", train)
    assert mae(colormap, test) < 0.03 and mae(linear, test) > 0.1


def test_multi_channel_input_and_scale():
    train, test = curved(20, 16, channels=3, scale=2), curved(2, 12, channels=3, scale=2, seed=1)
    colormap = fitted("baseline-colormap", train, channels=3, scale=2)
    linear = fitted("baseline-linear", train, channels=3, scale=2)
    pred = colormap.predict(torch.stack([t.input for t in test]))
    assert pred.shape == (2, 3, 24, 24) and 0 <= float(pred.min()) and float(pred.max()) <= 1
    assert mae(colormap, test) < 0.7 * mae(linear, test)
    assert colormap.table.shape == (16**3, 3)  # 16 levels per channel: at most 4096 bins


def test_values_never_seen_in_training_fall_back_to_the_linear_fit():
    train = curved(4, 16)
    for s in train:  # training inputs only cover [0, 0.5)
        s.input = s.input * 0.5
    colormap, linear = fitted("baseline-colormap", train), fitted("baseline-linear", train)
    x = torch.full((1, 1, 4, 4), 0.9)
    assert torch.allclose(colormap.predict(x), linear.predict(x), atol=1e-6)
