"""Suites: named sweeps in ``vbench/run/suites.toml`` or a user's TOML file with the same keys, each
checked against one schema (:class:`SuiteFile`) before anything is planned."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, UnknownNameError
from ..validation import Name, Seed, one_line, read_text
from ..visible import line

# What each key holds, for messages (the keys' order is the order they are suggested in).
EXPECTED = {
    "stainers": 'a list of stainer names, e.g. stainers = ["baseline-mean", "phasestain:quick[steps=250]"]',
    "datasets": 'a list of dataset names, e.g. datasets = ["qpi-he"]',
    "seeds": "a list of whole numbers in [0, 2^32), e.g. seeds = [0, 1, 2]",
    "metrics": "a list of metric names (`vbench metrics list` shows them; left out: each dataset's default set)",
    "tasks": 'a table mapping each dataset to a list of stainers, e.g. [tasks] then qpi-he = ["baseline-linear"]',
}
Names = Annotated[list[Name], Field(min_length=1)]


class SuiteFile(BaseModel):
    """A suite as written: ``stainers`` and ``datasets`` (every combination), or ``tasks`` (dataset
    -> its stainers); ``seeds`` (default [0]) and ``metrics`` (default: each dataset's set). TOML
    types are taken as they are: ``seeds = ["0"]`` or ``stainers = "a"`` are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    stainers: Names | None = None
    datasets: Names | None = None
    seeds: Annotated[list[Seed], Field(min_length=1)] = [0]
    metrics: list[Name] = []
    tasks: Annotated[dict[Name, Names], Field(min_length=1)] | None = None


@dataclass
class Suite:
    name: str
    stainers: list[str]
    datasets: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    metrics: list[str] = field(default_factory=list)  # empty: each dataset pairing's default set
    tasks: dict[str, list[str]] = field(default_factory=dict)  # dataset -> its stainers, instead of every pair

    def groups(self) -> list[tuple[list[str], list[str]]]:
        """(stainers, datasets) to plan: each task's stainers on its dataset, else all on all."""
        if self.tasks:
            return [(stainers, [dataset]) for dataset, stainers in self.tasks.items()]
        return [(self.stainers, self.datasets)]


def load_suite(name: str) -> Suite:
    """A suite by name (vbench/run/suites.toml) or a path to a TOML file with the same keys: either
    ``stainers`` and ``datasets`` (every combination), or ``tasks`` (dataset = [stainers]). Any
    problem is a one-line :class:`ConfigError` naming the file, the key and what it expects."""
    path = Path(name)
    if path.suffix.lower() == ".toml":
        where = f"suite file {line(path)}"
        if not path.is_file():
            raise ConfigError(f"{where} does not exist (--suite takes a suite name or a .toml file)")
        return suite_from(read_toml(path, where), path.stem, where)
    named = named_suites()
    if name not in named:
        raise UnknownNameError("suite", name, list(named))
    return suite_from(named[name], name, f"suite {name!r} in vbench/run/suites.toml")


def named_suites() -> dict:
    """The bundled suites' tables, by name."""
    return tomllib.loads(resources.files("vbench.run").joinpath("suites.toml").read_text(encoding="utf-8"))


def read_toml(path: Path, where: str) -> dict:
    text = read_text(path, where, ConfigError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).replace("at end of document", f"at the end, line {text.count(chr(10)) + 1}")
        raise ConfigError(f"{where} is not valid TOML: {line(msg)}") from None


def suite_from(data, name: str, where: str) -> Suite:
    """A :class:`Suite` from one suite's table, after checking it against :class:`SuiteFile`."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key not in EXPECTED and isinstance(value, dict):
                raise ConfigError(
                    f"{where}: unknown table [{line(key)}]. A suite file holds one suite's keys at its top level "
                    f"({', '.join(EXPECTED)}), not under a [NAME] table"
                )
    try:
        suite = SuiteFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, where, EXPECTED)) from None
    for key in ("stainers", "datasets", "seeds", "metrics"):
        values = getattr(suite, key) or []
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            raise ConfigError(f"{where}: {key} lists {twice!r} twice; give each once")
    if suite.tasks is not None:
        if suite.stainers is not None or suite.datasets is not None:
            raise ConfigError(f"{where}: give either stainers and datasets, or a tasks table, not both")
        tasks = {dataset: list(stainers) for dataset, stainers in suite.tasks.items()}
        stainers = list(dict.fromkeys(s for v in tasks.values() for s in v))
        return Suite(name, stainers, list(tasks), list(suite.seeds), list(suite.metrics), tasks=tasks)
    for key in ("stainers", "datasets"):
        if getattr(suite, key) is None:
            raise ConfigError(f"{where} has no {key!r} list (or a tasks table). Expected {EXPECTED[key]}")
    return Suite(name, list(suite.stainers), list(suite.datasets), list(suite.seeds), list(suite.metrics))
