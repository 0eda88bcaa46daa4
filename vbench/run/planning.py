"""Planning a sweep: ``stainer:preset+variant`` names, presets, ``--set`` grids, datasets and
seeds resolved into :class:`~vbench.run.spec.RunSpec` objects."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ..dataset import whole_regions
from ..errors import ConfigError, UnknownNameError
from ..plugins import Plugins
from .options import check_options
from .overrides import combinations, declarations, scaled, split_preset
from .spec import PRECISIONS, RunSpec, split_budget, split_precision
from .suites import Suite


def plan_suite(
    plugins: Plugins, suite: Suite, seeds: list[int] | None = None, metrics: list[str] | None = None, **options
) -> list[RunSpec]:
    """Every run of a suite (:func:`plan` per task), stored with the suite's name."""
    return [
        spec
        for stainers, datasets in suite.groups()
        for spec in plan(
            plugins,
            stainers,
            datasets,
            seeds or suite.seeds,
            metrics=metrics or suite.metrics,
            suite=suite.name,
            **options,
        )
    ]


def split_stainer(text: str) -> tuple[str, str, list[str]]:
    """``name[:preset][+variant...]`` -> (name, preset, variants); the preset may carry changed
    parameters (``quick[steps=250]``, see :func:`vbench.run.overrides.split_preset`)."""
    name, _, rest = text.partition(":")
    if "+" in name:
        name, _, extra = name.partition("+")
        rest = "+" + extra
    preset, *variants = rest.split("+")
    return name, preset, [v for v in variants if v]


