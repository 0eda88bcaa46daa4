"""The user's own datasets: ``$VBENCH_HOME/datasets.json`` and, per dataset, the manifest recorded
when it was added (``$VBENCH_HOME/manifests/NAME.json``), which ``vbench datasets verify`` compares
the files with.

Which files make up a dataset is the business of its layout (:class:`vbench.DatasetLayout`, from a
plugin). This module stores which folder is read by which layout with which options, and when the
plugins load it opens every entry through the layout registry.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tempfile
from pathlib import Path

from . import manifest as mf
from .dataset import PAIRINGS, Dataset
from .errors import DatasetError
from .home import vbench_home
from .layouts import detect_layout

REGISTRY_FILE = "datasets.json"
MANIFESTS = "manifests"
SOURCE = "user-datasets"  # how `vbench plugins` lists them; VBENCH_DISABLE_PLUGINS=user-datasets hides them
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def registry_path() -> Path:
    return vbench_home() / REGISTRY_FILE


def manifest_path(name: str) -> Path:
    """Where the manifest recorded by ``add`` for ``name`` lives."""
    return vbench_home() / MANIFESTS / f"{name}.json"


def recorded_manifest(name: str) -> dict | None:
    path = manifest_path(name)
    return mf.read(path) if path.is_file() else None


def check_name(name) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise DatasetError(
            f"invalid dataset name {name!r}: use lower-case letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (e.g. 'my-he-stains')"
        )


def check_options(name: str, *, pairing=None, scale=1, in_channels=None) -> None:
    """The options every layout shares; a layout checks its own."""
    if pairing is not None and pairing not in PAIRINGS:
        raise DatasetError(f"unknown pairing {pairing!r} for dataset {name!r}: use one of {', '.join(PAIRINGS)}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DatasetError(f"scale of dataset {name!r} must be a whole number >= 1, got {scale!r}")
    if in_channels is not None and (
        isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1
    ):
        raise DatasetError(f"in_channels of dataset {name!r} must be a whole number >= 1, got {in_channels!r}")


def registered() -> dict:
    """Name -> {"path", "layout", "pairing", "scale", "in_channels", "modality", "stain"} of every
    registered dataset."""
    path = registry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read the dataset registry {path}: {exc}") from exc
    fix = "Fix it by hand or move it away; vbench does not overwrite it."
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"the dataset registry {path} is not valid JSON ({exc}). {fix}") from exc
    entries = data.get("datasets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise DatasetError(f'the dataset registry {path} lacks a "datasets" object. {fix}')
    for name, entry in entries.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str) and NAME_RE.fullmatch(name)):
            raise DatasetError(f"the dataset registry {path} has a malformed entry {name!r}. {fix}")
    return entries


def _write(entries: dict) -> None:
    path = registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file in the same folder then os.replace: readers never see a half-written file.
    fd, tmp = tempfile.mkstemp(prefix=".datasets-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "datasets": entries}, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def add(
    name,
    path,
    *,
    plugins,
    layout: str = "auto",
    pairing: str | None = None,
    scale: int = 1,
    modality: str = "",
    stain: str = "",
    replace: bool = False,
) -> Dataset:
    """Reads every file of ``path`` through its layout (``auto``: the one layout of ``plugins``
    that recognises it), records the manifest of the files and registers the dataset as ``name``.
    ``plugins`` is a :class:`vbench.plugins.Plugins`: its layouts, and its datasets, whose names
    are taken."""
    check_name(name)
    check_options(name, pairing=pairing, scale=scale)
    layouts = plugins.layouts
    if not layouts.names():
        raise DatasetError(
            f"cannot add dataset {name!r}: no enabled plugin provides a dataset layout. `vbench plugins` "
            f"shows each plugin's status; VBENCH_DISABLE_PLUGINS may have turned folder-datasets off"
        )
    if layout != "auto" and layout not in layouts:
        raise DatasetError(
            f"unknown layout {layout!r} for dataset {name!r}: use one of {', '.join(['auto', *layouts.names()])}"
        )
    entries = registered()
    if name in plugins.datasets and name not in entries:
        raise DatasetError(
            f"a dataset named {name!r} already exists ({plugins.datasets.entry(name).provider}) and "
            f"is not one you registered, so it cannot be replaced; choose another name"
        )
    if name in entries and not replace:
        raise DatasetError(
            f"a dataset named {name!r} is already registered ({entries[name]['path']}); "
            f"choose another name, or replace it (--replace)"
        )
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"cannot add dataset {name!r}: {root} does not exist. Check the path.")
    root = root.resolve()
    if layout == "auto":
        layout = detect_layout(root, [layouts.get(n) for n in layouts.names()], who=f"dataset {name!r}: ")
    reader = layouts.get(layout)
    ds = reader.open(name, root, pairing=pairing, scale=scale, modality=modality, stain=stain)
    reader.check(ds)
    mf.write(manifest_path(name), ds.manifest())
    entries[name] = {
        "path": str(root),
        "layout": layout,
        "pairing": ds.pairing,
        "scale": ds.scale,
        "in_channels": ds.in_channels,
        "modality": ds.modality,
        "stain": ds.stain,
    }
    _write(entries)
    return ds


def remove(name) -> dict:
    """Forgets a registered dataset and its recorded manifest (its files are left alone); returns
    its entry."""
    entries = registered()
    if name not in entries:
        close = difflib.get_close_matches(str(name), list(entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        known = ", ".join(sorted(entries)) or "(none)"
        raise DatasetError(
            f"no dataset named {name!r} is registered in {registry_path()} (only datasets added with "
            f"`vbench datasets add` can be removed).{hint} Registered: {known}"
        )
    entry = entries.pop(name)
    _write(entries)
    with contextlib.suppress(FileNotFoundError):
        manifest_path(name).unlink()
    return entry


def open_registered(layouts) -> list[Dataset]:
    """Every registered dataset, opened by its layout from ``layouts`` (a layout registry). An entry
    that cannot be opened comes back as an :class:`UnavailableDataset` that says why when used."""
    return [open_entry(name, entry, layouts) for name, entry in registered().items()]


def open_entry(name: str, entry: dict, layouts) -> Dataset:
    where = f"dataset {name!r} ({registry_path()})"
    layout = entry.get("layout") or "auto"
    if layout not in layouts and layout != "auto":
        enabled = ", ".join(layouts.names()) or "none"
        return UnavailableDataset(
            name,
            entry,
            (
                f"{where} was added with the {layout!r} layout, which no enabled plugin provides (layouts now: "
                f"{enabled}). Enable the plugin that provides it (`vbench plugins` shows each plugin's status; "
                f"VBENCH_DISABLE_PLUGINS turns plugins off), or `vbench datasets remove {name}`."
            ),
        )
    try:
        check_options(
            name, pairing=entry.get("pairing"), scale=entry.get("scale", 1), in_channels=entry.get("in_channels")
        )
        if layout == "auto":
            layout = detect_layout(Path(entry["path"]), [layouts.get(n) for n in layouts.names()])
        return layouts.get(layout).open(
            name,
            Path(entry["path"]),
            pairing=entry.get("pairing"),
            scale=entry.get("scale", 1),
            in_channels=entry.get("in_channels"),
            modality=entry.get("modality") or "",
            stain=entry.get("stain") or "",
        )
    except DatasetError as exc:
        return UnavailableDataset(name, entry, f"{where}: {exc}")


class UnavailableDataset(Dataset):
    """A registered dataset that cannot be opened now (its layout's plugin is disabled, its entry is
    wrong): listed, so it is not mistaken for an unknown name, and every use raises the reason."""

    task = "?"

    def __init__(self, name: str, entry: dict, reason: str):
        self.name = name
        self.reason = reason
        self.pairing = entry.get("pairing") if entry.get("pairing") in PAIRINGS else "paired"
        self.scale = entry.get("scale") if isinstance(entry.get("scale"), int) else 1
        self.in_channels = entry.get("in_channels") if isinstance(entry.get("in_channels"), int) else 0
        self.modality = str(entry.get("modality") or "")
        self.stain = str(entry.get("stain") or "")
        self.description = f"unavailable: {reason}"

    def load(self, split: str):
        raise DatasetError(self.reason)

    def manifest(self) -> dict:
        raise DatasetError(self.reason)

    def committed_manifest(self) -> dict | None:
        raise DatasetError(self.reason)

    def info(self) -> dict:
        raise DatasetError(self.reason)
