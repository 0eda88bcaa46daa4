"""`vbench score`: score folders of predictions made anywhere, optionally stored as an external run."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError
from .common import DbOption, _plugins, app, check_format, err, out, split_names


@app.command()
def score(
    pred_dir: Path = typer.Argument(..., help="Folder of predicted stains (PNG, TIFF, BMP, JPEG...)"),
    target_dir: Optional[Path] = typer.Argument(None, help="Folder of reference stains, matched by file name"),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", help="Metric (repeatable or comma-separated); default: the pairing's default set"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Score against this dataset's split (file names = tile ids, as `vbench datasets export` writes them)"),
    split: str = typer.Option("test", "--split", help="Split of --dataset"),
    store_run: bool = typer.Option(False, "--store", help="Store the scores as an external run (needs --dataset, --split test and --as)"),
    as_name: Optional[str] = typer.Option(None, "--as", help="Name of the method that made the predictions (stored run's stainer)"),
    db: Optional[str] = DbOption,
    batch_size: int = typer.Option(16, min=1, help="Images per metric batch"),
    seed: int = typer.Option(0, help="Seed of the bootstrap CIs"),
):
    """Score a folder of predictions made anywhere: per-image rows plus the summary (mean, std,
    bootstrap 95% CI). With --dataset, against the dataset's targets (or aligned truth); with
    --store --as NAME, stored as an external run that ranks on the leaderboard."""
    from ..scoring import score as run_scoring

    check_format(fmt)
    if store_run and (dataset is None or as_name is None):
        raise ConfigError("--store needs --dataset NAME and --as METHOD_NAME (the name the run ranks under)")
    if as_name is not None and not store_run:
        raise ConfigError("--as names a stored run; add --store")
    if dataset is not None and target_dir is not None:
        raise ConfigError(f"give either a target folder ({target_dir}) or --dataset {dataset}, not both")
    if store_run and split != "test":
        raise ConfigError(f"only the test split ranks on the leaderboard; use --split test (got {split!r})")

    plugins = _plugins()
    explicit = split_names(metric)
    ds = plugins.datasets.get(dataset) if dataset is not None else None
    if ds is not None:
        items, notes = _dataset_items(ds, split, pred_dir)
    else:
        items, notes = _folder_items(pred_dir, target_dir)
    if explicit:
        chosen = [(n, plugins.metrics.get(n)) for n in explicit]
    else:
        chosen = _default_metrics(plugins, ds, has_reference=all(it.reference is not None for it in items))
    for note in notes:
        err.print(f"[dim]note:[/] {note}", highlight=False)
    err.print(f"scoring {len(items)} image(s) with {', '.join(n for n, _ in chosen)}", highlight=False)
    result = run_scoring(chosen, items, dataset=ds, explicit=bool(explicit), batch_size=batch_size, seed=seed,
                         on_metric=lambda n: err.print(f"[dim]  {n}[/]", highlight=False))
    for s in result.summaries:
        if s["status"] != "computed":
            err.print(f"[yellow]{s['metric']} not computed:[/] {s['reason']}", highlight=False)

    run_id = None
    if store_run:
        run_id = _store_external(db, ds, as_name, pred_dir, result)
        err.print(f"stored as external run {run_id} of {as_name!r} on {ds.name}; `vbench leaderboard -d {ds.name}` "
                  f"ranks it", highlight=False)
    _render_scores(result, fmt, notes, run_id)


def _default_metrics(plugins, ds, has_reference: bool) -> list:
    from ..metric import FULL_REFERENCE
    from ..metrics.base import DISTRIBUTION

    pairing = ds.pairing if ds is not None else ("paired" if has_reference else "unpaired")
    out = []
    for e in plugins.metrics.entries():
        m = plugins.metrics.get(e.name)
        if pairing not in getattr(m, "default_for", ()):
            continue
        if ds is None and not has_reference and m.kind in (FULL_REFERENCE, DISTRIBUTION):
            continue
        out.append((e.name, m))
    return out


def _folder_items(pred_dir: Path, target_dir: Path | None):
    from .. import images
    from ..scoring import Item

    preds = images.images_by_stem(pred_dir, "prediction")
    targets = images.images_by_stem(target_dir, "target") if target_dir is not None else None
    names = images.match(preds, targets, pred_dir, target_dir) if targets is not None else sorted(preds)
    items, bits, gray = [], set(), 0
    for name in names:
        p = images.read(preds[name])
        t = images.read(targets[name]) if targets is not None else None
        if t is not None:
            images.check_pair(p, t)
        for im in (p, t):
            if im is not None:
                bits.add(im.bits)
                gray += im.channels == 1
        ref = t.tensor if t is not None else None
        items.append(Item(name, p.tensor, reference=ref, target=ref, shape=(3, *p.size)))
    return items, _notes(bits, gray)


def _notes(bits: set, gray: int) -> list[str]:
    notes = []
    if 16 in bits:
        notes.append("16-bit images were scaled to [0, 1] by 1/65535 (8-bit by 1/255)")
    if 32 in bits:
        notes.append("floating-point images were used as given (values in [0, 1])")
    if gray:
        notes.append(f"{gray} grayscale image(s) were replicated to 3 channels")
    return notes


def _dataset_items(ds, split: str, pred_dir: Path):
    from ..dataset import SPLITS
    from .. import images
    from ..scoring import Item

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    samples = {s.id: s for s in ds.samples(split)}
    preds = images.images_by_stem(pred_dir, "prediction")
    missing = sorted(set(samples) - set(preds))
    extra = sorted(set(preds) - set(samples))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} {split} tile(s) of {ds.name} have no prediction in {pred_dir}: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"{len(extra)} file(s) in {pred_dir} are not {split} tiles of {ds.name}: "
                         f"{', '.join(preds[n].name for n in extra[:5])}{' ...' if len(extra) > 5 else ''}")
        raise images.ImageInputError(
            "; ".join(parts) + f". Predictions are matched to tiles by file name (= tile id, as `vbench datasets "
            f"export {ds.name} --split {split}` names the inputs); predict every tile and keep only those files")
    aligned = not (ds.pairing == "unpaired" and any(s.truth is None for s in samples.values()))
    items, bits, gray = [], set(), 0
    for tid in sorted(samples):
        s = samples[tid]
        p = images.read(preds[tid])
        ref = s.reference if aligned else None
        expect = tuple((ref if ref is not None else s.target).shape[-2:]) if (ref is not None or s.target is not None) else None
        if expect is not None and p.size != expect:
            raise images.ImageInputError(
                f"prediction {p.path} is {p.size[1]} x {p.size[0]} px but tile {tid} of {ds.name} expects "
                f"{expect[1]} x {expect[0]} px (width x height; scale {ds.scale} x the input). vbench does not "
                f"resample predictions: save them at the target size")
        if p.channels != 3:
            raise images.ImageInputError(
                f"prediction {p.path} is grayscale but {ds.name}'s targets are RGB stains; save predictions as RGB")
        bits.add(p.bits)
        items.append(Item(tid, p.tensor, reference=(lambda r=ref: r.float()) if ref is not None else None,
                          target=(lambda t=s.target: t.float()) if s.target is not None else None,
                          shape=(3, *p.size)))
    return items, _notes(bits, gray)


def _store_external(db, ds, as_name: str, pred_dir: Path, result) -> int:
    import hashlib

    from .. import __version__
    from ..provenance import git_commit, hardware, library_versions
    from ..store import Store

    store = Store(db)
    manifest = ds.manifest_hash
    key = hashlib.sha256(json.dumps(["external", as_name, ds.name, manifest]).encode()).hexdigest()
    run_id = store.create_run(
        stainer=as_name, preset="", params={"predictions": str(Path(pred_dir).resolve())}, run_key=key,
        vbench_version=__version__, git_commit=git_commit(), dataset=ds.name, manifest_hash=manifest,
        dataset_note=getattr(ds, "simulated", "") or "", seed=0, external=True, device=None,
        hardware=hardware("cpu"), libraries=library_versions())
    scores = [(m, tile, v) for m, vals in result.values.items() for tile, v in vals.items()]
    store.finish_run(run_id, scores, result.summaries, n_test_tiles=len(result.ids))
    return run_id


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.6g}"


def _render_scores(result, fmt: str, notes: list[str], run_id: int | None) -> None:
    rows = result.rows()
    names = list(result.values)
    if fmt == "json":
        sys.stdout.write(json.dumps({"images": rows, "summary": result.summaries, "notes": notes, "run_id": run_id},
                                    indent=2) + "\n")
        return
    if fmt == "csv":
        by_metric = {s["metric"]: s for s in result.summaries}
        # set-level (distribution) metrics have no per-image values: only their summary rows
        whole = [m for m, s in by_metric.items() if s["status"] == "computed" and m not in result.values]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["image", *names, *whole])
        for r in rows:
            w.writerow([r["image"], *("" if r[m] is None else repr(r[m]) for m in names), *("" for _ in whole)])
        for stat in ("n", "mean", "std", "ci_low", "ci_high"):
            w.writerow([stat, *("" if by_metric[m].get(stat) is None else by_metric[m][stat] for m in names + whole)])
        sys.stdout.write(buf.getvalue())
        return
    t = Table(title=f"per-image scores ({len(rows)} images)")
    t.add_column("image", overflow="fold")
    for m in names:
        t.add_column(m, justify="right")
    for r in rows:
        t.add_row(r["image"], *(_fmt(r[m]) for m in names))
    out.print(t)
    s = Table(title="summary")
    for col in ("metric", "better", "n", "mean", "std", "95% CI", "pipeline / reason"):
        s.add_column(col, overflow="fold")
    for x in result.summaries:
        ci = f"[{x['ci_low']:.6g}, {x['ci_high']:.6g}]" if x.get("ci_low") is not None else "-"
        s.add_row(x["metric"], "higher" if x["higher_is_better"] else "lower", str(x["n"]), _fmt(x["mean"]),
                  _fmt(x["std"]), ci, x["reason"] or x["pipeline"])
    out.print(s)
