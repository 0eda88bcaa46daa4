"""Leaderboards built from the store: one board per dataset and manifest, one row per stainer
preset (and parameters), figures over seeds.

A row's figure for a metric is the mean over its seeds (latest completed run per seed) of each
seed's mean over the test tiles; its 95% interval comes from a two-level bootstrap (seeds, then
tiles within each seed) of the stored per-tile scores (:mod:`.intervals`), so seed-to-seed
variation widens it. With one seed it covers tile variation only, and the board says so. Ranks
are tiers (:mod:`.ranking`).
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields

from ..compute import ComputeBudget
from ..errors import ConfigError
from ..store import Run, Store
from ..store.stored_rows import RUNTIME, checked_summaries, completed_runs
from . import budgets, convergence
from .intervals import intervals
from .ranking import rank


@dataclass
class Board:
    dataset: str
    manifest_hash: str | None
    note: str = ""
    primary: str | None = None
    # name -> {"higher_is_better", "pipeline", "unit", "display_name", "rank_priority"}, in column order
    metrics: dict = field(default_factory=dict)
    hidden: dict = field(default_factory=dict)  # metrics not computed for any row -> why
    rows: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    hardware: list = field(default_factory=list)  # where the runs ran ("CPU: AMD EPYC (2 threads)")
    provenance: dict = field(default_factory=dict)  # vbench versions, commits, database
    figures: list = field(default_factory=list)  # [{"kind", "path"}] relative to a published folder
    label: str = ""  # what a publication says the results are ("CPU, quick presets, ...")
    excluded: list = field(default_factory=list)  # stored runs and figures left out, and why (footer)
    budget: str = ""  # at a matched budget (--at-budget): what the budget is and where the runs ran
    evaluation: str = "tiles"  # tiles, or whole: rows scored on whole-image regions (their own section)

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["primary_metric"] = data.pop("primary")
        for key in ("excluded", "budget"):  # the JSON of a board without them is as before
            if not data[key]:
                del data[key]
        if data["evaluation"] == "tiles":
            del data["evaluation"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Board:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["primary"] = data.get("primary_metric")
        # Boards published before metrics declared their presentation have no unit, display name
        # or rank priority: a unitless metric under its own name, never preferred.
        stored = data.get("metrics") or {}
        kwargs["metrics"] = {
            m: dict(info, **{k: v for k, v in unknown_presentation(m).items() if k not in info})
            for m, info in stored.items()
        }
        return cls(**kwargs)

    @property
    def seeds(self) -> list[int]:
        return sorted({s for r in self.rows for s in r["seeds"]})


def unknown_presentation(metric: str) -> dict:
    """The presentation of a metric no installed plugin registers: unitless, under its name."""
    return {"unit": "", "display_name": metric, "rank_priority": None}


def build_leaderboard(
    store: Store,
    dataset: str | None = None,
    metrics: list[str] | str | None = None,
    plugins=None,
    at_budget: ComputeBudget | None = None,
) -> list[Board]:
    """``metrics``: the metric columns in this order (the first ranks); default every metric
    computed for some row, ranked by the one with the lowest ``rank_priority``, else the first.
    A metric in ``metrics`` that no run stores is an error naming the ones stored. ``at_budget``:
    each method's largest run per seed within that training budget (:mod:`.budgets`).

    Each metric's unit, display name and rank priority come from the registered metric
    (``plugins``, default the installed plugins) and are kept in the board; a metric no plugin
    registers any more is shown unitless under its name."""
    chosen = [metrics] if isinstance(metrics, str) else list(metrics or [])
    if plugins is None:
        from ..plugins import load_plugins

        plugins = load_plugins()
    presented, better = convergence.metric_facts(plugins)
    latest: dict[tuple, Run] = {}
    runs, left_out = completed_runs(store, dataset)
    budget_notes: dict[str, list[str]] = {}
    if at_budget is not None:
        stored = bool(runs)
        runs, budget_notes = budgets.within_budget(runs, at_budget)
        if stored and not runs:
            notes = " ".join(n for ns in budget_notes.values() for n in ns)
            raise ConfigError(f"no completed run is within the budget of {at_budget} ({at_budget.describe()}). {notes}")
    for r in runs:
        key = (r.dataset, r.manifest_hash, r.evaluation or "tiles", r.stainer, r.preset, r.params, r.external, r.seed)
        latest[key] = r
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for key, r in latest.items():
        groups[key[:-1]].append(r)
    checked, unnamed = checked_summaries(store.summaries([r.id for r in latest.values()]))
    curves = store.curves([r.id for r in latest.values()])
    summaries: dict[int, dict] = defaultdict(dict, checked)

    boards: dict[tuple, Board] = {}
    wanted: dict[tuple, tuple[list, str]] = {}
    row_runs: dict[int, list[Run]] = {}
    for (ds, manifest, evaluation, stainer, preset, _params, external), group in sorted(
        groups.items(), key=lambda kv: str(kv[0])
    ):
        group.sort(key=lambda r: r.seed)
        board = boards.setdefault(
            (ds, manifest, evaluation), Board(ds, manifest, note=group[0].dataset_note or "", evaluation=evaluation)
        )
        row = {
            "stainer": stainer,
            "preset": preset,
            "label": group[0].label,
            "external": bool(external),
            "params": group[0].params_dict,
            "seeds": [r.seed for r in group],
            "run_ids": [r.id for r in group],
            "truncated": any(r.truncated for r in group),
            "metrics": {},
            "not_computed": {},
            "samples": {},
        }
        row_runs[id(row)] = group
        for m in sorted({m for r in group for m in summaries[r.id]}):
            rs = [summaries[r.id].get(m) for r in group]
            first = next(s for s in rs if s is not None)
            board.metrics.setdefault(
                m,
                {
                    "higher_is_better": bool(first.higher_is_better),
                    "pipeline": first.pipeline,
                    **presented.get(m, unknown_presentation(m)),
                },
            )
            if all(s is not None and s.status == "computed" and s.mean is not None for s in rs):
                wanted[(id(row), m)] = (group, m)
            else:
                row["not_computed"][m] = (
                    next((s.reason for s in rs if s is not None and s.status != "computed"), None)
                    or "not stored for every seed"
                )
        for f in RUNTIME:
            vals = [getattr(r, f) for r in group if getattr(r, f) is not None]
            row[f] = sum(vals) / len(vals) if vals else None
        found = convergence.verdict([curves[r.id] for r in group if r.id in curves], presented, better)
        row["convergence"] = found.to_dict() if found else None
        board.rows.append(row)

    _check_chosen(chosen, list(boards.values()), dataset)
    found = intervals(store, wanted, summaries)
    for board in boards.values():
        for row in board.rows:
            for m in board.metrics:
                value = found.get((id(row), m))
                if value is not None and value["mean"] is None:  # every stored per-tile score undefined
                    row["not_computed"][m] = "none of its stored per-tile scores is a finite number"
                elif value is not None:
                    row["metrics"][m] = dict(value)
        _disambiguate(board)
        _unchecked(board, row_runs)
        _columns(board, chosen)
        _describe(board, [r for row in board.rows for r in row_runs[id(row)]], store)
        if at_budget is not None:
            board.budget = budgets.footer(at_budget, board.hardware)
            board.excluded += budget_notes.get(board.dataset, [])
        rank(board)
    _warn_manifests(boards.values())
    _note_left_out(list(boards.values()), left_out, unnamed)
    return sorted(boards.values(), key=lambda b: (b.dataset, b.manifest_hash or "", b.evaluation != "tiles"))


def _unchecked(board: Board, row_runs: dict) -> None:
    """A figure stored as a summary without per-tile scores cannot be checked: where other rows of
    the board have per-tile scores of that metric, it is not ranked beside them, but shown as not
    computed and named in the footer."""
    for m in board.metrics:
        have = [row["metrics"][m] for row in board.rows if m in row["metrics"]]
        tiles = any(v.get("per_tile") for v in have)
        for row in board.rows:
            if m in row["metrics"] and not row["metrics"][m].pop("per_tile", True) and tiles:
                del row["metrics"][m]
                row["not_computed"][m] = "stored as a summary without per-tile scores, so it cannot be checked"
                ids = [str(r.id) for r in row_runs[id(row)]]
                runs = f"run{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
                board.excluded.append(
                    f"{m} of {row['label']} ({runs}) is left out: stored as a summary without per-tile scores, "
                    f"it cannot be checked, so it is not ranked beside rows that have them."
                )


def _note_left_out(boards: list[Board], left_out: list, unnamed: dict[int, str]) -> None:
    """Each run a board could not use is named in the footer of its dataset's boards (of every
    board when none has its dataset)."""
    for item in left_out:
        for board in [b for b in boards if b.dataset == item.dataset] or boards:
            board.excluded.append(item.note)
    for run_id, note in unnamed.items():
        for board in [b for b in boards if any(run_id in row["run_ids"] for row in b.rows)] or boards:
            board.excluded.append(note)


def _disambiguate(board: Board) -> None:
    """Rows of one label (a preset run with other parameters) get their parameters appended."""
    counts = Counter(r["label"] for r in board.rows)
    for row in board.rows:
        if counts[row["label"]] > 1:
            row["label"] += f" [{', '.join(f'{k}={v}' for k, v in sorted(row['params'].items()))}]"


def _check_chosen(chosen: list[str], boards: list[Board], dataset: str | None) -> None:
    """A chosen metric that no board stores is a mistake (a typo, or a metric never run)."""
    stored = sorted({m for b in boards for m in b.metrics})
    if not boards:
        return
    for m in chosen:
        if m not in stored:
            close = difflib.get_close_matches(m, stored, n=3, cutoff=0.5)
            raise ConfigError(
                f"no run{f' of dataset {dataset}' if dataset else ''} stores metric {m!r}."
                + (f" Did you mean {', '.join(repr(c) for c in close)}?" if close else "")
                + f" Metrics stored: {', '.join(stored)}."
            )


def preferred(board: Board, candidates: list[str]) -> list[str]:
    """``candidates`` with the metrics that declare a ``rank_priority`` first, lowest first; the
    rest keep their order."""
    ranked = [m for m in candidates if board.metrics[m].get("rank_priority") is not None]
    ranked.sort(key=lambda m: board.metrics[m]["rank_priority"])
    return ranked + [m for m in candidates if m not in ranked]


def _columns(board: Board, chosen: list[str]) -> None:
    """Chooses and orders the metric columns; a metric no row computed becomes a footnote."""
    for m in list(board.metrics):
        if not any(m in r["metrics"] for r in board.rows):
            reasons = Counter(r["not_computed"][m] for r in board.rows if m in r["not_computed"])
            board.hidden[m] = "; ".join(reasons) if reasons else "no row has it"
    if chosen:
        for m in chosen:
            if m not in board.metrics:
                board.warnings.append(f"metric {m} was not computed for any run of {board.dataset}")
        board.metrics = {m: board.metrics[m] for m in chosen if m in board.metrics}
        board.hidden = {m: why for m, why in board.hidden.items() if m in board.metrics}
        board.primary = chosen[0] if chosen[0] in board.metrics and chosen[0] not in board.hidden else None
        if board.primary is None and chosen[0] in board.metrics:
            board.warnings.append(
                f"metric {chosen[0]} was not computed for any run of {board.dataset}; rows are unranked"
            )
    else:
        shown = preferred(board, [m for m in board.metrics if m not in board.hidden])
        board.primary = shown[0] if shown else None
    board.metrics = {m: info for m, info in board.metrics.items() if m not in board.hidden}


def _describe(board: Board, runs: list[Run], store: Store) -> None:
    """Where the board's runs ran and what produced them."""
    places = []
    for r in runs:
        if r.external:
            continue
        hw = r.hardware_dict
        if (r.device or "cpu").startswith("cuda"):
            where = f"GPU: {hw.get('gpu') or r.device}"
        else:
            threads = f" ({r.threads} threads)" if r.threads else ""
            where = f"CPU: {hw.get('cpu') or hw.get('processor') or hw.get('machine') or 'unknown'}{threads}"
        if where not in places:
            places.append(where)
    board.hardware = places
    board.provenance = {
        "vbench_version": sorted({r.vbench_version for r in runs if r.vbench_version}),
        "git_commit": sorted({r.git_commit for r in runs if r.git_commit}),
        "database": store.display_url,
    }


def _warn_manifests(boards) -> None:
    by_dataset = defaultdict(list)
    for board in boards:
        by_dataset[(board.dataset, board.evaluation)].append(board)
    for (ds, _), group in by_dataset.items():
        if len(group) > 1:
            hashes = ", ".join(sorted((b.manifest_hash or "none")[:12] for b in group))
            for b in group:
                b.warnings.append(
                    f"runs of {ds} used {len(group)} different manifests ({hashes}); they are ranked "
                    f"separately because their splits differ and their scores are not comparable"
                )
