"""`vbench compare RUN_A RUN_B`: a paired test on the same test tiles, which run is better and
whether the difference is significant; and the statistics behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vbench.cli import main
from vbench.stats import paired_compare, summarize
from vbench.store import Store


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def add_run(
    store: Store,
    stainer: str,
    values: dict,
    metric: str = "psnr",
    higher: bool = True,
    manifest: str = "m1",
    status: str = "completed",
) -> int:
    rid = store.create_run(
        stainer=stainer, run_key=stainer, vbench_version="0", dataset="ds", manifest_hash=manifest, seed=0
    )
    summary = dict(
        metric=metric,
        status="computed",
        reason=None,
        higher_is_better=higher,
        pipeline="",
        **summarize(values.values()),
    )
    store.finish_run(rid, [(metric, t, v) for t, v in values.items()], [summary], status=status)
    return rid


@pytest.fixture
def runs(db_url):
    rng = np.random.default_rng(0)
    base = {f"t{i}": float(v) for i, v in enumerate(rng.normal(25, 2, 40))}
    better = {t: v + 0.6 + float(rng.normal(0, 0.3)) for t, v in base.items()}
    same = {t: v + float(rng.normal(0, 0.3)) for t, v in base.items()}
    store = Store(db_url)
    return store, add_run(store, "a", better), add_run(store, "b", base), add_run(store, "c", same)


def test_compare_says_which_is_better_and_whether_it_is_significant(capsys, runs, db_url):
    store, a, b, c = runs
    code, out, err = cli(capsys, "compare", a, b, "--db", db_url, "-f", "json")
    assert code == 0, err
    (row,) = json.loads(out)["metrics"]
    assert row["metric"] == "psnr" and row["n"] == 40 and row["better"] == "a" and row["significant"]
    assert row["ci_low"] > 0 and row["p"] < 0.01

    code, out, _ = cli(capsys, "compare", b, a, "--db", db_url, "--test", "wilcoxon", "-f", "json")
    (row,) = json.loads(out)["metrics"]
    assert row["better"] == "b" and row["significant"] and row["test"] == "wilcoxon"

    code, out, _ = cli(capsys, "compare", b, c, "--db", db_url, "-f", "json")
    (row,) = json.loads(out)["metrics"]
    assert not row["significant"] and row["ci_low"] < 0 < row["ci_high"]

    code, out, _ = cli(capsys, "compare", a, b, "--db", db_url)
    assert code == 0 and "A better (higher is better), significant" in " ".join(out.split())


def test_lower_is_better_metrics(capsys, db_url):
    store = Store(db_url)
    lo = add_run(store, "lo", {f"t{i}": 1.0 + 0.01 * i for i in range(30)}, metric="ciede2000", higher=False)
    hi = add_run(store, "hi", {f"t{i}": 2.0 + 0.01 * i for i in range(30)}, metric="ciede2000", higher=False)
    code, out, _ = cli(capsys, "compare", lo, hi, "--db", db_url, "-f", "json")
    (row,) = json.loads(out)["metrics"]
    assert row["better"] == "a" and row["significant"] and row["diff"] == pytest.approx(-1.0)


def test_compare_refuses_what_is_not_comparable(capsys, runs, db_url):
    store, a, b, c = runs
    other = add_run(store, "elsewhere", {"t0": 1.0}, manifest="m2")
    failed = add_run(store, "broken", {"t0": 1.0}, status="failed")
    for args, message in [
        ((a, other), "a paired test needs the same test tiles"),
        ((a, 99), "no run 99"),
        ((a, failed), "not completed"),
        ((a, b, "-m", "ssim"), "metric 'ssim' was not computed in run"),
        ((a, b, "--test", "t-test"), "unknown test 't-test'"),
    ]:
        code, _, err = cli(capsys, "compare", *args, "--db", db_url)
        assert code != 0 and message in " ".join(err.split()), (args, err)


def test_paired_statistics():
    a = {"x": 1.0, "y": 2.0, "z": None, "w": 3.0}
    b = {"x": 1.0, "y": 2.0, "w": 3.0, "only-b": 9.0}
    res = paired_compare(a, b)
    assert res["n"] == 3 and res["diff"] == 0.0 and res["better"] is None and not res["significant"]
    assert paired_compare({}, b)["n"] == 0
    one = paired_compare({"x": 2.0}, {"x": 1.0})
    assert one["n"] == 1 and one["p"] is None and not one["significant"] and one["better"] == "a"
    s = summarize([1.0, 2.0, 3.0, float("nan"), None])
    assert s["n"] == 3 and s["ci_low"] <= 2.0 <= s["ci_high"]
    with pytest.raises(ValueError):
        paired_compare(a, b, test="magic")


def add_seed(store: Store, stainer: str, preset: str, seed: int, values: dict, manifest: str = "m1") -> int:
    rid = store.create_run(
        stainer=stainer,
        preset=preset,
        run_key=f"{stainer}{preset}{seed}{manifest}",
        vbench_version="0",
        dataset="ds",
        manifest_hash=manifest,
        seed=seed,
    )
    summary = dict(
        metric="psnr", status="computed", reason=None, higher_is_better=True, pipeline="", **summarize(values.values())
    )
    store.finish_run(rid, [("psnr", t, v) for t, v in values.items()], [summary])
    return rid


def test_methods_are_compared_over_their_seeds(capsys, db_url):
    """Per tile a beats b by 0.5 dB in every seed: significant. c beats b by 0.5 dB on average,
    but one seed of c collapsed: the seed level makes that not significant, although a test on the
    pooled tiles of the three seeds would call it significant."""
    store = Store(db_url)
    rng = np.random.default_rng(1)
    base = {f"t{i}": float(v) for i, v in enumerate(rng.normal(25, 2, 30))}
    for seed in range(3):
        add_seed(store, "b", "", seed, {t: v + float(rng.normal(0, 0.1)) for t, v in base.items()})
        add_seed(store, "a", "quick", seed, {t: v + 0.5 + float(rng.normal(0, 0.1)) for t, v in base.items()})
        shift = (1.5, 1.5, -1.5)[seed]
        add_seed(store, "c", "quick", seed, {t: v + shift + float(rng.normal(0, 0.1)) for t, v in base.items()})
    code, out, err = cli(capsys, "compare", "a:quick", "b", "--db", db_url, "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["seeds"] == [0, 1, 2] and len(data["a"]["runs"]) == 3 and data["test"] == "hierarchical-bootstrap"
    (row,) = data["metrics"]
    assert row["n"] == 90 and row["n_seeds"] == 3 and row["better"] == "a" and row["significant"]
    assert 0.4 < row["diff"] < 0.6 and row["ci_low"] > 0

    code, out, _ = cli(capsys, "compare", "c", "b", "--db", db_url, "-f", "json")  # bare name: its one preset
    (row,) = json.loads(out)["metrics"]
    assert row["diff"] == pytest.approx(0.5, abs=0.1) and not row["significant"] and row["ci_low"] < 0 < row["ci_high"]
    # run ids: b, a, c for seed 0, then seed 1, then seed 2
    pooled = paired_compare(
        {f"{s}{t}": v for s in range(3) for t, v in store.scores(3 + 3 * s, "psnr").items()},
        {f"{s}{t}": v for s in range(3) for t, v in store.scores(1 + 3 * s, "psnr").items()},
    )
    assert pooled["significant"]  # what ignoring the seeds would have claimed

    code, out, _ = cli(capsys, "compare", "a:quick", "b", "--db", db_url)
    text = " ".join(out.split())
    assert code == 0 and "a:quick (seeds 0, 1, 2)" in text and "90 (3)" in text and "significant" in text


def test_method_comparison_errors(capsys, db_url):
    store = Store(db_url)
    add_seed(store, "a", "quick", 0, {"t0": 1.0, "t1": 2.0})
    add_seed(store, "a", "paper", 0, {"t0": 1.0, "t1": 2.0})
    add_seed(store, "b", "", 1, {"t0": 1.0, "t1": 2.0})
    add_seed(store, "far", "", 0, {"t0": 1.0}, manifest="m2")
    for args, message in [
        (("a:quick", "nope"), "no completed runs of 'nope'; methods with completed runs: a:paper, a:quick, b, far"),
        (("a:quick", "b"), "no seed in common"),
        (("a", "b"), "a ran with 2 presets (a:paper, a:quick); name one"),
        (("a:quick", "far"), "never scored the same split"),
        (("a:quick", "1"), "compare two run ids or two methods"),
        (("a:quick", "a:paper", "--test", "wilcoxon"), "--test wilcoxon compares two runs"),
        (("a:quick", "a:paper", "-m", "ssim"), "metric 'ssim' was not computed for every seed of both methods"),
        (("1", "2", "-d", "ds"), "--dataset is for comparing methods"),
    ]:
        code, _, err = cli(capsys, "compare", *args, "--db", db_url)
        assert code == 2 and message in " ".join(err.split()), (args, err)


def add_sourced(store: Store, stainer: str, values: dict, sources: dict | None, dataset: str) -> int:
    """A completed run on ``dataset`` whose runs recorded each tile's source image (or did not)."""
    rid = store.create_run(
        stainer=stainer,
        preset="quick",
        run_key=f"{stainer}{dataset}",
        vbench_version="0",
        dataset=dataset,
        manifest_hash="m1",
        seed=0,
        device="cpu",
        tile_sources=sources,
    )
    summary = dict(
        metric="psnr", status="computed", reason=None, higher_is_better=True, pipeline="", **summarize(values.values())
    )
    store.finish_run(rid, [("psnr", t, v) for t, v in values.items()], [summary], train_seconds=1.0)
    return rid


