"""Paired comparisons on the same test tiles, metric by metric: of two stored runs, or of two
methods over the seeds both ran (the seed-aware test: a two-level bootstrap of the per-tile
differences, seeds then tiles, as leaderboard intervals are made). Where the runs recorded their
tiles' source images, source images are resampled instead of tiles, as the leaderboard does: one
implementation, :func:`vbench.stats.paired_hierarchical`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError
from .run.spec import method_label, stainer_label
from .stats import PAIRED_TESTS, paired_compare, paired_hierarchical


@dataclass
class Comparison:
    a: object  # the two runs (store records); for methods, the run of their first common seed
    b: object
    test: str
    alpha: float
    metrics: list[dict] = field(default_factory=list)  # one paired_compare result per metric
    seeds: list[int] = field(default_factory=list)  # methods: the seeds both ran
    labels: tuple[str, str] = ("", "")
    run_ids: tuple[list, list] = ((), ())  # methods: their runs, in seed order


def compare_runs(
    store, run_a: int, run_b: int, metrics: list[str] = (), test: str = "bootstrap", alpha: float = 0.05, seed: int = 0
) -> Comparison:
    """Which run is better per metric, by how much (95% CI of the mean difference) and whether it is
    significant. Both runs must be completed and have scored the same split (manifest). Default
    metrics: every metric both computed per tile. Where the runs recorded their tiles' source
    images, the tests resample (or rank) source images instead of tiles, as the leaderboard does."""
    if test not in PAIRED_TESTS:
        raise ConfigError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must lie between 0 and 1, got {alpha}")
    a, b = (_completed_run(store, rid) for rid in (run_a, run_b))
    if (a.dataset, a.manifest_hash) != (b.dataset, b.manifest_hash):
        raise ConfigError(
            f"run {a.id} scored {a.dataset} (manifest {str(a.manifest_hash)[:12]}) and run {b.id} scored {b.dataset} "
            f"(manifest {str(b.manifest_hash)[:12]}): a paired test needs the same test tiles"
        )
    sa = {s.metric: s for s in store.summaries([a.id]) if s.status == "computed"}
    sb = {s.metric: s for s in store.summaries([b.id]) if s.status == "computed"}
    result = Comparison(a, b, test, alpha)
    for m in list(metrics) or sorted(set(sa) & set(sb)):
        if m not in sa or m not in sb:
            which = a.id if m not in sa else b.id
            raise ConfigError(
                f"metric {m!r} was not computed in run {which}; metrics of both: "
                f"{', '.join(sorted(set(sa) & set(sb))) or '(none)'}"
            )
        va, vb = store.scores(a.id, m), store.scores(b.id, m)
        if not va or not vb:
            continue  # set-level metrics (one number per run) have no per-tile scores to pair
        res = paired_compare(va, vb, sa[m].higher_is_better, test=test, seed=seed, alpha=alpha, sources=_sources(a, b))
        res.update(
            metric=m,
            higher_is_better=bool(sa[m].higher_is_better),
            only_a=len(set(va) - set(vb)),
            only_b=len(set(vb) - set(va)),
        )
        result.metrics.append(res)
    return result


def _sources(a, b) -> dict | None:
    """{tile: source image} of a pair of runs on the same tiles: what either recorded (a's first)."""
    merged = {**_recorded(b), **_recorded(a)}
    return merged or None


def _recorded(run) -> dict:
    try:
        sources = run.tile_sources_dict
    except ValueError:  # not JSON: as if nothing was recorded
        return {}
    return sources if isinstance(sources, dict) else {}


def _completed_run(store, run_id: int):
    run = store.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id} in {store.display_url}; `vbench runs` lists them")
    if run.status != "completed":
        raise ConfigError(f"run {run_id} is {run.status}, not completed; only completed runs can be compared")
    return run


