"""Leaderboards: seed-aware intervals from per-tile scores, tiers, columns, labels, manifests kept
apart, and the interval cache."""

from __future__ import annotations

import numpy as np
import pytest

from vbench.errors import ConfigError
from vbench.report import build_leaderboard, render
from vbench.report.terminal import rich_tables
from vbench.stats import hierarchical_bootstrap, summarize
from vbench.store import Store

TEXT_FORMATS = ("md", "latex", "html", "json")


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'lb.db'}")


def add(
    store,
    stainer,
    values,
    *,
    seed=0,
    manifest="m1",
    metric="psnr",
    higher=True,
    dataset="d",
    preset="",
    params=None,
    extra=(),
):
    """A completed run whose per-tile scores are ``values`` (a list, or a mean and a spread)."""
    if not isinstance(values, list):
        mean, spread = values
        values = list(mean + spread * np.random.default_rng(seed + len(stainer)).standard_normal(14))
    run_id = store.create_run(
        stainer=stainer,
        preset=preset,
        params=params or {},
        vbench_version="0",
        run_key=f"{stainer}{preset}{seed}{manifest}{params}",
        dataset=dataset,
        manifest_hash=manifest,
        seed=seed,
        device="cpu",
        threads=2,
        hardware={"cpu": "Test CPU 9000"},
    )
    tiles = [(metric, f"t{i}", float(v)) for i, v in enumerate(values)]
    summaries = [dict(metric=metric, higher_is_better=higher, pipeline="p", status="computed", **summarize(values))]
    extra = [dict({"higher_is_better": True, "pipeline": "", "status": "computed"}, **e) for e in extra]
    store.finish_run(run_id, tiles, summaries + extra, train_seconds=1.0, infer_ms_p50=2.0)
    return run_id


def test_overlapping_intervals_share_a_rank_and_every_format_explains_ranks(store):
    add(store, "a", (30.0, 0.5))
    add(store, "b", (29.9, 0.5))  # overlaps a
    add(store, "c", (20.0, 0.5))
    (board,) = build_leaderboard(store)
    ranks = {r["stainer"]: (r["rank"], r["tied"]) for r in board.rows}
    assert ranks == {"a": (1, True), "b": (1, True), "c": (3, False)}
    assert [r["stainer"] for r in board.rows] == ["a", "b", "c"]
    assert "| =1 |" in render([board], "md")
    for fmt in TEXT_FORMATS:
        assert "lies wholly on the better side" in render([board], fmt), fmt


def test_seed_to_seed_variance_widens_the_interval(store):
    """cyclegan:quick on qpi-he scored 8.20 / 17.45 / 8.05 dB over three seeds: the mean of the
    seeds' tile-bootstrap bounds gave an interval about 1 dB wide; resampling seeds does not."""
    for seed, mean in enumerate((8.20, 17.45, 8.05)):
        add(store, "cyclegan", (mean, 1.0), seed=seed, preset="quick")
    add(store, "phasestain", (23.5, 1.0), seed=0, preset="quick")
    (board,) = build_leaderboard(store)
    cyc = next(r for r in board.rows if r["stainer"] == "cyclegan")["metrics"]["psnr"]
    assert cyc["n_seeds"] == 3 and cyc["n"] == 42
    assert cyc["mean"] == pytest.approx(np.mean([8.20, 17.45, 8.05]), abs=0.6)
    assert cyc["ci_high"] - cyc["ci_low"] > 6.0  # spans the seeds, not the tiles
    assert cyc["seed_std"] > 4.0
    one = next(r for r in board.rows if r["stainer"] == "phasestain")["metrics"]["psnr"]
    assert one["n_seeds"] == 1 and one["ci_high"] - one["ci_low"] < 1.5
    md = render([board], "md")
    assert "Rows with one seed (phasestain:quick)" in md and "seed-to-seed variance is not included" in md


