"""The runner: statuses, failures stored while the sweep goes on, output checks, resume, budgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbench.errors import RunInterrupted
from vbench.plugins import load_plugins
from vbench.run import plan, run_sweep
from vbench.store import Store

STAINERS = '''
import os
import time
import torch
import vbench

class Good(vbench.Stainer):
    name = "good"
    pairings = {"paired"}
    def fit(self, train, ctx):
        self.color = torch.stack([s.target.mean(dim=(1, 2)) for s in train]).mean(dim=0)
    def predict(self, inputs):
        n, _, h, w = inputs.shape
        return self.color.view(1, 3, 1, 1).expand(n, 3, h, w).clone()

class Noisy(Good):
    """Depends on the seed: same seed, same result."""
    name = "noisy"
    def fit(self, train, ctx):
        self.color = torch.rand(3)

class FitRaises(Good):
    name = "fit-raises"
    def fit(self, train, ctx):
        raise ValueError("bad learning rate 1e9")

class PredictRaises(Good):
    name = "predict-raises"
    def predict(self, inputs):
        raise RuntimeError("out of ideas")

class WrongShape(Good):
    name = "wrong-shape"
    def predict(self, inputs):
        return super().predict(inputs)[:, :, :8, :8]

class OutOfRange(Good):
    name = "out-of-range"
    def predict(self, inputs):
        return super().predict(inputs) * 3

class NaNs(Good):
    name = "nans"
    def predict(self, inputs):
        out = super().predict(inputs)
        out[0, 0, 0, 0] = float("nan")
        return out

class SlightlyOver(Good):
    name = "slightly-over"
    def predict(self, inputs):
        return super().predict(inputs) * 0 + 1.0005

class Stepper(Good):
    name = "stepper"
    presets = {"quick": {"steps": 5}, "long": {"steps": 10_000_000}}
    def fit(self, train, ctx):
        super().fit(train, ctx)
        while ctx.step(samples=2):
            time.sleep(0.01)

class Interrupts(Good):
    name = "interrupts"
    def fit(self, train, ctx):
        raise KeyboardInterrupt

class Crashes(Good):
    name = "crashes"
    def fit(self, train, ctx):
        os._exit(3)

class Hungry(Good):
    name = "hungry"
    def fit(self, train, ctx):
        super().fit(train, ctx)
        big = torch.ones(2**30 // 4)  # 1 GiB, touched
        big += 1
        del big

class Sampler(vbench.Stainer):
    """Stochastic: predicts the mean colour plus noise; `smooth` (a variant) removes the noise."""
    name = "sampler"
    pairings = {"paired"}
    stochastic = True
    repeats = 4
    presets = {"quick": {"steps": 3}}
    variants = {"smooth": {"noise": 0.0}, "loud": {"noise": 0.2}}
    fits = 0

    def __init__(self, **params):
        super().__init__(**params)
        self.noise = 0.05
        self.net = torch.nn.Conv2d(1, 3, 1)

    def fit(self, train, ctx):
        type(self).fits += 1
        with open(os.environ["VBTEST_FIT_LOG"], "a") as f:
            f.write("fit ")
        torch.nn.init.constant_(self.net.weight, 0.0)
        torch.nn.init.constant_(self.net.bias, 0.5)
        while ctx.step(samples=1):
            pass

    def predict(self, inputs):
        out = self.net(inputs)
        return (out + self.noise * torch.randn_like(out)).clamp(0, 1)


@vbench.hookimpl
def vbench_register_stainers(register):
    for cls in (Good, Noisy, FitRaises, PredictRaises, WrongShape, OutOfRange, NaNs, SlightlyOver,
                Stepper, Interrupts, Crashes, Hungry, Sampler):
        register(cls)
'''


@pytest.fixture
def env(plugin_module, tiny_dataset, db_url):
    names = [tiny_dataset, plugin_module(STAINERS)]
    plugins = load_plugins(extra=names)
    return plugins, Store(db_url)


def sweep(env, stainers, seeds=(0,), isolate=False, **kw):
    plugins, store = env
    specs = plan(
        plugins,
        list(stainers),
        ["tiny"],
        list(seeds),
        metrics=kw.pop("metrics", ["psnr"]),
        max_seconds=kw.pop("max_seconds", None),
        repeats=kw.pop("repeats", None),
    )
    return run_sweep(specs, store, plugins, isolate=isolate, progress=False, **kw)


def test_completed_run_stores_scores_summaries_and_runtime(env):
    (o,) = sweep(env, ["good"])
    store = env[1]
    run = store.get_run(o.run_id)
    assert run.status == "completed"
    assert run.n_test_tiles == 4 and len(store.scores(o.run_id, "psnr")) == 4
    (summary,) = store.summaries([o.run_id])
    assert summary.metric == "psnr" and summary.n == 4 and summary.ci_low <= summary.mean <= summary.ci_high
    for field in ("train_seconds", "train_samples_per_s", "infer_ms_p50", "infer_ms_p95", "tiles_per_s"):
        assert getattr(run, field) is not None and getattr(run, field) >= 0, field
    assert run.infer_ms_p95 >= run.infer_ms_p50
    assert run.n_params == 3 and run.threads >= 1 and run.manifest_hash
    assert run.vbench_version and '"torch"' in run.libraries


def test_failures_are_stored_and_the_sweep_goes_on(env):
    outcomes = sweep(env, ["fit-raises", "predict-raises", "good"])
    assert [o.status for o in outcomes] == ["failed", "failed", "completed"]
    store = env[1]
    fit_err = store.get_run(outcomes[0].run_id).error
    assert "raised in fit" in fit_err and "bad learning rate 1e9" in fit_err and "Traceback" in fit_err
    assert "raised in predict" in store.get_run(outcomes[1].run_id).error
    assert store.scores(outcomes[0].run_id, "psnr") == {}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("wrong-shape", "shape (4, 3, 8, 8)"),
        ("out-of-range", "outputs must lie in [0, 1]"),
        ("nans", "NaN or inf"),
    ],
)
def test_bad_outputs_fail_the_run_with_a_clear_message(env, name, expected):
    (o,) = sweep(env, [name])
    assert o.status == "failed"
    assert expected in o.message and name in o.message


def test_outputs_within_tolerance_are_clamped(env):
    (o,) = sweep(env, ["slightly-over"])
    assert o.status == "completed"


def test_the_clamp_tolerance_is_one_thousandth():
    import torch

    from vbench.errors import OutputError
    from vbench.run.output_checks import check_output

    ok = check_output(torch.tensor([-0.00099, 0.5, 1.00099]).view(1, 3, 1, 1), (1, 3, 1, 1), ["t"], "s")
    assert ok.flatten().tolist() == [0.0, 0.5, 1.0]
    for bad in (1.0011, -0.0011):
        with pytest.raises(OutputError, match=r"values within 0.001 are clamped"):
            check_output(torch.tensor([0.5, 0.5, bad]).view(1, 3, 1, 1), (1, 3, 1, 1), ["t"], "s")


def test_resume_skips_completed_runs_only(env):
    first = sweep(env, ["good", "fit-raises"])
    again = sweep(env, ["good", "fit-raises"], resume=True)
    assert again[0].status == "skipped" and again[0].run_id == first[0].run_id
    assert again[1].status == "failed" and again[1].run_id != first[1].run_id


def test_same_seed_reproduces_and_other_seed_differs(env):
    a, b, c = sweep(env, ["noisy"], seeds=(7, 7, 8))
    store = env[1]
    sa, sb, sc = (store.scores(o.run_id, "psnr") for o in (a, b, c))
    assert sa == sb
    assert sa != sc


def test_step_budget_is_fixed_by_the_preset(env):
    (o,) = sweep(env, ["stepper:quick"])
    run = env[1].get_run(o.run_id)
    assert run.preset == "quick" and run.train_steps == 5 and not run.truncated
    assert run.train_samples_per_s > 0


def test_seconds_cap_marks_the_run_truncated(env):
    (o,) = sweep(env, ["stepper:long"], max_seconds=0.3)
    run = env[1].get_run(o.run_id)
    assert run.status == "completed" and run.truncated and run.train_steps < 10_000_000


def test_interrupt_marks_the_run_interrupted_and_keeps_earlier_results(env):
    with pytest.raises(RunInterrupted, match="--resume"):
        sweep(env, ["good", "interrupts", "good"], seeds=(0,))
    runs = env[1].runs()
    assert [r.status for r in runs] == ["completed", "interrupted"]
    assert len(env[1].scores(runs[0].id, "psnr")) == 4


@pytest.mark.slow
def test_isolated_runs_measure_their_own_peak_memory_and_survive_crashes(env):
    outcomes = sweep(env, ["good", "hungry", "crashes", "good"], isolate=True)
    assert [o.status for o in outcomes] == ["completed", "completed", "failed", "completed"]
    store = env[1]
    good, hungry, crashed, good2 = (store.get_run(o.run_id) for o in outcomes)
    assert hungry.peak_mem_mb - good.peak_mem_mb > 500
    assert abs(good2.peak_mem_mb - good.peak_mem_mb) < 100  # not inherited from the hungry run
    assert "worker process died (exit code 3)" in crashed.error


def test_variants_reuse_one_trained_model_and_repeats_measure_variance(env, tmp_path, monkeypatch):
    log = tmp_path / "fits.log"
    monkeypatch.setenv("VBTEST_FIT_LOG", str(log))
    base, smooth, loud = sweep(env, ["sampler:quick", "sampler:quick+smooth", "sampler:quick+loud"])
    assert log.read_text().count("fit") == 1  # trained once, evaluated three ways
    store = env[1]
    runs = [store.get_run(o.run_id) for o in (base, smooth, loud)]
    assert [r.preset for r in runs] == ["quick", "quick+smooth", "quick+loud"]
    assert runs[1].trained_by == runs[0].id and runs[2].trained_by == runs[0].id
    assert runs[1].train_seconds == runs[0].train_seconds and runs[0].repeats == 4
    std = {r.preset: {s.metric: s for s in store.summaries([r.id])}["pixel_std"].mean for r in runs}
    assert std["quick+smooth"] == 0.0 < std["quick"] < std["quick+loud"]
    # Each run keeps its own folder (its sample grid); the variants point at the trained one.
    assert [Path(r.artifacts).name for r in runs] == [f"run-{r.id}" for r in runs]
    assert (Path(runs[0].artifacts) / "samples.png").exists()
    assert runs[0].flops_per_tile > 0
    # Fixed seed: a rerun samples the same noise.
    (again,) = sweep(env, ["sampler:quick+loud"])
    assert store.scores(again.run_id, "psnr") == store.scores(loud.run_id, "psnr")


def test_unknown_variant_is_named(env):
    from vbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'smooth'"):
        sweep(env, ["sampler:quick+smoth"])


SCALED = """
import torch
import vbench

