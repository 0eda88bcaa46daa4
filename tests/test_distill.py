"""distill: presets, light enhancement and its modality decision, Learning-to-Align on a known
field, distillation, the NIQE term, checkpoints, determinism, divergence, and end-to-end runs on
every pairing it claims (tiny networks and budgets)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import vbench
from vbench.run import checkpoint
from vbench.run.spec import RunSpec
from vbench_plugins.distill import Distill
from vbench_plugins.distill.align import Aligner, align_losses, warp
from vbench_plugins.distill.enhance import decide_inversion, enhance, fit_matching

TINY = dict(
    steps=8,
    teacher_steps=3,
    teacher_tile=16,
    teacher_batch=2,
    teacher_width=2,
    tile=16,
    batch=2,
    width=4,
    blocks=1,
    d_width=4,
    d_layers=2,
    pool_size=4,
    align_width=4,
    align_depth=2,
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: on a shared 2-core machine a second thread mostly waits; one is faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tissue(n, size, seed=0, dark=False, shift=(0, 0)):
    """Smooth 'stain' targets and dim inputs that see their density on a bright (bright-field) or
    dark (dark-field) background; misaligned targets are shifted copies."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        d = F.avg_pool2d(torch.rand(1, 1, size + 4, size + 4, generator=g), 5, 1)[0]
        d = ((d - d.min()) / (d.max() - d.min()) * 1.6 - 0.6).clamp(0, 1)  # glass (0) and tissue
        stain = torch.cat([1 - 0.5 * d, 1 - 0.9 * d, 1 - 0.4 * d])
        light = d if dark else 1 - 0.8 * d
        x = (0.3 * light + 0.01 * torch.rand(1, size, size, generator=g)).expand(3, -1, -1).clone()
        y = torch.roll(stain, shift, (1, 2))
        out.append(vbench.Sample(id=f"{seed}-{i}", input=x, target=y, truth=stain, meta={}))
    return out


def fitted(params=TINY, pairing="misaligned", seed=0, train=None, modality="", channels=3):
    s = Distill(**params)
    s.ctx = vbench.RunContext(
        seed=seed, in_channels=channels, pairing=pairing, modality=modality, budget=vbench.Budget(steps=params["steps"])
    )
    s.fit(train if train is not None else tissue(4, 16), s.ctx)
    return s


def test_presets_follow_the_released_configuration_and_ablations_change_one_thing():
    from vbench.plugins import load_plugins
    from vbench.run import plan

    p, q = Distill.presets["paper"], Distill.presets["quick"]
    assert {
        k: p[k]
        for k in (
            "width",
            "blocks",
            "tile",
            "batch",
            "lr",
            "beta1",
            "pool_size",
            "adv_weight",
            "cycle_weight",
            "distill_weight",
            "corr_weight",
            "smooth_weight",
            "unpaired_cycle_weight",
            "unpaired_distill_weight",
            "niqe_weight",
        )
    } == dict(
        width=64,
        blocks=9,
        tile=256,
        batch=1,
        lr=1e-4,
        beta1=0.5,
        pool_size=50,
        adv_weight=1.0,
        cycle_weight=10.0,
        distill_weight=2.0,
        corr_weight=20.0,
        smooth_weight=10.0,
        unpaired_cycle_weight=80.0,
        unpaired_distill_weight=5.0,
        niqe_weight=0.0,
    )
    assert p["teacher_width"] == 64 and q["width"] < 64 and q["tile"] <= 128
    assert set(Distill.presets) == {"quick", "paper", "quick-noalign", "quick-nodistill", "quick-niqe"}
    student_steps = {k: v["steps"] - v["teacher_steps"] for k, v in Distill.presets.items() if k.startswith("quick")}
    assert len(set(student_steps.values())) == 1  # every ablation trains its student as long
    assert not Distill.presets["quick-noalign"]["align"] and Distill.presets["quick-nodistill"]["teacher_steps"] == 0
    assert Distill.presets["quick-niqe"]["niqe_weight"] > 0
    (spec,) = plan(load_plugins(), ["distill:paper"], ["unstained-he-misaligned"], [0])
    assert spec.params["blocks"] == 9


def test_enhancement_inverts_dark_backgrounds_from_the_declared_modality_or_the_inputs():
    bright, dark = tissue(3, 32), tissue(3, 32, dark=True)
    assert decide_inversion("darkfield", [s.input for s in bright])[0]  # the declaration wins
    assert not decide_inversion("brightfield", [s.input for s in dark])[0]
    assert decide_inversion("", [s.input for s in dark]) == (
        True,
        pytest.approx("no modality declared; train inputs' grey levels: dark background (right-skewed), inverted"),
    )
    assert not decide_inversion("", [s.input for s in bright])[0]
    # matching maps the inputs onto the targets' lightness distribution, monotonically
    src, dst = fit_matching([s.input for s in dark], [s.truth[:1] for s in dark], True, 64)
    c = enhance(dark[0].input[None], True, src, dst)
    assert c.shape == (1, 1, 32, 32) and 0 <= float(c.min()) and float(c.max()) <= 1
    assert torch.corrcoef(torch.stack([c.flatten(), dark[0].truth[0].flatten()]))[0, 1] > 0.9


