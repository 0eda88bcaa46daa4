"""Ranks stainers per dataset from stored run summaries (never from the per-tile table, so it
stays fast with millions of scores).

Seeds: a stainer preset's figure is the mean over its seeds (latest completed run per seed) and
its 95% CI the mean of the seeds' bootstrap CI bounds. The spread of a mean of estimates is at most
the mean of their spreads, so this interval is conservative (never narrower than the true one).
Ranks: an entry's rank is 1 + the number of entries whose CI lies entirely on the better side of
its own; entries whose CIs overlap share a rank and are marked tied.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..store import Run, Store

RUNTIME_FIELDS = ("train_seconds", "train_samples_per_s", "infer_ms_p50", "infer_ms_p95", "tiles_per_s",
                  "peak_mem_mb", "n_params", "flops_per_tile")
PREFERRED_PRIMARY = ("psnr", "ssim")


@dataclass
class Board:
    dataset: str
    manifest_hash: str | None
    note: str = ""
    primary: str | None = None
    metrics: dict = field(default_factory=dict)  # name -> {"higher_is_better", "pipeline"}
    rows: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "manifest_hash": self.manifest_hash, "note": self.note,
                "primary_metric": self.primary, "metrics": self.metrics, "rows": self.rows,
                "warnings": self.warnings}


def build_leaderboard(store: Store, dataset: str | None = None, metric: str | None = None) -> list[Board]:
    runs = store.runs(status="completed", dataset=dataset)
    # latest completed run per (dataset, manifest, stainer, preset, params, seed)
    latest: dict[tuple, Run] = {}
    for r in runs:
        latest[(r.dataset, r.manifest_hash, r.stainer, r.preset, r.params, r.external, r.seed)] = r
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for key, r in latest.items():
        groups[key[:-1]].append(r)
    summaries = defaultdict(dict)
    for s in store.summaries([r.id for r in latest.values()]):
        summaries[s.run_id][s.metric] = s

    boards: dict[tuple, Board] = {}
    labels_per_board: dict[tuple, dict[str, int]] = defaultdict(dict)
    for (ds, manifest, stainer, preset, params, external), group in sorted(groups.items(), key=lambda kv: str(kv[0])):
        board = boards.setdefault((ds, manifest), Board(ds, manifest, note=group[0].dataset_note or ""))
        row = {"stainer": stainer, "preset": preset, "label": group[0].label,
               "external": bool(external), "params": group[0].params_dict,
               "seeds": sorted(r.seed for r in group), "run_ids": sorted(r.id for r in group),
               "truncated": any(r.truncated for r in group), "metrics": {}, "not_computed": {}}
        seen = labels_per_board[(ds, manifest)]
        seen[row["label"]] = seen.get(row["label"], 0) + 1
        names = sorted({m for r in group for m in summaries[r.id]})
        for m in names:
            rs = [summaries[r.id].get(m) for r in group]
            done = [s for s in rs if s is not None and s.status == "computed" and s.mean is not None]
            first = next(s for s in rs if s is not None)
            board.metrics.setdefault(m, {"higher_is_better": first.higher_is_better, "pipeline": first.pipeline})
            if len(done) < len(group):
                reason = next((s.reason for s in rs if s is not None and s.status != "computed"), "missing")
                row["not_computed"][m] = reason
                continue
            k = len(done)
            row["metrics"][m] = {
                "mean": sum(s.mean for s in done) / k,
                "std": sum(s.std or 0.0 for s in done) / k,
                # summaries without a CI (nfe: one figure per run) keep none
                "ci_low": None if any(s.ci_low is None for s in done) else sum(s.ci_low for s in done) / k,
                "ci_high": None if any(s.ci_high is None for s in done) else sum(s.ci_high for s in done) / k,
                "n": sum(s.n for s in done),
            }
        for f in RUNTIME_FIELDS:
            vals = [getattr(r, f) for r in group if getattr(r, f) is not None]
            row[f] = sum(vals) / len(vals) if vals else None
        board.rows.append(row)

    for (ds, manifest), board in boards.items():
        for label, count in labels_per_board[(ds, manifest)].items():
            if count > 1:
                for row in board.rows:
                    if row["label"] == label:
                        row["label"] += f" [{', '.join(f'{k}={v}' for k, v in sorted(row['params'].items()))}]"
        _rank(board, metric)

    by_dataset = defaultdict(list)
    for board in boards.values():
        by_dataset[board.dataset].append(board)
    for ds, group in by_dataset.items():
        if len(group) > 1:
            hashes = ", ".join(sorted((b.manifest_hash or "none")[:12] for b in group))
            for b in group:
                b.warnings.append(
                    f"runs of {ds} used {len(group)} different manifests ({hashes}); they are ranked "
                    f"separately because their splits differ and their scores are not comparable")
    return sorted(boards.values(), key=lambda b: (b.dataset, b.manifest_hash or ""))


def _bounds(m: dict) -> dict:
    """A figure without a CI ranks by its mean alone."""
    if m["ci_low"] is None or m["ci_high"] is None:
        return {"ci_low": m["mean"], "ci_high": m["mean"]}
    return m


def _rank(board: Board, metric: str | None) -> None:
    names = list(board.metrics)
    if metric is not None:
        primary = metric if metric in board.metrics else None
        if primary is None:
            board.warnings.append(f"metric {metric!r} was not computed for {board.dataset}; rows are unranked")
    else:
        primary = next((m for m in PREFERRED_PRIMARY if m in names), names[0] if names else None)
    board.primary = primary
    if primary is None:
        return
    better = 1.0 if board.metrics[primary]["higher_is_better"] else -1.0
    scored = [r for r in board.rows if primary in r["metrics"]]
    for r in board.rows:
        r["rank"], r["tied"] = None, False
    for r in scored:
        mine = _bounds(r["metrics"][primary])
        beaten_by = 0
        for o in scored:
            other = _bounds(o["metrics"][primary])
            if better > 0 and other["ci_low"] > mine["ci_high"]:
                beaten_by += 1
            elif better < 0 and other["ci_high"] < mine["ci_low"]:
                beaten_by += 1
        r["rank"] = 1 + beaten_by
    counts = defaultdict(int)
    for r in scored:
        counts[r["rank"]] += 1
    for r in scored:
        r["tied"] = counts[r["rank"]] > 1
    board.rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0,
                                   -better * r["metrics"].get(primary, {}).get("mean", 0.0), r["label"]))
