"""Leaderboard ranking: ties on overlapping CIs, direction, seeds, manifests kept apart."""

from __future__ import annotations

import pytest

from vbench.report import build_leaderboard, render
from vbench.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'lb.db'}")


def add(store, stainer, mean, half, *, seed=0, manifest="m1", metric="psnr", higher=True, dataset="d"):
    run_id = store.create_run(stainer=stainer, run_key=f"{stainer}{seed}{manifest}", vbench_version="0",
                              dataset=dataset, manifest_hash=manifest, seed=seed)
    store.finish_run(run_id, [(metric, "t0", mean)], [dict(
        metric=metric, higher_is_better=higher, pipeline="p", n=10, mean=mean, std=1.0,
        ci_low=mean - half, ci_high=mean + half)], train_seconds=1.0)
    return run_id


def test_overlapping_confidence_intervals_share_a_rank(store):
    add(store, "a", 30.0, 0.5)
    add(store, "b", 29.8, 0.5)  # overlaps a
    add(store, "c", 20.0, 0.5)
    (board,) = build_leaderboard(store)
    ranks = {r["stainer"]: (r["rank"], r["tied"]) for r in board.rows}
    assert ranks == {"a": (1, True), "b": (1, True), "c": (3, False)}
    assert [r["stainer"] for r in board.rows] == ["a", "b", "c"]
    assert "=1" in render([board], "md")


def test_lower_is_better_metrics_rank_ascending(store):
    add(store, "a", 5.0, 0.1, metric="niqe", higher=False)
    add(store, "b", 3.0, 0.1, metric="niqe", higher=False)
    (board,) = build_leaderboard(store, metric="niqe")
    assert [r["stainer"] for r in board.rows] == ["b", "a"]


def test_seeds_are_averaged_and_latest_run_per_seed_counts(store):
    add(store, "a", 10.0, 1.0, seed=0)
    add(store, "a", 20.0, 1.0, seed=1)
    add(store, "a", 30.0, 1.0, seed=1)  # a rerun of seed 1 replaces the earlier one
    (board,) = build_leaderboard(store)
    (row,) = board.rows
    assert row["seeds"] == [0, 1] and row["metrics"]["psnr"]["mean"] == pytest.approx(20.0)


def test_runs_of_different_manifests_are_never_ranked_together(store):
    add(store, "a", 30.0, 0.1, manifest="m1")
    add(store, "b", 10.0, 0.1, manifest="m2")
    boards = build_leaderboard(store)
    assert len(boards) == 2 and all(len(b.rows) == 1 and b.rows[0]["rank"] == 1 for b in boards)
    assert all("different manifests" in b.warnings[0] for b in boards)
    assert "different manifests" in render(boards, "md")


def test_failed_runs_do_not_appear(store):
    add(store, "a", 30.0, 0.1)
    bad = store.create_run(stainer="z", run_key="z", vbench_version="0", dataset="d", manifest_hash="m1", seed=0)
    store.end_run(bad, "failed", "boom")
    (board,) = build_leaderboard(store)
    assert [r["stainer"] for r in board.rows] == ["a"]


def test_not_computed_metrics_are_shown_with_their_reason(store):
    run_id = store.create_run(stainer="a", run_key="a", vbench_version="0", dataset="d", manifest_hash="m1", seed=0)
    store.finish_run(run_id, [], [dict(metric="psnr", status="not computed", n=0, reason="no aligned reference")])
    (board,) = build_leaderboard(store)
    assert board.rows[0]["not_computed"] == {"psnr": "no aligned reference"} and board.rows[0]["rank"] is None
    assert "not computed" in render([board], "md")


def test_a_figure_without_a_ci_renders_and_ranks_by_its_mean(store):
    """nfe (network evaluations per tile) is one number per run, stored without a CI."""
    for name, nfe in (("few", 11.0), ("many", 200.0)):
        run_id = store.create_run(stainer=name, run_key=name, vbench_version="0", dataset="d", manifest_hash="m1", seed=0)
        store.finish_run(run_id, [("psnr", "t0", 20.0)], [
            dict(metric="psnr", higher_is_better=True, pipeline="p", n=1, mean=20.0, std=0.0, ci_low=19.0, ci_high=21.0),
            dict(metric="nfe", higher_is_better=False, pipeline="p", n=1, mean=nfe)])
    (board,) = build_leaderboard(store, metric="nfe")
    assert [(r["stainer"], r["rank"]) for r in board.rows] == [("few", 1), ("many", 2)]
    assert board.rows[0]["metrics"]["nfe"]["ci_low"] is None
    for fmt in ("md", "csv", "json"):
        assert "few" in render([board], fmt)
    assert "| 11 |" in render([board], "md")
    from vbench.report.render import rich_tables

    assert len(rich_tables([board])) == 1  # the terminal table `vbench run` prints