def test_fit_logs_the_modality_decision(caplog):
    with caplog.at_level("INFO", logger="vbench.stainer"):
        s = fitted(dict(TINY, steps=4), train=tissue(3, 16, dark=True))
    assert int(s.enhance_invert) == 1 and "dark background (right-skewed), inverted" in caplog.text


def test_alignment_recovers_a_smooth_synthetic_displacement_field():
    g = torch.Generator().manual_seed(0)
    n, s = 2, 48
    texture = F.avg_pool2d(torch.rand(n, 3, s + 4, s + 4, generator=g), 5, 1)
    texture = (texture - texture.mean()) / texture.std() * 0.5
    yy, xx = torch.meshgrid(torch.arange(s).float(), torch.arange(s).float(), indexing="ij")
    a = torch.rand(n, 4, generator=g)
    truth = torch.stack(
        [
            torch.stack(
                [
                    1.5 * torch.sin(2 * math.pi * (xx / s * k[0] + k[1])) + 1.0,
                    1.5 * torch.cos(2 * math.pi * (yy / s * k[2] + k[3])) - 0.8,
                ]
            )
            for k in a
        ]
    )
    fixed = warp(texture, truth)  # fixed(p) = texture(p + truth(p))
    torch.manual_seed(0)
    aligner = Aligner(3, width=8, depth=2)
    opt = torch.optim.Adam(aligner.parameters(), lr=3e-3)
    for _ in range(150):
        corr, smooth, _ = align_losses(aligner, texture, fixed)
        opt.zero_grad()
        (corr + 0.01 * smooth).backward()
        opt.step()
    with torch.no_grad():
        flow = aligner(texture, fixed)
    epe = (flow - truth).norm(dim=1)[:, 6:-6, 6:-6]  # textured interior (borders replicate)
    assert float(epe.mean()) < 0.5, float(epe.mean())
    assert float((truth.norm(dim=1)).mean()) > 1.5  # the field was not trivially small


def test_the_distillation_term_pulls_the_student_towards_the_teacher():
    seen = []
    s = Distill(**dict(TINY, steps=43, teacher_steps=3, lr=3e-3))
    s.ctx = vbench.RunContext(
        in_channels=3,
        pairing="unpaired",
        budget=vbench.Budget(steps=43),
        on_progress=lambda done, total, logs: seen.append(logs.get("distill")),
    )
    s.fit(tissue(4, 16), s.ctx)
    distill = [v for v in seen if v is not None]
    assert len(distill) == 40
    assert sum(distill[-5:]) < 0.7 * sum(distill[:5])


def test_checkpoint_keeps_teacher_student_and_enhancement_and_restores_predictions(tmp_path):
    s = fitted()
    state = s.state_dict()
    assert {"enhance_invert", "enhance_src", "enhance_dst", "teacher_seconds", "teacher_steps_done"} <= set(state)
    prefixes = {k.split(".")[0] for k in state}
    assert {"student", "teacher", "aligner"} <= prefixes and not prefixes & {"inverse", "disc_stain", "disc_input"}
    spec = RunSpec(stainer="distill", dataset="d", params=TINY)
    assert checkpoint.save(s, tmp_path, spec)
    r = Distill(**TINY)
    r.ctx = vbench.RunContext(in_channels=3, pairing="misaligned")
    checkpoint.load(r, tmp_path)
    x = torch.rand(2, 3, 37, 50)
    with torch.inference_mode():
        a, b = s.predict(x), r.predict(x)
    assert a.shape == (2, 3, 37, 50) and torch.equal(a, b)
    assert r.parameter_count() == sum(p.numel() for p in r.student.parameters())
    assert int(r.teacher_steps_done) == TINY["teacher_steps"]


def test_same_seed_same_result_and_a_super_resolution_scale():
    x = torch.rand(1, 3, 20, 20)
    models = [fitted(seed=3), fitted(seed=3), fitted(seed=4)]
    with torch.inference_mode():
        a, b, c = (m.predict(x) for m in models)
    assert torch.equal(a, b) and not torch.equal(a, c)
    low = [
        vbench.Sample(id=str(i), input=t.input[:1, ::2, ::2].clone(), target=t.target)
        for i, t in enumerate(tissue(3, 16))
    ]
    s = Distill(**TINY)
    s.ctx = vbench.RunContext(in_channels=1, scale=2, pairing="paired", budget=vbench.Budget(steps=TINY["steps"]))
    s.fit(low, s.ctx)
    with torch.inference_mode():
        assert s.predict(torch.rand(1, 1, 9, 11)).shape == (1, 3, 18, 22)


