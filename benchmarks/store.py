"""Store benchmark: per-tile score insert throughput and leaderboard build time.

Run:  .venv/bin/python benchmarks/store.py [--rows N] [--db-dir DIR]

Writes N per-tile scores (default 1,000,000 = 20 stainers x 5 seeds = 100 runs, 2 metrics,
5,000 tiles each) into a fresh SQLite file through vbench.store.Store.add_scores (one transaction
per run, as vbench writes them), and the same rows into another fresh SQLite file with the
identical schema (Base.metadata.create_all) through plain sqlite3 executemany (also one
transaction per run, foreign keys on as in the store). Only the score inserts (and their commits)
are timed. Summaries (vbench.stats.summarize, stored with Store.finish_run) are timed separately.

Targets:  vbench insert rows/s >= 0.5 x raw sqlite3 rows/s;
          vbench.report.build_leaderboard(store) over those runs < 1 s with its interval cache warm
          (the first build reads every per-tile score for the seed-aware bootstrap and fills the
          cache; it is timed and printed too, in a fresh VBENCH_HOME so it really is cold).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, insert

from vbench.report import build_leaderboard
from vbench.stats import summarize
from vbench.store import Store
from vbench.store.models import Base, Run

STAINERS, SEEDS, METRICS = 20, 5, ("psnr", "ssim")
RATIO_TARGET, LEADERBOARD_TARGET_S = 0.5, 1.0


def make_data(n_rows: int) -> list[tuple[dict, list[tuple[str, str, float]]]]:
    """(run fields, [(metric, tile, value), ...]) for each of the 100 runs, built once for both sides."""
    n_runs = STAINERS * SEEDS
    tiles_per_run = max(1, n_rows // (n_runs * len(METRICS)))
    tiles = [f"slide_{i // 500:03d}/x{(i % 500) * 256:06d}_y{(i * 7 % 97) * 256:06d}" for i in range(tiles_per_run)]
    rng = random.Random(0)
    runs = []
    for s in range(STAINERS):
        quality = rng.uniform(0, 1)
        for seed in range(SEEDS):
            fields = {
                "stainer": f"stainer{s:02d}",
                "preset": "default",
                "params": {"lr": 1e-4},
                "run_key": f"k{s}-{seed}",
                "vbench_version": "bench",
                "dataset": "bench-ds",
                "manifest_hash": "0" * 64,
                "seed": seed,
            }
            rows = [
                (
                    m,
                    t,
                    (20 + 10 * quality + rng.gauss(0, 2))
                    if m == "psnr"
                    else min(1.0, 0.6 + 0.3 * quality + rng.gauss(0, 0.05)),
                )
                for m in METRICS
                for t in tiles
            ]
            runs.append((fields, rows))
    return runs


def bench_vbench(path: Path, runs) -> tuple[Store, list[int], float, float, float]:
    store = Store(f"sqlite:///{path}")
    ids = [store.create_run(**fields) for fields, _ in runs]
    t0 = time.perf_counter()
    for run_id, (_, rows) in zip(ids, runs):
        store.add_scores(run_id, rows)
    insert_s = time.perf_counter() - t0
    stats_s = write_s = 0.0
    for run_id, (fields, rows) in zip(ids, runs):
        t0 = time.perf_counter()
        summaries = [
            dict(
                metric=m,
                higher_is_better=True,
                pipeline="bench",
                status="computed",
                reason=None,
                **summarize([v for mm, _, v in rows if mm == m], seed=fields["seed"]),
            )
            for m in METRICS
        ]
        t1 = time.perf_counter()
        store.finish_run(run_id, [], summaries)
        stats_s, write_s = stats_s + t1 - t0, write_s + time.perf_counter() - t1
    return store, ids, insert_s, stats_s, write_s


def bench_raw(path: Path, runs) -> float:
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)  # same tables and indexes as the store
    with engine.begin() as c:  # untimed, like create_run on the vbench side
        c.execute(
            insert(Run),
            [
                dict(f, id=i, status="running", params=json.dumps(f["params"]), started_at=datetime(2024, 1, 1))
                for i, (f, _) in enumerate(runs, 1)
            ],
        )
    engine.dispose()
    ids = list(range(1, len(runs) + 1))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    sql = "INSERT INTO scores (run_id, metric, tile, value) VALUES (?, ?, ?, ?)"
    t0 = time.perf_counter()
    for run_id, (_, rows) in zip(ids, runs):
        conn.executemany(sql, ((run_id, m, t, v) for m, t, v in rows))
        conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="per-tile scores to write (default 1,000,000)")
    ap.add_argument("--db-dir", type=Path, default=None, help="folder for the two SQLite files (default: a temp dir)")
    args = ap.parse_args()
    db_dir = args.db_dir or Path(tempfile.mkdtemp(prefix="vbench-store-bench-"))
    db_dir.mkdir(parents=True, exist_ok=True)
    vb_path, raw_path = db_dir / "bench_vbench.db", db_dir / "bench_raw.db"
    for p in (vb_path, raw_path):
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)

    runs = make_data(args.rows)
    n = sum(len(rows) for _, rows in runs)
    print("vbench store benchmark: wall time of per-tile score inserts incl. commit (one transaction per run),")
    print("vbench Store.add_scores vs plain sqlite3 executemany, same schema; then build_leaderboard time.")
    print(
        f"data: {len(runs)} runs ({STAINERS} stainers x {SEEDS} seeds) x {len(METRICS)} metrics x "
        f"{n // (len(runs) * len(METRICS))} tiles = {n:,} rows; files in {db_dir}\n"
    )

    raw_s = bench_raw(raw_path, runs)
    store, ids, vb_s, stats_s, write_s = bench_vbench(vb_path, runs)
    raw_rate, vb_rate = n / raw_s, n / vb_s
    ratio = vb_rate / raw_rate
    print(f"raw sqlite3 executemany : {raw_s:8.3f} s  {raw_rate:12,.0f} rows/s")
    print(f"vbench Store.add_scores : {vb_s:8.3f} s  {vb_rate:12,.0f} rows/s")
    print(
        f"ratio vbench/raw        : {ratio:8.3f} x   (target >= {RATIO_TARGET}x)  "
        f"{'PASS' if ratio >= RATIO_TARGET else 'FAIL'}"
    )
    print(
        f"summaries (not in the ratio): {len(ids) * len(METRICS)} x vbench.stats.summarize {stats_s:.3f} s, "
        f"{len(ids)} x Store.finish_run {write_s:.3f} s"
    )

    os.environ["VBENCH_HOME"] = str(db_dir / "vbench-home")  # a cold interval cache
    t0 = time.perf_counter()
    build_leaderboard(store)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    boards = build_leaderboard(store)
    lb_s = time.perf_counter() - t0
    n_rows = sum(len(b.rows) for b in boards)
    print(f"build_leaderboard, cold : {cold_s:8.3f} s  (reads {n:,} per-tile scores, bootstraps seeds and tiles)")
    print(
        f"build_leaderboard, warm : {lb_s:8.3f} s  ({len(boards)} board(s), {n_rows} rows, {len(ids)} runs)  "
        f"(target < {LEADERBOARD_TARGET_S} s)  {'PASS' if lb_s < LEADERBOARD_TARGET_S else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