def compare_methods(
    store,
    method_a: str,
    method_b: str,
    dataset: str | None = None,
    metrics: list[str] = (),
    alpha: float = 0.05,
    seed: int = 0,
    at_budget=None,
) -> Comparison:
    """Two methods (``stainer`` or ``stainer:preset``, as leaderboards label them) over the seeds
    both completed on one dataset and manifest (latest run per seed; with ``at_budget``, a
    :class:`vbench.compute.ComputeBudget`, each method's largest run per seed within it, the method
    named without its budget multiple, as ``vbench leaderboard --at-budget``): per metric, the mean
    difference a - b with a 95% interval and p-value from a two-level bootstrap that resamples
    seeds, then tiles (or their source images, where recorded) within each seed
    (:func:`vbench.stats.paired_hierarchical`)."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must lie between 0 and 1, got {alpha}")
    runs = store.runs(status="completed", dataset=dataset)
    label = stainer_label
    if at_budget is not None:
        from .report.budgets import within_budget

        runs = within_budget(runs, at_budget)[0]

        def label(stainer, preset):
            return stainer_label(stainer, method_label(preset))

    a_runs, b_runs = (_method_runs(runs, m, dataset, label) for m in (method_a, method_b))
    common = sorted({r.manifest_hash for r in a_runs} & {r.manifest_hash for r in b_runs}, key=str)
    if not common:
        raise ConfigError(
            f"{method_a} and {method_b} never scored the same split: {method_a} ran on "
            f"{_where(a_runs)}, {method_b} on {_where(b_runs)}; a paired test needs the same test tiles"
        )
    if len(common) > 1:
        raise ConfigError(
            f"{method_a} and {method_b} both ran on {len(common)} splits ({_where(a_runs)}); choose one with --dataset"
        )
    by_seed_a = _latest_per_seed(r for r in a_runs if r.manifest_hash == common[0])
    by_seed_b = _latest_per_seed(r for r in b_runs if r.manifest_hash == common[0])
    seeds = sorted(set(by_seed_a) & set(by_seed_b))
    if not seeds:
        raise ConfigError(
            f"{method_a} ran seeds {sorted(by_seed_a)} and {method_b} seeds {sorted(by_seed_b)}: "
            f"no seed in common to pair; run the missing seeds with `vbench run --seed N`"
        )
    pa, pb = [by_seed_a[s] for s in seeds], [by_seed_b[s] for s in seeds]
    sa = _computed(store, pa)
    sb = _computed(store, pb)
    result = Comparison(
        pa[0],
        pb[0],
        "hierarchical-bootstrap",
        alpha,
        seeds=seeds,
        labels=(method_a, method_b),
        run_ids=([r.id for r in pa], [r.id for r in pb]),
    )
    both = sorted(set(sa) & set(sb))
    for m in list(metrics) or both:
        if m not in both:
            raise ConfigError(
                f"metric {m!r} was not computed for every seed of both methods; metrics of both: "
                f"{', '.join(both) or '(none)'}"
            )
        tiles = store.tile_scores([r.id for r in pa + pb], [m])
        va, vb = [tiles.get((r.id, m), {}) for r in pa], [tiles.get((r.id, m), {}) for r in pb]
        if not any(va) or not any(vb):
            continue  # set-level metrics (one number per run) have no per-tile scores to pair
        sources = [_sources(x, y) for x, y in zip(pa, pb)]
        res = paired_hierarchical(va, vb, higher_is_better=sa[m], seed=seed, alpha=alpha, sources=sources)
        res.update(
            metric=m,
            higher_is_better=bool(sa[m]),
            only_a=sum(len(set(x) - set(y)) for x, y in zip(va, vb)),
            only_b=sum(len(set(y) - set(x)) for x, y in zip(va, vb)),
        )
        result.metrics.append(res)
    return result


def _method_runs(runs, method: str, dataset: str | None, label=stainer_label) -> list:
    """Runs labelled ``method``; a bare stainer name also matches its one preset that ran."""
    found = [r for r in runs if label(r.stainer, r.preset) == method]
    if not found and ":" not in method:
        found = [r for r in runs if r.stainer == method]
        labels = sorted({label(r.stainer, r.preset) for r in found})
        if len(labels) > 1:
            raise ConfigError(f"{method} ran with {len(labels)} presets ({', '.join(labels)}); name one")
    if not found:
        known = sorted({label(r.stainer, r.preset) for r in runs})
        where = f" on {dataset}" if dataset else ""
        raise ConfigError(
            f"no completed runs of {method!r}{where}; methods with completed runs: {', '.join(known) or '(none)'}"
        )
    return found


def _where(runs) -> str:
    return ", ".join(sorted({f"{r.dataset} (manifest {str(r.manifest_hash)[:12]})" for r in runs}))


def _latest_per_seed(runs) -> dict:
    out = {}
    for r in sorted(runs, key=lambda r: r.id):
        out[r.seed] = r
    return out


def _computed(store, runs) -> dict[str, bool]:
    """{metric: higher_is_better} of the metrics every run computed."""
    per_run = [{s.metric: s.higher_is_better for s in store.summaries([r.id]) if s.status == "computed"} for r in runs]
    common = set.intersection(*(set(p) for p in per_run)) if per_run else set()
    return {m: per_run[0][m] for m in common}
