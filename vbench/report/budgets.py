"""Leaderboards at a matched training budget (``vbench leaderboard --at-budget 300s | 2e15``): for
each method and seed, the test scores of its largest run whose training compute is within the
budget. Nothing is extrapolated: a method with no run within the budget is named, not ranked."""

from __future__ import annotations

from collections import defaultdict

from ..compute import ComputeBudget
from ..run.spec import method_label, stainer_label


def method_key(run) -> tuple:
    """What a budget sweep varies the compute of: the stainer preset without its budget multiple
    (``quick[lr=0.001]@x4`` -> ``quick[lr=0.001]``), on one dataset and manifest."""
    return (run.dataset, run.manifest_hash, run.stainer, method_label(run.preset or ""), bool(run.external))


def within_budget(runs: list, budget: ComputeBudget) -> tuple[list, dict[str, list[str]]]:
    """(the runs a board at ``budget`` uses, {dataset: notes on the methods it cannot place}).

    Per method and seed: the run with the most training compute (``train_seconds`` or
    ``train_flops``) not above the budget; the latest such run on a tie."""
    by_method: dict[tuple, list] = defaultdict(list)
    for r in runs:
        by_method[method_key(r)].append(r)
    chosen, notes = [], defaultdict(list)
    for key, group in sorted(by_method.items(), key=lambda kv: str(kv[0])):
        ds, _manifest, stainer, method, _external = key
        label = stainer_label(stainer, method)
        known = [r for r in group if compute(r, budget) is not None]
        unknown = sorted(r.id for r in group if compute(r, budget) is None)
        if unknown:
            what = "training seconds" if budget.unit == "seconds" else "training FLOPs"
            notes[ds].append(
                f"{label}: run{'s' if len(unknown) > 1 else ''} {', '.join(map(str, unknown))} "
                f"recorded no {what}, so cannot be placed at a budget of {budget}."
            )
        inside = [r for r in known if compute(r, budget) <= budget.amount]
        if not inside and known:
            least = min(compute(r, budget) for r in known)
            notes[ds].append(
                f"{label}: no run within the budget of {budget} (its smallest run used "
                f"{_amount(least, budget)}); it is not ranked here."
            )
        best: dict[int, object] = {}
        for r in sorted(inside, key=lambda r: (compute(r, budget), r.id)):
            best[r.seed] = r
        chosen += best.values()
    return chosen, dict(notes)


def compute(run, budget: ComputeBudget) -> float | None:
    """A run's training compute in the budget's unit; 0 for a stainer that does not train (no step
    budget) and recorded none; None when unknown."""
    value = getattr(run, budget.field)
    if value is None and "steps" not in run.params_dict and not run.external:
        return 0.0
    return value


def footer(budget: ComputeBudget, hardware: list[str]) -> str:
    where = "; ".join(hardware) if hardware else "hardware not recorded"
    return (
        f"At a matched budget of {budget.describe()}: per method and seed, its largest run within the budget "
        f"(never extrapolated). Hardware: {where}."
    )


def _amount(value: float, budget: ComputeBudget) -> str:
    return f"{value:.1f} s" if budget.unit == "seconds" else f"{value:.3g} FLOPs"
