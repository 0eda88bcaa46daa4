"""Builds the plugin manager: entry points of group ``vbench`` plus explicitly given plugins."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs, user_datasets
from .dataset import Dataset
from .errors import DatasetError, PluginError
from .layouts import DatasetLayout
from .metric import Metric
from .registry import Registry
from .stainer import Stainer

ENTRY_POINT_GROUP = "vbench"
DISABLE_ENV = "VBENCH_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    dist: str | None = None
    version: str | None = None
    status: str = "ok"  # ok | broken | disabled
    error: str = ""
    module: str = ""
    registered: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)

    @property
    def provider(self) -> str:
        return f"{self.name} ({self.dist} {self.version})" if self.dist else self.name


class Plugins:
    """The loaded plugins and their typed registries."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.stainers = Registry("stainer", Stainer, instances=False)
        self.datasets = Registry("dataset", Dataset, instances=True)
        self.metrics = Registry("metric", Metric, instances=True)
        self.layouts = Registry("layout", DatasetLayout, instances=True)
        self.infos: dict[str, PluginInfo] = {}

    def info_for(self, kind: str, name: str) -> PluginInfo | None:
        registry = {"stainer": self.stainers, "dataset": self.datasets, "metric": self.metrics, "layout": self.layouts}[
            kind
        ]
        provider = registry.entry(name).provider
        return next((i for i in self.infos.values() if i.provider == provider), None)

    def explicit_modules(self) -> list[str]:
        """Importable modules registered without an entry point (re-registered in worker processes)."""
        return [i.module for i in self.infos.values() if i.dist is None and i.status == "ok" and i.module]


def disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {n.strip() for n in raw.split(",") if n.strip()}


def _short_error(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last


def load_plugins(extra: Iterable[Any] = (), entry_points: bool = True) -> Plugins:
    """Build a fresh plugin manager. ``extra`` are plugin modules/objects or importable module names."""
    plugins = Plugins()
    disabled = disabled_names()
    pending: list[tuple[PluginInfo, Any]] = []

    if entry_points:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.metadata["Name"] if ep.dist else None
            info = PluginInfo(ep.name, dist, ep.dist.version if ep.dist else None, module=ep.value)
            if ep.name in plugins.infos:
                info.status, info.error = "broken", f"entry point name {ep.name!r} is used twice"
                plugins.infos[f"{ep.name}@{dist}"] = info
                continue
            plugins.infos[ep.name] = info
            if ep.name in disabled or (dist and dist in disabled):
                info.status = "disabled"
                plugins.pm.set_blocked(ep.name)
                continue
            try:
                pending.append((info, ep.load()))
            except Exception as exc:  # a broken third-party plugin must not take the CLI down
                info.status, info.error = "broken", f"import failed: {_short_error(exc)}"

    for obj in extra:
        if isinstance(obj, str):
            obj = importlib.import_module(obj)
        name = getattr(obj, "__name__", None) or type(obj).__name__
        info = PluginInfo(name, module=name if hasattr(obj, "__spec__") else "")
        plugins.infos[name] = info
        if name in disabled:
            info.status = "disabled"
            continue
        pending.append((info, obj))

    for info, obj in pending:
        try:
            plugins.pm.register(obj, name=info.name)
        except Exception as exc:
            info.status, info.error = "broken", f"invalid hooks: {_short_error(exc)}"
    _drop_unknown_hooks(plugins)

    by_name = {i.name: i for i in plugins.infos.values()}
    registries = (plugins.stainers, plugins.datasets, plugins.metrics, plugins.layouts)
    for hook, registry, kind in (
        (plugins.pm.hook.vbench_register_layouts, plugins.layouts, "layout"),
        (plugins.pm.hook.vbench_register_stainers, plugins.stainers, "stainer"),
        (plugins.pm.hook.vbench_register_datasets, plugins.datasets, "dataset"),
        (plugins.pm.hook.vbench_register_metrics, plugins.metrics, "metric"),
    ):
        # Called one plugin at a time, in load order, so each registration knows its provider.
        for impl in hook.get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.status != "ok":
                continue

            def register(obj, _info=info, _registry=registry, _kind=kind):
                _registry.add(obj, _info.provider)
                _info.registered.append((_kind, obj.name))

            try:
                impl.function(register=register)
            except Exception as exc:
                info.status = "broken"
                info.error = str(exc) if isinstance(exc, PluginError) else f"{kind} hook failed: {_short_error(exc)}"
                for reg in registries:
                    reg.drop_provider(info.provider)
                info.registered.clear()
    _register_user_datasets(plugins, disabled)
    for reg in registries:
        reg.freeze()
    return plugins


def _register_user_datasets(plugins: Plugins, disabled: set[str]) -> None:
    """The datasets of ``vbench datasets add``, opened through the layouts registered above. Listed
    as their own provider, ``user-datasets``; no module, since a worker process reads the registry
    file itself."""
    info = PluginInfo(user_datasets.SOURCE)
    plugins.infos[info.name] = info
    if info.name in disabled:
        info.status = "disabled"
        return
    try:
        found = user_datasets.open_registered(plugins.layouts)
    except DatasetError as exc:  # an unreadable datasets.json must not take the CLI down
        info.status, info.error = "broken", str(exc)
        return
    for ds in found:
        try:
            plugins.datasets.add(ds, info.provider)
        except PluginError as exc:  # a plugin now provides the same name: the plugin's dataset stays
            info.status, info.error = "broken", str(exc)
            continue
        info.registered.append(("dataset", ds.name))


def _drop_unknown_hooks(plugins: Plugins) -> None:
    """Hook implementations with a misspelt name are reported as broken (pluggy check_pending)."""
    while True:
        try:
            plugins.pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = plugins.pm.get_name(exc.plugin)
            plugins.pm.unregister(exc.plugin)
            info = next(i for i in plugins.infos.values() if i.name == name)
            info.status, info.error = "broken", f"invalid hooks: {exc}"
