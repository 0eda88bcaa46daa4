"""Seed-aware intervals of leaderboard rows: a two-level bootstrap (seeds, then tiles, or source
images where the runs recorded them) over the stored per-tile scores
(:func:`vbench.stats.hierarchical_bootstrap`), cached per run set.

A row's runs never change once completed, so an interval is keyed by the runs it was computed
from (id, run key and end time: a deleted and re-created id differs) and the metric; the cache is
one JSON file per database under ``$VBENCH_HOME/cache/intervals/``. A warm leaderboard then reads
only runs and summaries, never the per-tile table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile

from ..home import cache_dir
from ..stats import N_RESAMPLES, hierarchical_bootstrap, tile_groups
from ..store.stored_rows import finite

log = logging.getLogger(__name__)
# Part of every cache key: bump when the computation changes, so stale intervals are not reused.
METHOD = f"hierarchical-bootstrap-v3-{N_RESAMPLES}"
MAX_ENTRIES = 20_000


def run_set_key(runs, metric: str) -> str:
    ident = [METHOD, metric] + sorted([r.id, r.run_key, str(r.ended_at)] for r in runs)
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:32]


def intervals(store, wanted: dict[tuple, tuple[list, str]], summaries: dict) -> dict[tuple, dict]:
    """``wanted``: {key: (runs of one row, metric)}, every run with a computed summary of the
    metric. Returns {key: {mean, ci_low, ci_high, n, n_seeds, seed_std, per_tile}}: ``per_tile``
    False where some run stored only its summary (a figure that cannot be checked against tiles)."""
    cache = _Cache(store.display_url)
    out, missing = {}, {}
    for key, (runs, metric) in wanted.items():
        ck = run_set_key(runs, metric)
        hit = cache.get(ck)
        if hit is not None:
            out[key] = hit
        else:
            missing[key] = (runs, metric, ck)
    if missing:
        run_ids = sorted({r.id for runs, _, _ in missing.values() for r in runs})
        metrics = sorted({m for _, m, _ in missing.values()})
        tiles = store.tile_scores(run_ids, metrics)
        for key, (runs, metric, ck) in missing.items():
            out[key] = _interval(runs, metric, tiles, summaries)
            cache.put(ck, out[key])
        cache.save()
    return out


def _interval(runs, metric: str, tiles: dict, summaries: dict) -> dict:
    ordered = sorted(runs, key=lambda r: r.seed)
    # A stored score that is not a finite number (text, infinity) is undefined, as NaN scores are.
    per_seed = [
        {str(t): float(v) if finite(v) else None for t, v in (tiles.get((r.id, metric)) or {}).items()} for r in ordered
    ]
    if all(per_seed):
        # Tiles of one source image are not independent: where the runs recorded the tiles'
        # sources, those are resampled (a cluster bootstrap) instead of tiles.
        # `vbench compare` resamples the same way (vbench.stats.tile_groups, paired_hierarchical).
        sources = [r.tile_sources_dict for r in ordered]
        groups = None
        if all(sources):
            groups = [tile_groups(list(v), src) for src, v in zip(sources, per_seed)]
        return dict(hierarchical_bootstrap([list(v.values()) for v in per_seed], groups), per_tile=True)
    # Figures without per-tile scores (one number per run: fid, nfe): the seeds are the only
    # level to resample; one seed keeps the interval its run stored (or none).
    stored = [summaries[r.id][metric] for r in runs]
    if len(runs) > 1:
        return dict(hierarchical_bootstrap([[s.mean] for s in stored]), per_tile=False)
    (s,) = stored
    return {
        "n": s.n,
        "n_seeds": 1,
        "mean": s.mean,
        "seed_std": None,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "per_tile": False,
    }


class _Cache:
    def __init__(self, url: str):
        self.path = cache_dir("intervals") / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
        self.data: dict = {}
        self.dirty = False
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, key: str):
        value = self.data.get(key)
        return dict(value) if isinstance(value, dict) else None

    def put(self, key: str, value: dict) -> None:
        self.data[key] = value
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        items = list(self.data.items())[-MAX_ENTRIES:]  # oldest first out
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(dict(items), f)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only home only costs speed
            log.debug("could not write the interval cache %s: %s", self.path, exc)
