"""Typed registries of stainers, datasets and metrics, frozen after start-up."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from .errors import DuplicateNameError, PluginError, UnknownNameError


@dataclass
class Entry:
    name: str
    obj: Any  # a class (stainers; datasets/metrics may be classes or instances)
    provider: str


class Registry:
    def __init__(self, kind: str, base: type, instances: bool):
        self.kind = kind
        self.base = base
        self.instances = instances  # whether instances (not only classes) are accepted
        self._entries: dict[str, Entry] = {}
        self._frozen = False

    def add(self, obj: Any, provider: str) -> None:
        if self._frozen:
            raise PluginError(f"the {self.kind} registry is frozen; register {self.kind}s in a hook")
        cls = obj if inspect.isclass(obj) else type(obj)
        if not inspect.isclass(obj) and not self.instances:
            raise PluginError(f"{provider} registered {obj!r}: register the {self.kind} class, not an instance")
        if not issubclass(cls, self.base):
            raise PluginError(
                f"{provider} registered {cls.__module__}.{cls.__qualname__} as a {self.kind}, but it does "
                f"not subclass {self.base.__module__.split('.')[0]}.{self.base.__name__}"
            )
        name = getattr(obj, "name", "")
        if not isinstance(name, str) or not name:
            raise PluginError(f"{provider} registered {cls.__qualname__} without a `name`")
        if name in self._entries:
            other = self._entries[name].provider
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is registered twice: by {other} and by {provider}. "
                f"Uninstall or disable one of them (VBENCH_DISABLE_PLUGINS={provider.split(' ')[0]})."
            )
        self._entries[name] = Entry(name, obj, provider)

    def freeze(self) -> None:
        self._frozen = True

    def drop_provider(self, provider: str) -> None:
        for name in [n for n, e in self._entries.items() if e.provider == provider]:
            del self._entries[name]

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, list(self._entries))
        return self._entries[name]

    def get(self, name: str) -> Any:
        """The registered class or instance; instances are created once for classes where allowed."""
        e = self.entry(name)
        if self.instances and inspect.isclass(e.obj):
            e.obj = e.obj()
        return e.obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return name in self._entries