def test_divergence_fails_at_the_step_it_happens_with_a_hint():
    for params, stage in (
        (dict(TINY, steps=100, teacher_steps=50), "teacher loss is nan; lower teacher_lr"),
        (dict(TINY, steps=50, teacher_steps=0, distill_weight=0.0), r"\w+ loss is nan; lower lr"),
    ):
        train = tissue(2, 16)
        for t in train:
            t.target[0, 0, 0] = float("nan")
        s = Distill(**params)
        s.ctx = vbench.RunContext(in_channels=3, pairing="misaligned", budget=vbench.Budget(steps=params["steps"]))
        with pytest.raises(FloatingPointError, match=f"training diverged at step 1: {stage}"):
            s.fit(train, s.ctx)
        assert s.ctx.steps_done == 0


def test_niqe_term_is_differentiable_and_close_to_the_metric():
    from vbench_plugins.distill.niqe_loss import niqe_score
    from vbench_plugins.metrics.no_reference import niqe
    from vbench_plugins.metrics.pairings import matlab_gray8

    g = torch.Generator().manual_seed(0)

    def images(n, size):  # detail at several scales, full grey range
        x = sum(
            F.interpolate(torch.rand(n, 3, size // k, size // k, generator=g), size=(size, size), mode="bicubic") * k
            for k in (1, 2, 4, 8)
        )
        x = x - x.amin(dim=(1, 2, 3), keepdim=True)
        return (x / x.amax(dim=(1, 2, 3), keepdim=True)).clamp(0, 1)

    model = niqe.fit(list(matlab_gray8(images(4, 288))), stride=32)
    img = images(3, 192)
    ref = niqe.niqe(matlab_gray8(img), model)
    x = img.clone().requires_grad_(True)
    score = niqe_score(x, model)
    assert torch.allclose(score.double(), ref, rtol=0.06), (score, ref)  # no 8-bit rounding
    score.sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="at least 192 px"):
        niqe_score(img[..., :100, :100], model)


DATASETS = '''
import torch
import torch.nn.functional as F
import vbench


class TinyMisaligned(vbench.Dataset):
    """Bright-field-like 3-channel input; targets shifted by 2 px (misaligned); truth attached."""
    name = "tiny-misaligned"
    task = "brightfield->he"
    pairing = "misaligned"
    scale = 1
    in_channels = 3
    modality = "brightfield"
    shift = (2, -1)

    def load(self, split):
        g = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
        n, size = {"train": 4, "val": 1, "test": 2}[split], {"train": 32, "val": 32, "test": 40}[split]
        out = []
        for i in range(n):
            d = F.avg_pool2d(torch.rand(1, 1, size + 4, size + 4, generator=g), 5, 1)[0]
            stain = torch.cat([1 - 0.5 * d, 1 - 0.9 * d, 1 - 0.4 * d]).clamp(0, 1)
            x = (0.3 * (1 - 0.8 * d)).expand(3, -1, -1).clone()
            meta = {"source": "s", "y": 0, "x": i * size, "size": size}
            out.append(vbench.Sample(id=f"{split}-{i}", input=x, target=torch.roll(stain, self.shift, (1, 2)),
                                     truth=stain, meta=meta))
        return out


class TinyPaired(TinyMisaligned):
    name = "tiny-paired"
    pairing = "paired"
    shift = (0, 0)


class TinyUnpaired(TinyMisaligned):
    name = "tiny-unpaired"
    pairing = "unpaired"


class TinyDistill(__import__("vbench_plugins.distill", fromlist=["Distill"]).Distill):
    name = "distill-tiny"
    presets = {"tiny": %r, "tiny-niqe": dict(%r, niqe_weight=0.01, niqe_tile=192)}


@vbench.hookimpl
def vbench_register_datasets(register):
    for d in (TinyMisaligned, TinyPaired, TinyUnpaired):
        register(d)


@vbench.hookimpl
def vbench_register_stainers(register):
    register(TinyDistill)
''' % (TINY, TINY)  # noqa: UP031 (a module's source: braces in it are code)


def test_end_to_end_on_every_pairing_and_vbench_predict(plugin_module, db_url, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from vbench.cli import main
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins, store = load_plugins(extra=[plugin_module(DATASETS)]), Store(db_url)
    specs = plan(
        plugins, ["distill-tiny:tiny"], ["tiny-misaligned", "tiny-paired", "tiny-unpaired"], [0], metrics=["psnr"]
    )
    specs += plan(plugins, ["distill-tiny:tiny-niqe"], ["tiny-unpaired"], [0], metrics=["psnr"])
    outcomes = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert [o.status for o in outcomes] == ["completed"] * 4, [o.message for o in outcomes]
    run = store.get_run(outcomes[0].run_id)
    assert run.train_steps == TINY["steps"] and run.flops_per_tile > 0

    monkeypatch.setattr("vbench.cli.predict.loaded_plugins", lambda: plugins)
    np.save(tmp_path / "raw.npy", np.random.default_rng(0).random((3, 30, 26)).astype(np.float32))
    args = ["predict", "--run", str(run.id), str(tmp_path / "raw.npy"), "-o", str(tmp_path / "out")]
    assert main([*args, "--db", db_url, "--device", "cpu", "-q"]) == 0
    assert np.asarray(Image.open(tmp_path / "out" / "raw.png")).shape == (30, 26, 3)
