"""A paired comparison of two stored runs on the same test tiles, metric by metric."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError
from .stats import PAIRED_TESTS, paired_compare


@dataclass
class Comparison:
    a: object  # the two runs (store records)
    b: object
    test: str
    alpha: float
    metrics: list[dict] = field(default_factory=list)  # one paired_compare result per metric


def compare_runs(store, run_a: int, run_b: int, metrics: list[str] = (), test: str = "bootstrap",
                 alpha: float = 0.05, seed: int = 0) -> Comparison:
    """Which run is better per metric, by how much (95% CI of the mean difference) and whether it is
    significant. Both runs must be completed and have scored the same split (manifest). Default
    metrics: every metric both computed per tile."""
    if test not in PAIRED_TESTS:
        raise ConfigError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must lie between 0 and 1, got {alpha}")
    a, b = (_completed_run(store, rid) for rid in (run_a, run_b))
    if (a.dataset, a.manifest_hash) != (b.dataset, b.manifest_hash):
        raise ConfigError(
            f"run {a.id} scored {a.dataset} (manifest {str(a.manifest_hash)[:12]}) and run {b.id} scored {b.dataset} "
            f"(manifest {str(b.manifest_hash)[:12]}): a paired test needs the same test tiles")
    sa = {s.metric: s for s in store.summaries([a.id]) if s.status == "computed"}
    sb = {s.metric: s for s in store.summaries([b.id]) if s.status == "computed"}
    result = Comparison(a, b, test, alpha)
    for m in list(metrics) or sorted(set(sa) & set(sb)):
        if m not in sa or m not in sb:
            which = a.id if m not in sa else b.id
            raise ConfigError(f"metric {m!r} was not computed in run {which}; metrics of both: "
                              f"{', '.join(sorted(set(sa) & set(sb))) or '(none)'}")
        va, vb = store.scores(a.id, m), store.scores(b.id, m)
        if not va or not vb:
            continue  # set-level metrics (one number per run) have no per-tile scores to pair
        res = paired_compare(va, vb, higher_is_better=sa[m].higher_is_better, test=test, seed=seed, alpha=alpha)
        res.update(metric=m, higher_is_better=bool(sa[m].higher_is_better), only_a=len(set(va) - set(vb)),
                   only_b=len(set(vb) - set(va)))
        result.metrics.append(res)
    return result


def _completed_run(store, run_id: int):
    run = store.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id} in {store.url}; `vbench runs` lists them")
    if run.status != "completed":
        raise ConfigError(f"run {run_id} is {run.status}, not completed; only completed runs can be compared")
    return run