def plan(
    plugins: Plugins,
    stainers: list[str],
    datasets: list[str],
    seeds: list[int],
    *,
    metrics: list[str] = (),
    device: str = "cpu",
    max_seconds: float | None = None,
    repeats: int | None = None,
    batch_size: int = 8,
    suite: str | None = None,
    artifacts_root: str = "vbench-artifacts",
    strict: bool = False,
    warn: Callable[[str], None] = lambda m: None,
    settings: dict[str, list] | None = None,
    budgets: list[float] | None = None,
    curve: bool = True,
    precision: str | None = None,
    evaluation: str = "tiles",
    whole: dict | None = None,
) -> list[RunSpec]:
    """Resolves names, presets and variants. A stainer/dataset pair the stainer cannot handle
    (pairing or scale) is an error when ``strict`` (the user named both), else skipped with a warning.
    ``settings`` (``vbench.run.overrides.parse`` of ``--set``) override preset parameters; every
    combination of their values is its own run. ``budgets``: multiples of each preset's step budget
    (``--budgets``; a ``NAME:PRESET@xN`` names one), each its own run with every budget-scaled
    parameter and the preset's seconds cap multiplied. Seeds, the device, ``max_seconds``, every
    ``--set`` value and the budgets are checked (:mod:`vbench.run.options`) before any spec is made.
    ``precision``: ``fp32`` or ``bf16`` (``NAME:PRESET@bf16`` names it per stainer); None: bf16 on
    CUDA for stainers that declare ``bf16 = True``, else fp32. ``evaluation``: ``tiles`` (the test
    tiles) or ``whole`` (the dataset's whole-image test regions, predicted on tiles of ``whole``'s
    ``tile`` input px overlapping by ``overlap``, blended by ``blend``; default: ``vbench predict``'s)."""
    check_options(list(seeds), device, max_seconds)
    if evaluation not in ("tiles", "whole"):
        raise ConfigError(f"--eval {evaluation!r}: use tiles (the test tiles) or whole (whole-image test regions)")
    for m in metrics:
        plugins.metrics.entry(m)
    specs = []
    for text in stainers:
        name, preset, variants = split_stainer(text)
        preset, pinned_precision = split_precision(preset)  # quick@bf16: the label's form of --precision
        preset, pinned_budget = split_budget(preset)  # quick@x4: the label's form of --budgets 4
        preset, pinned = split_preset(preset)  # quick[steps=250]: the label's form of --set
        cls = plugins.stainers.get(name)
        presets = dict(getattr(cls, "presets", {}) or {})
        if preset and preset not in presets:
            raise UnknownNameError(f"preset of {name}", preset, list(presets))
        if not preset and presets:
            preset = next(iter(presets))
        grid = combinations(name, presets, preset, {**pinned, **(settings or {})}, declarations(cls))
        params = dict(presets.get(preset, {}))
        cap = params.pop("max_seconds", None)
        multiples = [pinned_budget] if pinned_budget is not None else list(budgets or [None])
        if pinned_budget is not None and not 0 < pinned_budget < float("inf"):
            raise ConfigError(f"{text}: the budget multiple must be a positive number, e.g. {name}:{preset}@x4")
        if multiples != [None] and not any("steps" in p for p in [params, *grid]):
            raise ConfigError(
                f"{'--budgets' if pinned_budget is None else text}: {name} does not train (its preset "
                f"{preset or '(none)'!r} has no step budget), so it has no budget to multiply. Name the "
                f"stainers that train with -s, or give each its budget in a suite as NAME:PRESET@x4"
            )
        known_variants = dict(getattr(cls, "variants", {}) or {})
        eval_params: dict = {}
        for v in variants:
            if v not in known_variants:
                raise UnknownNameError(f"evaluation variant of {name}", v, list(known_variants))
            eval_params.update(known_variants[v])
        n_repeats = repeats if repeats is not None else int(getattr(cls, "repeats", 1) or 1)
        chosen = pinned_precision or precision
        if chosen is None:
            chosen = "bf16" if device.startswith("cuda") and getattr(cls, "bf16", False) else "fp32"
        if chosen not in PRECISIONS:
            raise ConfigError(f"--precision {chosen!r}: use {' or '.join(PRECISIONS)}")
        info = plugins.info_for("stainer", name)
        plugin = f"{info.dist} {info.version}" if info and info.dist else None
        for ds_name in datasets:
            ds = plugins.datasets.get(ds_name)
            settings_whole = whole_settings(ds, whole) if evaluation == "whole" else {}
            if evaluation == "whole" and not whole_regions(ds):
                problem = f"dataset {ds_name} declares no whole-image test regions (`vbench datasets show {ds_name}`)"
                if strict:
                    raise ConfigError(f"--eval whole: {problem}; evaluate it on its test tiles (--eval tiles)")
                warn(f"skipping {name} on {ds_name}: {problem}")
                continue
            pairings = set(getattr(cls, "pairings", {"paired"}))
            scales = getattr(cls, "scales", None)
            problem = None
            if ds.pairing not in pairings:
                problem = f"{name} supports {', '.join(sorted(pairings))} data, {ds_name} is {ds.pairing}"
            elif scales is not None and ds.scale not in scales:
                problem = f"{name} produces output/input scales {sorted(scales)}, {ds_name} needs scale {ds.scale}"
            if problem:
                if strict:
                    raise ConfigError(f"cannot run {name} on {ds_name}: {problem}. Choose another dataset or stainer.")
                warn(f"skipping {name} on {ds_name}: {problem}")
                continue
            for overrides, multiple, seed in itertools.product(grid, multiples, seeds):
                specs.append(
                    RunSpec(
                        stainer=name,
                        dataset=ds_name,
                        seed=seed,
                        preset=preset,
                        params=scaled({**params, **overrides}, multiple, declarations(cls)),
                        budget=None if multiple is None else float(multiple),
                        curve=curve,
                        precision=chosen,
                        evaluation=evaluation,
                        whole=settings_whole,
                        overrides=overrides,
                        variants=variants,
                        eval_params=eval_params,
                        repeats=n_repeats,
                        plugin=plugin,
                        metrics=list(metrics),
                        device=device,
                        max_seconds=max_seconds if max_seconds is not None else _times(cap, multiple),
                        batch_size=batch_size,
                        suite=suite,
                        artifacts_root=artifacts_root,
                    )
                )
    if not specs:
        raise ConfigError("nothing to run: no stainer supports the pairing/scale of the chosen datasets")
    return specs


def _times(cap: float | None, multiple: float | None) -> float | None:
    """A preset's seconds cap at a budget multiple: a x4 run gets four times the time."""
    return cap if cap is None or multiple is None else cap * multiple


def whole_settings(dataset, given: dict | None) -> dict:
    """Whole-image evaluation's tiling on ``dataset``: ``vbench predict``'s defaults (512 output px
    per tile, an eighth of it overlapping, Hann blending) where not given; checked (one-line errors)."""
    from ..predict import check_tiling

    given = {k: v for k, v in (given or {}).items() if v is not None}
    tile = int(given.get("tile") or max(16, 512 // max(int(dataset.scale), 1)))
    overlap = int(given["overlap"]) if "overlap" in given else tile // 8
    blend = str(given.get("blend") or "hann")
    check_tiling(tile, overlap, blend)
    return {"tile": tile, "overlap": overlap, "blend": blend}
