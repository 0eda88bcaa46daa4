"""Predictions made outside vbench: image files read, checked and matched to reference images or
to a dataset's tiles, ready for the scoring engine (``vbench score``)."""

from __future__ import annotations

from pathlib import Path

from . import images
from .dataset import SPLITS
from .errors import ConfigError
from .scoring import Item, default_metrics


def metrics_to_score(plugins, names: list[str], dataset, items: list[Item]) -> list[tuple[str, object]]:
    """The metrics asked for by name, else the default set: the dataset's pairing, or for bare
    folders "paired" when reference images were given and no-reference metrics only when not."""
    if not names:
        has_reference = all(it.reference is not None for it in items)
        if dataset is not None:
            names = default_metrics(plugins.metrics, dataset.pairing, has_reference)
        else:
            names = default_metrics(
                plugins.metrics, "paired" if has_reference else "unpaired", has_reference, has_targets=has_reference
            )
    return [(n, plugins.metrics.get(n)) for n in names]


def folder_items(pred_dir: Path, target_dir: Path | None) -> tuple[list[Item], list[str]]:
    """Predictions in ``pred_dir`` matched by file name to references in ``target_dir`` (if any),
    after the checks that make the comparison fair; plus notes on conversions applied."""
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
    return items, notes_of(bits, gray)


def notes_of(bits: set, gray: int) -> list[str]:
    notes = []
    if 16 in bits:
        notes.append("16-bit images were scaled to [0, 1] by 1/65535 (8-bit by 1/255)")
    if 32 in bits:
        notes.append("floating-point images were used as given (values in [0, 1])")
    if gray:
        notes.append(f"{gray} grayscale image(s) were replicated to 3 channels")
    return notes


def predictions_by_id(pred_dir: Path, ids) -> dict[str, Path]:
    """Prediction files by tile id (file name without extension), in subfolders for ids with folders
    (``img/in0`` -> ``img/in0.png``, as ``vbench datasets export`` writes a CSV dataset's inputs)."""
    folders = sorted({i.rsplit("/", 1)[0] for i in ids if "/" in i})
    if not folders:
        return images.images_by_stem(pred_dir, "prediction")
    if not Path(pred_dir).expanduser().is_dir():
        raise ConfigError(f"prediction folder {pred_dir} does not exist or is not a folder")
    found = images.files_by_stem(pred_dir, "prediction")
    for folder in folders:
        found |= {f"{folder}/{stem}": p for stem, p in images.files_by_stem(Path(pred_dir) / folder).items()}
    if not found:
        raise images.ImageInputError(f"prediction folder {pred_dir} holds no images ({', '.join(images.EXTENSIONS)})")
    return found


def dataset_items(ds, split: str, pred_dir: Path) -> tuple[list[Item], list[str]]:
    """Predictions in ``pred_dir`` matched to the tiles of ``ds``'s ``split`` by file name (= tile
    id, as ``vbench datasets export`` names the inputs): each must be there, at the target size."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    samples = {s.id: s for s in ds.samples(split)}
    preds = predictions_by_id(pred_dir, samples)
    parts = images.unmatched(
        (f"{split} tile(s) of {ds.name} have no prediction in {pred_dir}", sorted(set(samples) - set(preds))),
        (
            f"file(s) in {pred_dir} are not {split} tiles of {ds.name}",
            [preds[n].name for n in sorted(set(preds) - set(samples))],
        ),
    )
    if parts:
        raise images.ImageInputError(
            "; ".join(parts) + f". Predictions are matched to tiles by file name (= tile id, as `vbench datasets "
            f"export {ds.name} --split {split}` names the inputs); predict every tile and keep only those files"
        )
    aligned = not (ds.pairing == "unpaired" and any(s.truth is None for s in samples.values()))
    items, bits, gray = [], set(), 0
    for tid in sorted(samples):
        s = samples[tid]
        p = images.read(preds[tid])
        ref = s.reference if aligned else None
        expect = (
            tuple((ref if ref is not None else s.target).shape[-2:])
            if (ref is not None or s.target is not None)
            else None
        )
        if expect is not None and p.size != expect:
            raise images.ImageInputError(
                f"prediction {p.path} is {p.size[1]} x {p.size[0]} px but tile {tid} of {ds.name} expects "
                f"{expect[1]} x {expect[0]} px (width x height; scale {ds.scale} x the input). vbench does not "
                f"resample predictions: save them at the target size"
            )
        if p.channels != 3:
            raise images.ImageInputError(
                f"prediction {p.path} is grayscale but {ds.name}'s targets are RGB stains; save predictions as RGB"
            )
        bits.add(p.bits)
        items.append(
            Item(
                tid,
                p.tensor,
                reference=(lambda r=ref: r.float()) if ref is not None else None,
                target=(lambda t=s.target: t.float()) if s.target is not None else None,
                shape=(3, *p.size),
            )
        )
    return items, notes_of(bits, gray)
