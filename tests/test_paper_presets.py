"""The paper presets build the published networks: parameter counts against each reference
implementation (networks built on the meta device through the stainers' own build code; nothing
trains), and (slow) each trains for two steps at its paper tile size and batch, checkpoints,
predicts and scores."""

from __future__ import annotations

import math

import pytest
import torch

import vbench
from vbench_plugins.bbdm import BBDM
from vbench_plugins.cyclegan import CycleGAN
from vbench_plugins.distill import Distill
from vbench_plugins.phasestain import PhaseStain

# Reference counts (docstrings of the stainers say where each comes from).
JUNYANZ_RESNET_9BLOCKS = 11_378_179  # 3 -> 3, ngf 64, CycleGAN and the distillation code alike
JUNYANZ_PATCHGAN = 2_764_737  # 3 channels, ndf 64, 3 layers; the distillation trainer's ndf=64 too
RELEASED_STUDENT = 11_381_315  # 4 channels in (raw + enhanced)
BBDM_REFERENCE_UNET = 237_094_787  # Template-BBDM.yaml's UNetModel, 6 channels in


def count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def built(cls, preset: str, **ctx):
    s = cls(**cls.presets[preset])
    s.ctx = vbench.RunContext(device="meta", **ctx)
    with torch.device("meta"):
        if isinstance(s, BBDM):  # its EMA copy needs real tensors: the networks alone
            s.net = s.network(s.ctx.in_channels, s.ctx.scale)
        else:
            s._build()
    return s


def test_cyclegan_paper_is_the_reference_network():
    s = built(CycleGAN, "paper", in_channels=3, pairing="unpaired")
    assert [count(n) for n in s._nets()] == [JUNYANZ_RESNET_9BLOCKS] * 2 + [JUNYANZ_PATCHGAN] * 2
    phase = built(CycleGAN, "paper", in_channels=1, pairing="unpaired")
    assert [count(n) for n in phase._nets()] == [11_371_907, 11_371_905, JUNYANZ_PATCHGAN, 2_762_689]


@pytest.mark.parametrize("pairing", ["misaligned", "unpaired"])
def test_distill_paper_matches_the_released_networks_but_teacher_head_and_aligner(pairing):
    s = built(Distill, "paper", in_channels=3, pairing=pairing)
    assert count(s.student) == RELEASED_STUDENT
    assert count(s.inverse) == JUNYANZ_RESNET_9BLOCKS
    assert count(s.disc_stain) == count(s.disc_input) == JUNYANZ_PATCHGAN
    # released SIGGRAPH generator: 34,180,691 = ours + its unused 529-way head + 2 zero input channels
    assert count(s.teacher) == 34_180_691 - 135_953 - 1_152
    # the aligner trains on position-paired data only: 3,060,546 against Reg-GAN's 2,059,170
    assert (count(s.aligner) if s.aligner is not None else None) == (3_060_546 if pairing == "misaligned" else None)


def test_phasestain_paper_counts():
    s = built(PhaseStain, "paper", in_channels=1)
    assert (count(s.generator), count(s.discriminator)) == (48_865_539, 41_918_017)


def test_bbdm_paper_unet_is_the_reference_unet():
    s = built(BBDM, "paper", in_channels=4, scale=4)
    assert count(s.net.unet) == BBDM_REFERENCE_UNET
    assert count(s.net.match) == 67_007
    # the quick preset keeps its strided resampling and its attention level
    quick = built(BBDM, "quick", in_channels=4, scale=4)
    assert not any(getattr(m, "resample", "") for m in quick.net.modules())


def test_resblock_resampling_keeps_shapes():
    from vbench_plugins.bbdm.diffusion_unet import UNet

    net = UNet(6, 3, width=8, mult=(1, 2, 2), blocks=1, attention=(), head_channels=8, updown="resblock")
    out = net(torch.rand(2, 6, 20, 28), torch.tensor([1, 500]))
    assert out.shape == (2, 3, 20, 28)


def _paper_check():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "paper_check.py"
    spec = importlib.util.spec_from_file_location("paper_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_check"] = module
    spec.loader.exec_module(module)
    return module


# bbdm:paper is left out: one step of its 237M-parameter U-Net on 256 px crops needs about
# 8 GB per sample of batch 8 and minutes per sample on 2 cores (benchmarks/README.md).
@pytest.mark.paper
@pytest.mark.parametrize("method", ["phasestain", "cyclegan", "distill"])
def test_paper_preset_trains_two_steps_checkpoints_predicts_and_scores(method, tmp_path):
    check = _paper_check()
    report = check.check(method, steps=2, device="cpu", out=tmp_path)
    assert report["steps"] == (4 if method == "distill" else 2)
    assert report["scores"]["psnr"] is not None and report["scores"]["ssim"] is not None
    assert all(math.isfinite(v) for v in report["loss_end"].values())
    assert (tmp_path / "artifacts" / "run-0" / "model.safetensors").is_file()
    assert (tmp_path / f"{method}.json").is_file()