def test_compare_and_the_leaderboard_resample_source_images_alike(capsys, db_url):
    """30 test tiles cut from 3 source images, as in the public adjacent-section set. Method a is
    better than b on two images and worse on the third: per tile the difference looks certain,
    but with three images it is not. Where the runs recorded the sources, the leaderboard ties the
    two and `compare` (two runs, or two methods over seeds) says not significant; the same scores
    without sources make both call a the better one."""
    from vbench.report import build_leaderboard

    rng = np.random.default_rng(3)
    sources = {f"s{s}__{i}": f"s{s}" for s in range(3) for i in range(10)}
    b = {t: 25.0 + float(rng.normal(0, 0.1)) for t in sources}
    effect = {"s0": 1.5, "s1": 0.5, "s2": -0.5}
    a = {t: v + effect[sources[t]] + float(rng.normal(0, 0.1)) for t, v in b.items()}
    store = Store(db_url)
    for dataset, recorded in (("sections", sources), ("unsourced", None)):
        ra, rb = add_sourced(store, "a", a, recorded, dataset), add_sourced(store, "b", b, recorded, dataset)
        (board,) = build_leaderboard(store, dataset=dataset)
        ranks = {r["stainer"]: (r["rank"], r["tied"]) for r in board.rows}
        verdicts = []
        for args in ((ra, rb), ("a:quick", "b:quick", "-d", dataset)):
            code, out, err = cli(capsys, "compare", *args, "--db", db_url, "-f", "json")
            assert code == 0, err
            (row,) = json.loads(out)["metrics"]
            assert row["diff"] == pytest.approx(0.5, abs=0.1) and row["n"] == 30
            assert row["n_sources"] == (3 if recorded else None)
            verdicts.append(row["significant"])
        if recorded:
            assert ranks == {"a": (1, True), "b": (1, True)}, ranks  # the leaderboard ties them ...
            assert verdicts == [False, False]  # ... and compare agrees
        else:
            assert ranks == {"a": (1, False), "b": (2, False)}, ranks
            assert verdicts == [True, True]
    code, out, err = cli(capsys, "compare", "1", "2", "--db", db_url)
    assert code == 0 and "source images were resampled, not tiles" in " ".join(err.split())
    assert "30, 3 source images" in out


def test_paired_statistics_with_sources():
    """One tile per source is the tile bootstrap; the Wilcoxon test ranks per-source differences."""
    rng = np.random.default_rng(0)
    a = {f"t{i}": float(v) for i, v in enumerate(rng.normal(1, 1, 40))}
    b = {t: v - 0.5 for t, v in a.items()}
    own = {t: t for t in a}
    assert paired_compare(a, b, sources=own) == dict(paired_compare(a, b), n_sources=40)
    two = {t: f"s{i % 2}" for i, t in enumerate(a)}
    res = paired_compare(a, b, test="wilcoxon", sources=two)
    assert res["n_sources"] == 2 and res["p"] == pytest.approx(0.5) and not res["significant"]
    assert paired_compare(a, b, sources={})["n_sources"] is None