def test_hierarchical_bootstrap_levels():
    rng = np.random.default_rng(0)
    one = [rng.normal(20, 1, 30)]
    assert hierarchical_bootstrap(one)["ci_low"] == pytest.approx(summarize(one[0])["ci_low"], abs=0.05)
    # sources: tiles of one image move together, so clustering by source widens the interval
    values = np.concatenate([rng.normal(m, 0.2, 10) for m in (10, 14, 12, 16)])
    sources = np.repeat(np.arange(4), 10)
    tiles_only = hierarchical_bootstrap([values])
    clustered = hierarchical_bootstrap([values], groups=[sources])
    assert clustered["ci_high"] - clustered["ci_low"] > 2 * (tiles_only["ci_high"] - tiles_only["ci_low"])
    # many tiles: the normal limit, same mean, sensible width
    big = hierarchical_bootstrap([rng.normal(5, 2, 5000) for _ in range(3)])
    assert big["n"] == 15000 and 0.0 < big["ci_high"] - big["ci_low"] < 0.5
    assert hierarchical_bootstrap([[None, float("nan")]])["mean"] is None


def test_lower_is_better_metrics_rank_ascending(store):
    add(store, "a", (5.0, 0.1), metric="niqe", higher=False)
    add(store, "b", (3.0, 0.1), metric="niqe", higher=False)
    (board,) = build_leaderboard(store, metrics=["niqe"])
    assert [r["stainer"] for r in board.rows] == ["b", "a"]


def test_latest_run_per_seed_counts(store):
    add(store, "a", [10.0, 10.0], seed=0)
    add(store, "a", [20.0, 20.0], seed=1)
    add(store, "a", [30.0, 30.0], seed=1)  # a rerun of seed 1 replaces the earlier one
    (board,) = build_leaderboard(store)
    (row,) = board.rows
    assert row["seeds"] == [0, 1] and row["metrics"]["psnr"]["mean"] == pytest.approx(20.0)


def test_runs_of_different_manifests_are_never_ranked_together(store):
    add(store, "a", (30.0, 0.1), manifest="m1")
    add(store, "b", (10.0, 0.1), manifest="m2")
    boards = build_leaderboard(store)
    assert len(boards) == 2 and all(len(b.rows) == 1 and b.rows[0]["rank"] == 1 for b in boards)
    assert all("different manifests" in b.warnings[0] for b in boards)
    assert "different manifests" in render(boards, "md")


def test_failed_runs_do_not_appear(store):
    add(store, "a", (30.0, 0.1))
    bad = store.create_run(stainer="z", run_key="z", vbench_version="0", dataset="d", manifest_hash="m1", seed=0)
    store.end_run(bad, "failed", "boom")
    (board,) = build_leaderboard(store)
    assert [r["stainer"] for r in board.rows] == ["a"]


def test_a_metric_no_row_computed_is_a_footnote_not_a_column(store):
    why = "metric 'lpips' needs the file LPIPS_v0.1_alex.pth, which is not installed. Run `vbench assets fetch`"
    lpips = [dict(metric="lpips", status="not computed", n=0, reason=why)]
    add(store, "a", (30.0, 0.5), extra=lpips)
    add(store, "b", (20.0, 0.5), extra=lpips)
    partly = add(store, "c", (25.0, 0.5), extra=[dict(metric="ssim", status="not computed", n=0, reason="too small")])
    store.add_scores(partly, [])
    (board,) = build_leaderboard(store)
    assert "lpips" not in board.metrics and "lpips" in board.hidden
    for fmt in TEXT_FORMATS:
        text = render([board], fmt)
        assert "lpips" in text and "not computed for any row" in text, fmt
    md = render([board], "md")
    assert sum("lpips" in line for line in md.splitlines()) == 1 and "lpips ↓" not in md
    assert "which is not installed" in md and "Run `vbench" not in md  # first sentence only
    cells = {r["stainer"]: r for r in board.rows}
    assert "ssim" in cells["c"]["not_computed"] and "ssim" not in board.metrics  # only c had ssim, not computed


