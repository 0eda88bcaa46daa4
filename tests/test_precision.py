"""--precision: bf16 autocast as part of a run's identity, the CUDA default, and a GPU that runs
out of memory failing only its run with a hint."""

from __future__ import annotations

import pytest

from vbench.errors import ConfigError
from vbench.plugins import load_plugins
from vbench.run import plan, run_sweep
from vbench.run.fit import StainerFailure, call_stainer
from vbench.run.options import check_options
from vbench.store import Store

STAINER = """
import torch
import vbench

class Conv(vbench.Stainer):
    name = "conv"
    bf16 = True
    presets = {"quick": {"steps": 3, "batch": 2}}

    def fit(self, train, ctx):
        self.net = torch.nn.Conv2d(1, 3, 3, padding=1)
        opt = torch.optim.SGD(self.net.parameters(), lr=0.1)
        x, y = torch.stack([s.input for s in train]), torch.stack([s.target for s in train])
        self.dtypes = []
        while True:
            with ctx.autocast():
                out = self.net(x)
                self.dtypes.append(str(out.dtype))
                loss = (out.float() - y).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not ctx.step(samples=len(x)):
                break
        self.kept = torch.tensor([len(self.dtypes)])
        assert self.net.weight.dtype == torch.float32  # master weights stay fp32

    def predict(self, inputs):
        return torch.sigmoid(self.net(inputs))

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Conv)
"""


@pytest.fixture
def plugins(plugin_module, tiny_dataset):
    return load_plugins(extra=[tiny_dataset, plugin_module(STAINER)])


def test_precision_is_part_of_the_identity_and_the_label(plugins):
    (fp32,) = plan(plugins, ["conv:quick"], ["tiny"], [0])
    (bf16,) = plan(plugins, ["conv:quick"], ["tiny"], [0], precision="bf16")
    (named,) = plan(plugins, ["conv:quick@x2@bf16"], ["tiny"], [0])
    assert fp32.precision == "fp32" and fp32.preset_label == "quick"
    assert bf16.preset_label == "quick@bf16" and bf16.train_key("m") != fp32.train_key("m")
    assert named.precision == "bf16" and named.params["steps"] == 6 and named.preset_label == "quick@x2@bf16"
    (gpu,) = plan(plugins, ["conv:quick"], ["tiny"], [0], device="cuda")
    assert gpu.precision == "bf16"  # the default on CUDA for a stainer that declares bf16
    (base,) = plan(plugins, ["baseline-mean"], ["tiny"], [0], device="cuda")
    assert base.precision == "fp32"


def test_a_bf16_run_trains_under_autocast_and_stores_its_precision(plugins, db_url):
    store = Store(db_url)
    specs = plan(plugins, ["conv:quick"], ["tiny"], [0], metrics=["psnr"], precision="bf16")
    (o,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    run = store.get_run(o.run_id)
    assert o.status == "completed" and run.precision == "bf16" and run.preset == "quick@bf16"
    assert run.train_flops > 0


@pytest.mark.parametrize("value", ["fp16", "BF16", ""])
def test_an_unknown_precision_is_a_one_line_error(value):
    with pytest.raises(ConfigError, match="use fp32 or bf16"):
        check_options(precision=value)


def test_running_out_of_gpu_memory_names_the_preset_the_batch_and_a_fix(plugins):
    (spec,) = plan(plugins, ["conv:quick"], ["tiny"], [0], device="cuda")

    class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError, as a GPU raises it
        pass

    def fit():
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(StainerFailure) as info:
        call_stainer(spec, "fit", fit)
    text = str(info.value)
    assert "ran out of cuda memory in fit" in text and "preset quick@bf16" in text and "batch=2" in text
    assert "--set batch=SMALLER" in text
