"""Base-class behaviour every stainer inherits: params, presets, default checkpoints."""

from __future__ import annotations

import pytest
import torch

import vbench
from vbench.errors import ConfigError
from vbench.run import checkpoint
from vbench.run.spec import RunSpec


class WithModule(vbench.Stainer):
    name = "with-module"

    def __init__(self, **params):
        super().__init__(**params)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
        self.lut = torch.zeros(5)
        self.note = "not state"


def test_params_become_attributes_and_reserved_names_are_refused():
    s = WithModule(width=8)
    assert s.width == 8 and s.params == {"width": 8}
    with pytest.raises(ConfigError, match="reserved"):
        WithModule(predict=1)


def test_state_dict_covers_tensors_and_modules_and_round_trips(tmp_path):
    a = WithModule()
    torch.nn.init.normal_(a.net[0].weight)
    a.net[1].running_mean += 3  # buffers too
    a.lut = torch.arange(5.0)
    keys = set(a.state_dict())
    assert "lut" in keys and "net.0.weight" in keys and "net.1.running_mean" in keys and "note" not in keys
    assert a.parameter_count() == sum(t.numel() for t in a.state_dict().values() if t.is_floating_point())

    spec = RunSpec(stainer="with-module", dataset="d")
    assert checkpoint.save(a, tmp_path / "ck", spec)
    b = checkpoint.load(WithModule(), tmp_path / "ck")
    assert torch.equal(b.lut, a.lut) and torch.equal(b.net[0].weight, a.net[0].weight)
    assert torch.equal(b.net[1].running_mean, a.net[1].running_mean)
    assert (tmp_path / "ck" / "config.json").exists()


def test_loading_weights_for_a_module_the_stainer_lacks_is_a_clear_error():
    class Bare(vbench.Stainer):
        name = "bare"

    with pytest.raises(ConfigError, match="weights for module 'net' but the stainer has no such module"):
        Bare().load_state_dict({"net.weight": torch.zeros(1)})


def test_a_stainer_without_state_saves_only_its_config(tmp_path):
    class Empty(vbench.Stainer):
        name = "empty"

    assert checkpoint.save(Empty(), tmp_path / "e", RunSpec(stainer="empty", dataset="d")) is False
    assert (tmp_path / "e" / "config.json").exists() and not (tmp_path / "e" / "model.safetensors").exists()
