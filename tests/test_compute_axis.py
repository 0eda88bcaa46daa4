"""Training compute as an axis: FLOPs counted per stage, anytime validation curves through
``ctx.step``, budget sweeps, convergence verdicts and leaderboards at a matched budget."""

from __future__ import annotations

import json
import math

import pytest

from vbench.compute import StepFlops, parse_budget, parse_multiples
from vbench.errors import ConfigError
from vbench.plugins import load_plugins
from vbench.report import build_leaderboard, render
from vbench.report.convergence import verdict
from vbench.run import plan, run_sweep
from vbench.store import Store
from vbench.store.transfer import export_runs, import_runs

STAINERS = '''
import torch
import vbench

class Learner(vbench.Stainer):
    """A 1x1 convolution trained with Adam; one ctx.step per step (the documented hook)."""
    name = "learner"
    presets = {"quick": {"steps": 16, "warmup": 4, "lr": 0.05}}
    parameters = {
        "steps": vbench.Param(int, min=1, budget=True),
        "warmup": vbench.Param(int, min=0, budget=True),
        "lr": vbench.Param(float, min=0.0),
    }

    def fit(self, train, ctx):
        torch.manual_seed(ctx.seed)
        self.net = torch.nn.Conv2d(1, 3, 1)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        x = torch.stack([s.input for s in train])
        y = torch.stack([s.target for s in train])
        while True:
            loss = (self.net(x) - y).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not ctx.step(samples=len(train), stage="warm-up" if ctx.steps_done < self.warmup else "main"):
                break

    def predict(self, inputs):
        return self.net(inputs).clamp(0, 1)


class Silent(Learner):
    """Trains without ever calling ctx.step: no curve, no FLOP count."""
    name = "silent"

    def fit(self, train, ctx):
        self.net = torch.nn.Conv2d(1, 3, 1)


class Fixed(vbench.Stainer):
    """Does not train (no step budget)."""
    name = "fixed"

    def fit(self, train, ctx):
        pass

    def predict(self, inputs):
        return inputs.repeat(1, 3, 1, 1)


class NanMetric(vbench.Metric):
    name = "nan-metric"
    curve_for = {"paired"}

    def compute(self, pred, ref):
        return torch.full((pred.shape[0],), float("nan"))


@vbench.hookimpl
def vbench_register_stainers(register):
    for cls in (Learner, Silent, Fixed):
        register(cls)


@vbench.hookimpl
def vbench_register_metrics(register):
    register(NanMetric)
'''


@pytest.fixture
def env(plugin_module, tiny_dataset, db_url):
    plugins = load_plugins(extra=[tiny_dataset, plugin_module(STAINERS)])
    return plugins, Store(db_url)


def sweep(env, stainers, **kw):
    plugins, store = env
    specs = plan(plugins, list(stainers), ["tiny"], list(kw.pop("seeds", [0])), metrics=["psnr"], **kw)
    return run_sweep(specs, store, plugins, isolate=False, progress=False)


