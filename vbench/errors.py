"""Errors a user can cause. The CLI prints their message (no traceback) and exits non-zero."""

from __future__ import annotations

import difflib


class VbenchError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 2


class UnknownNameError(VbenchError):
    def __init__(self, kind: str, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}."
        if close:
            msg += f" Did you mean {', '.join(repr(c) for c in close)}?"
        msg += f" Known {kind}s: {', '.join(sorted(known)) or '(none)'}. `vbench plugins` lists them."
        super().__init__(msg)
        self.name = name
        self.suggestions = close


class PluginError(VbenchError):
    """A plugin registered something invalid (duplicate name, wrong base class)."""


class DuplicateNameError(PluginError):
    pass


class DatasetError(VbenchError):
    """A dataset is missing, malformed or inconsistent."""


class OutputError(VbenchError):
    """A stainer's predict returned something the harness cannot score."""


class MetricNotApplicable(VbenchError):
    """A metric cannot be computed here (tiles too small, no reference...). Inside `vbench run`
    it is recorded as 'not computed' with this message; asked for explicitly, it is an error."""


class AssetMissingError(MetricNotApplicable):
    """A file a metric needs (weights, parameters) is not installed."""


class StoreError(VbenchError):
    """The results database cannot be opened or written."""


class SchemaError(StoreError):
    """The database was written by another (newer or unknown) schema."""


class ConfigError(VbenchError):
    """A bad option, preset or suite."""


class RunInterrupted(VbenchError):
    exit_code = 130
