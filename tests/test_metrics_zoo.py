"""The pyiqa zoo as vbench metrics, and `vbench metrics list`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from vbench.cli import main
from vbench.errors import MetricNotApplicable
from vbench.plugins import load_plugins
from vbench_plugins.pyiqa_metrics import zoo


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_pyiqa_metric_is_registered_by_its_name():
    plugins = load_plugins()
    configs = zoo.pyiqa_configs()
    assert len(configs) > 50
    for name, cfg in configs.items():
        m = plugins.metrics.get(zoo.RENAMED.get(name, name))
        assert m.pyiqa_name == name
        assert m.higher_is_better == (not cfg.get("lower_better", False))
        expected = (
            "distribution"
            if "fid" in name or name == "inception_score"
            else {"FR": "full-reference", "NR": "no-reference"}[cfg["metric_mode"]]
        )
        assert m.kind == expected, name
    # vbench's own implementations keep the plain names
    assert type(plugins.metrics.get("psnr")).__module__ == "vbench_plugins.metrics.pixel"
    assert plugins.metrics.get("pyiqa-ssim").pyiqa_name == "ssim"


def test_listing_metrics_imports_neither_torch_nor_pyiqa():
    code = (
        "import sys; from vbench.plugins import load_plugins; p = load_plugins(); "
        "[p.metrics.get(n) for n in p.metrics.names()]; "
        "print('torch' in sys.modules, 'pyiqa' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-2:] == ["False", "False"]


def test_metrics_list_shows_kind_direction_defaults_pipeline_and_assets(capsys):
    code, out, err = cli(capsys, "metrics", "list", "--format", "json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["ssim"]["kind"] == "full-reference" and rows["ssim"]["better"] == "higher"
    assert "paired" in rows["ssim"]["default_for"] and "11x11 Gaussian" in rows["ssim"]["pipeline"]
    assert rows["niqe"]["better"] == "lower" and rows["niqe"]["assets"] == "present"  # shipped with the plugin
    assert rows["psnr"]["assets"] == "none needed" and rows["lpips"]["assets"].startswith("missing")
    assert rows["fid"]["kind"] == "distribution" and rows["fid"]["default_for"] == ["unpaired"]
    assert rows["musiq"]["assets"].startswith("pyiqa downloads")
    assert list(rows)[0] == "ciede2000"  # vbench's own metrics first
    code, out, _ = cli(capsys, "metrics", "list", "--pairing", "paired", "--format", "json")
    names = {r["name"] for r in json.loads(out)}
    assert {"psnr", "ssim", "lpips", "niqe", "niqe-stain", "ciede2000", "stain-corr", "stain-mae"} <= names
    assert "fid" not in names
    code, out, _ = cli(capsys, "metrics", "list", "--kind", "distribution", "--format", "csv")
    assert out.splitlines()[0].startswith("name,kind") and all(
        ",distribution," in line for line in out.splitlines()[1:]
    )
    code, out, _ = cli(capsys, "metrics", "list")
    assert code == 0 and "assets" in out


def test_zoo_metric_equals_pyiqa_and_failures_are_not_applicable():
    import pyiqa

    plugins = load_plugins()
    pred = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ref = (pred * 0.9 + 0.05).clamp(0, 1)
    with torch.no_grad():
        expected = pyiqa.create_metric("gmsd", device="cpu")(pred, ref).reshape(-1)
    assert torch.allclose(plugins.metrics.get("gmsd").compute(pred, ref).float(), expected)
    with pytest.raises(MetricNotApplicable, match="pyiqa's vif failed"):
        plugins.metrics.get("vif").compute(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