def one_step_flops(train_n=6):
    """FLOPs of one Learner step counted independently of vbench: forward and backward of the conv."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net = torch.nn.Conv2d(1, 3, 1)
    x, y = torch.rand(train_n, 1, 16, 16), torch.rand(train_n, 3, 16, 16)
    with FlopCounterMode(display=False) as counter:
        (net(x) - y).abs().mean().backward()
    return counter.get_total_flops()


def test_a_stainer_calling_ctx_step_gets_a_geometric_val_curve_flops_per_stage_and_a_verdict(env):
    (o,) = sweep(env, ["learner:quick"])
    store = env[1]
    run = store.get_run(o.run_id)
    assert run.train_steps == 16 and run.train_flops == pytest.approx(16 * one_step_flops())
    assert run.curve_seconds is not None and run.curve_seconds < run.train_seconds + 5
    curve = store.run_detail(o.run_id)["curve"]
    assert [p["step"] for p in curve] == [1, 2, 4, 8, 16]  # 16 / 2^k, then the end
    assert all(set(p["metrics"]) == {"psnr", "ssim", "nan-metric"} for p in curve)
    assert curve[-1]["train_flops"] == pytest.approx(run.train_flops)
    assert [p["train_flops"] for p in curve] == sorted(p["train_flops"] for p in curve)
    assert curve[-1]["metrics"]["psnr"] > curve[0]["metrics"]["psnr"]  # it learns
    # a metric that is not finite is stored as not computed, with the reason, and breaks nothing
    assert all(p["metrics"]["nan-metric"] is None and "not a finite" in p["reasons"]["nan-metric"] for p in curve)
    (board,) = build_leaderboard(store, plugins=env[0])
    (row,) = board.rows
    assert row["convergence"]["metric"] == "psnr" and row["convergence"]["gain"] > 0
    assert "still improving" in row["convergence"]["text"] and row["train_flops"] == run.train_flops


def test_training_is_the_same_with_and_without_the_curve_and_a_silent_stainer_has_none(env):
    with_curve, without, silent = (
        sweep(env, ["learner:quick"])[0],
        sweep(env, ["learner:quick"], curve=False)[0],
        sweep(env, ["silent:quick"])[0],
    )
    store = env[1]
    assert store.scores(with_curve.run_id, "psnr") == store.scores(without.run_id, "psnr")
    assert store.curve_rows(without.run_id) == [] and store.get_run(without.run_id).curve_seconds is None
    assert store.curve_rows(silent.run_id) == [] and store.get_run(silent.run_id).train_flops is None
    assert store.get_run(silent.run_id).status == "completed"


def test_budgets_scale_every_budget_parameter_and_label_their_rows(env):
    plugins, _ = env
    specs = plan(plugins, ["learner:quick"], ["tiny"], [0], budgets=[0.25, 1, 2])
    assert [(s.params["steps"], s.params["warmup"], s.params["lr"]) for s in specs] == [
        (4, 1, 0.05),
        (16, 4, 0.05),
        (32, 8, 0.05),
    ]
    assert [s.preset_label for s in specs] == ["quick@x0.25", "quick@x1", "quick@x2"]
    assert len({s.train_key("m") for s in specs}) == 3
    # the label's form names one budget; with --set the changed budget is multiplied
    (named,) = plan(plugins, ["learner:quick@x2"], ["tiny"], [0])
    assert named.params == specs[2].params and named.key("m") == specs[2].key("m")
    (both,) = plan(plugins, ["learner:quick"], ["tiny"], [0], budgets=[2], settings={"steps": [10]})
    assert both.params["steps"] == 20 and both.preset_label == "quick[steps=10]@x2"


@pytest.mark.parametrize(
    "text, words",
    [("0", "not a positive multiple"), ("-1", "not a positive multiple"), ("x", "is not a number"), ("1,abc", "abc")],
)
def test_bad_budgets_are_one_line_errors(text, words):
    with pytest.raises(ConfigError) as info:
        parse_multiples(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_budgets_on_a_stainer_that_does_not_train_is_an_error_before_any_run(env):
    plugins, store = env
    with pytest.raises(ConfigError, match="fixed does not train"):
        plan(plugins, ["fixed"], ["tiny"], [0], budgets=[1, 4])
    with pytest.raises(ConfigError, match="positive"):
        plan(plugins, ["learner:quick@x0"], ["tiny"], [0])
    assert store.runs() == []


def test_at_budget_takes_each_methods_largest_run_within_it_and_never_extrapolates(env):
    sweep(env, ["learner:quick", "fixed"], budgets=None)  # fixed: no budget to multiply, one run
    sweep(env, ["learner:quick"], budgets=[0.25, 2])
    plugins, store = env
    per_step = one_step_flops()
    (board,) = build_leaderboard(store, plugins=plugins, at_budget=parse_budget(str(20 * per_step)))
    assert sorted(r["label"] for r in board.rows) == ["fixed", "learner:quick"]  # 16 steps <= 20
    assert "At a matched budget of" in board.budget and "never extrapolated" in board.budget
    (board,) = build_leaderboard(store, plugins=plugins, at_budget=parse_budget(str(2 * per_step)))
    assert [r["label"] for r in board.rows] == ["fixed"]
    assert any("learner:quick: no run within the budget" in n for n in board.excluded)
    for fmt in ("md", "latex", "html", "json", "csv"):
        assert "learner:quick: no run within the budget" in render([board], fmt) or fmt == "csv"
    (board,) = build_leaderboard(store, plugins=plugins, at_budget=parse_budget("1h"))
    slowest = max((r for r in store.runs() if r.stainer == "learner"), key=lambda r: r.train_seconds)
    assert [slowest.id] in [r["run_ids"] for r in board.rows]  # the most training seconds within an hour


@pytest.mark.parametrize("text", ["3days", "fast", "-5s", "0", "1e999"])
def test_an_unknown_or_empty_budget_is_a_one_line_error(text):
    with pytest.raises(ConfigError) as info:
        parse_budget(text)
    assert "300s" in str(info.value) and "2e15" in str(info.value) and "\n" not in str(info.value)


def test_budget_units():
    assert parse_budget("300s").field == "train_seconds" and parse_budget("5min").amount == 300
    assert parse_budget("2e15").field == "train_flops" and parse_budget("400tflops").amount == 4e14


def test_step_flops_are_counted_once_per_stage_and_unknown_for_an_uncounted_stage():
    import torch

    flops, net = StepFlops(), torch.nn.Linear(8, 8)
    for stage, size in (("a", 2), ("a", 2), ("a", 2), ("b", 4), ("b", 4)):
        flops.reported(stage, 1)
        flops.start(stage)
        net(torch.rand(size, 8)).sum().backward()
    flops.close()
    assert flops.steps == {"a": 3, "b": 2}
    assert flops.per_step["a"] * 2 == pytest.approx(flops.per_step["b"])
    assert flops.total() == pytest.approx(3 * flops.per_step["a"] + 2 * flops.per_step["b"])
    single = StepFlops()
    single.reported("only", 1)
    assert single.total() is None  # a stage of one step was never counted


def rows(values, flops=None):
    return [
        dict(step=2**i, train_flops=(flops or 1e9) * 2**i, train_seconds=float(i), metric="psnr", value=v)
        for i, v in enumerate(values)
    ]


def test_the_verdict_reads_the_last_doubling_of_compute_over_seeds():
    shown = {"psnr": {"unit": "dB", "rank_priority": 0}}
    flat = verdict([rows([10, 12, 13, 13.05])], shown)
    assert flat.text == "flat (< 0.1 dB per doubling)" and flat.ci_low is None
    rising = verdict([rows([10, 12, 13, 14]), rows([10, 12, 13, 14.5]), rows([10, 12, 13, 13.5])], shown)
    assert rising.gain == pytest.approx(1.0) and rising.seeds == 3
    assert rising.ci_low < 1.0 < rising.ci_high and rising.text.startswith("still improving: +1.00 dB per doubling")
    worse = verdict([rows([4, 5])], {"lpips": {}}, {"psnr": False})  # lower is better: rising is worse
    assert worse.gain == pytest.approx(-1.0) and worse.text.startswith("getting worse")
    assert verdict([rows([10])], shown) is None


def test_export_and_import_keep_the_curve_and_training_flops(env, tmp_path):
    (o,) = sweep(env, ["learner:quick"])
    store = env[1]
    export_runs(store, tmp_path / "runs.jsonl")
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    (new_id,) = import_runs(other, tmp_path / "runs.jsonl").imported
    assert other.get_run(new_id).train_flops == store.get_run(o.run_id).train_flops
    assert other.run_detail(new_id)["curve"] == store.run_detail(o.run_id)["curve"]
    record = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[1])
    assert json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[0])["version"] == 2
    assert {r["metric"] for r in record["curve"]} == {"psnr", "ssim", "nan-metric"}
    assert all(math.isfinite(r["value"]) for r in record["curve"] if r["value"] is not None)


@pytest.fixture
def cli_plugins(plugin_module, tiny_dataset, monkeypatch):
    import vbench.plugins

    names = [tiny_dataset, plugin_module(STAINERS)]
    real = vbench.plugins.load_plugins
    monkeypatch.setattr(vbench.plugins, "load_plugins", lambda *a, **k: real(extra=names))


def test_a_tiny_budget_sweep_through_the_cli(cli_plugins, capsys, db_url, tmp_path):
    from vbench.cli import main

    def cli(*args):
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    base = ["run", "-s", "learner:quick", "-s", "fixed", "-d", "tiny", "-m", "psnr", "--db", db_url, "-q"]
    code, _, err = cli(*base, "--budgets", "0.5,1", "--no-isolate")
    assert code == 2 and "fixed does not train" in err and Store(db_url).runs() == []  # nothing created
    code, _, err = cli(*base[:3], *base[5:], "--budgets", "0.5,1", "--no-isolate")
    assert code == 0, err
    code, _, err = cli("run", "-s", "fixed", *base[5:], "--no-isolate")
    assert code == 0, err
    code, out, _ = cli("runs", "--db", db_url, "--json")
    listed = {r["preset"]: r for r in json.loads(out)}
    assert set(listed) == {"quick@x0.5", "quick@x1", ""} and listed["quick@x1"]["train_flops"] > 0
    assert listed["quick@x1"]["convergence"].startswith(("still improving", "flat", "getting worse"))
    code, out, _ = cli("runs", str(listed["quick@x1"]["id"]), "--db", db_url, "--json")
    assert [p["step"] for p in json.loads(out)["curve"]] == [1, 2, 4, 8, 16]
    code, out, _ = cli("runs", str(listed["quick@x1"]["id"]), "--db", db_url)
    assert "anytime validation curve" in out and "per doubling" in out
    budget = str(listed["quick@x0.5"]["train_flops"] * 1.5)
    code, out, _ = cli("leaderboard", "--db", db_url, "--at-budget", budget, "-f", "json")
    (board,) = json.loads(out)
    assert code == 0 and sorted(r["label"] for r in board["rows"]) == ["fixed", "learner:quick@x0.5"]
    assert "At a matched budget of" in board["budget"]
    code, out, _ = cli("leaderboard", "--db", db_url, "--at-budget", budget)
    assert code == 0 and "learner:quick@x0.5" in out and "matched budget" in out
    code, out, err = cli("compare", "learner:quick", "fixed", "--db", db_url, "--at-budget", budget, "-f", "json")
    assert code == 0 and json.loads(out)["a"]["runs"] == [listed["quick@x0.5"]["id"]], err
    code, _, err = cli("leaderboard", "--db", db_url, "--at-budget", "3days")
    assert code == 2 and "unknown unit 'days'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("publish", str(tmp_path / "pub"), "--db", db_url, "--at-budget", budget)
    assert code == 0, err
    assert "At a matched budget of" in (tmp_path / "pub" / "README.md").read_text()
    assert (tmp_path / "pub" / "figures").is_dir() and list((tmp_path / "pub" / "figures").glob("*-compute.png"))