class Scale2(vbench.Dataset):
    name = "tiny-x2"
    pairing = "paired"
    scale = 2
    in_channels = 1
    def load(self, split):
        return [vbench.Sample(id="a", input=torch.rand(1, 8, 8), target=torch.rand(3, 16, 16))]

class Unpaired(Scale2):
    name = "tiny-unpaired"
    pairing = "unpaired"
    scale = 1

class OnlyScale1(vbench.Stainer):
    name = "only-scale-1"
    pairings = {"paired"}
    scales = {1}

@vbench.hookimpl
def vbench_register_datasets(register):
    register(Scale2)
    register(Unpaired)

@vbench.hookimpl
def vbench_register_stainers(register):
    register(OnlyScale1)
"""


def test_incompatible_pairs_are_an_error_when_named_and_skipped_in_suites(plugin_module):
    from vbench.errors import ConfigError

    plugins = load_plugins(extra=[plugin_module(SCALED)])
    with pytest.raises(ConfigError, match=r"only-scale-1 produces output/input scales \[1\], tiny-x2 needs scale 2"):
        plan(plugins, ["only-scale-1"], ["tiny-x2"], [0], strict=True)
    with pytest.raises(ConfigError, match="supports paired data, tiny-unpaired is unpaired"):
        plan(plugins, ["only-scale-1"], ["tiny-unpaired"], [0], strict=True)
    warnings = []
    with pytest.raises(ConfigError, match="nothing to run"):
        plan(plugins, ["only-scale-1"], ["tiny-x2", "tiny-unpaired"], [0], warn=warnings.append)
    assert len(warnings) == 2 and "skipping only-scale-1 on tiny-x2" in warnings[0]


SET_METRICS = '''
import torch
import vbench

class Naive(vbench.Metric):
    """A third-party full-reference metric that does not check the pairing itself."""
    name = "naive-fr"
    kind = "full-reference"
    def compute(self, pred, ref):
        return (pred - ref).abs().mean(dim=(1, 2, 3))

class SetMean(vbench.Metric):
    """A distribution metric: one value for the whole test set."""
    name = "set-mean"
    kind = "distribution"
    per_tile = False
    higher_is_better = False
    def compute_set(self, preds, targets):
        return float(torch.cat(list(preds)).mean())

@vbench.hookimpl
def vbench_register_metrics(register):
    register(Naive)
    register(SetMean)
'''


def test_unpaired_targets_are_never_a_reference_and_set_metrics_store_one_value(plugin_module, db_url):
    plugins = load_plugins(extra=[plugin_module(SCALED), plugin_module(SET_METRICS)])
    store = Store(db_url)
    specs = plan(plugins, ["baseline-mean"], ["tiny-unpaired"], [0], metrics=["naive-fr", "set-mean"])
    (o,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert o.status == "completed", o.message
    summaries = {s.metric: s for s in store.summaries([o.run_id])}
    assert summaries["naive-fr"].status == "not computed" and "unpaired" in summaries["naive-fr"].reason
    assert summaries["set-mean"].status == "computed" and summaries["set-mean"].n == 1
    assert store.scores(o.run_id, "set-mean") == {}


def test_every_named_suite_plans_and_the_default_runs_the_bundled_methods():
    import tomllib
    from importlib import resources

    from vbench.run import load_suite

    plugins = load_plugins()
    names = tomllib.loads(resources.files("vbench.run").joinpath("suites.toml").read_text())
    for name in names:
        suite = load_suite(name)
        specs = plan(plugins, suite.stainers, suite.datasets, suite.seeds, suite=name)
        assert specs, name
    default = load_suite("default")
    planned = {s.stainer for s in plan(plugins, default.stainers, default.datasets, default.seeds)}
    assert {"phasestain", "cyclegan", "baseline-colormap"} <= planned
    assert load_suite("unpaired-bars").metrics[:2] == ["psnr", "ssim"]  # against the aligned truth


def test_a_suite_file_can_name_its_metrics(tmp_path):
    from vbench.run import load_suite

    path = tmp_path / "mine.toml"
    path.write_text('stainers = ["baseline-mean"]\ndatasets = ["qpi-ihc"]\nmetrics = ["psnr"]\n')
    suite = load_suite(str(path))
    assert (suite.name, suite.metrics, suite.seeds) == ("mine", ["psnr"], [0])