def test_metric_columns_are_chosen_and_ordered(store):
    extra = [
        dict(
            metric="ssim",
            higher_is_better=True,
            pipeline="s",
            status="computed",
            n=1,
            mean=0.5,
            ci_low=0.4,
            ci_high=0.6,
        )
    ]
    add(store, "a", (30.0, 0.5), extra=extra)
    (board,) = build_leaderboard(store, metrics=["ssim", "psnr"])
    assert list(board.metrics) == ["ssim", "psnr"] and board.primary == "ssim"
    header = render([board], "md").splitlines()[4]
    assert header.index("ssim") < header.index("psnr")
    (board,) = build_leaderboard(store, metrics=["psnr"])
    assert list(board.metrics) == ["psnr"]
    with pytest.raises(ConfigError) as err:
        build_leaderboard(store, metrics=["psnrr"])  # stored by no run: a typo, not an empty column
    assert str(err.value) == "no run stores metric 'psnrr'. Did you mean 'psnr'? Metrics stored: psnr, ssim."
    fid = [dict(metric="fid", status="computed", higher_is_better=False, pipeline="f", n=1, mean=30.0)]
    add(store, "gan", (20.0, 0.5), dataset="u", extra=fid)  # fid is stored, for another dataset only
    board, _ = build_leaderboard(store, metrics=["fid", "psnr"])
    assert board.dataset == "d" and board.primary is None
    assert any("fid was not computed" in w for w in board.warnings) and board.rows[0]["rank"] is None


def test_labels_follow_the_one_rule(store):
    add(store, "solo", (20.0, 0.5), preset="default")  # a single unchosen preset is not shown
    add(store, "net", (25.0, 0.5), preset="quick")
    add(store, "net", (24.0, 0.5), preset="quick", params={"lr": 0.1})
    (board,) = build_leaderboard(store)
    labels = sorted(r["label"] for r in board.rows)
    assert labels == ["net:quick []", "net:quick [lr=0.1]", "solo"]


def test_a_figure_without_per_tile_scores_ranks_by_its_mean(store):
    """nfe (network evaluations per tile) and fid are one number per run: one seed keeps the
    stored interval (none), several are resampled over seeds."""
    for name, nfe in (("few", 11.0), ("many", 200.0)):
        add(
            store,
            name,
            (20.0, 0.5),
            extra=[dict(metric="nfe", status="computed", higher_is_better=False, pipeline="p", n=1, mean=nfe)],
        )
    (board,) = build_leaderboard(store, metrics=["nfe"])
    assert [(r["stainer"], r["rank"]) for r in board.rows] == [("few", 1), ("many", 2)]
    assert board.rows[0]["metrics"]["nfe"]["ci_low"] is None
    for fmt in ("md", "csv", "json", "latex", "html"):
        assert "few" in render([board], fmt)
    assert "| 11 |" in render([board], "md")
    assert len(rich_tables([board])) == 1

    for seed, fid in enumerate((30.0, 40.0, 35.0)):
        add(
            store,
            "gan",
            (20.0, 0.5),
            seed=seed,
            dataset="u",
            metric="psnr",
            extra=[dict(metric="fid", status="computed", higher_is_better=False, pipeline="f", n=14, mean=fid)],
        )
    (board,) = build_leaderboard(store, dataset="u", metrics=["fid"])
    fid = board.rows[0]["metrics"]["fid"]
    assert fid["mean"] == pytest.approx(35.0) and 30.0 <= fid["ci_low"] < fid["ci_high"] <= 40.0


def test_intervals_are_cached_per_run_set(store, monkeypatch):
    add(store, "a", (30.0, 0.5), seed=0)
    add(store, "a", (31.0, 0.5), seed=1)
    first = build_leaderboard(store)[0].rows[0]["metrics"]["psnr"]

    def boom(*args, **kwargs):
        raise AssertionError("the per-tile table was read although every interval was cached")

    monkeypatch.setattr(Store, "tile_scores", boom)
    assert build_leaderboard(store)[0].rows[0]["metrics"]["psnr"] == first
    monkeypatch.undo()
    add(store, "a", (35.0, 0.5), seed=2)  # a new run set: computed afresh
    third = build_leaderboard(store)[0].rows[0]["metrics"]["psnr"]
    assert third["n_seeds"] == 3 and third != first


def test_board_json_round_trips(store):
    import json

    from vbench.report.leaderboard import Board

    add(store, "a", (30.0, 0.5))
    (board,) = build_leaderboard(store)
    again = Board.from_dict(json.loads(render([board], "json"))[0])
    assert render([again], "md") == render([board], "md")
    assert again.hardware == ["CPU: Test CPU 9000 (2 threads)"]
