"""Suites: named sweeps in ``vbench/run/suites.toml`` or a user's TOML file with the same keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, UnknownNameError


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
    ``stainers`` and ``datasets`` (every combination), or ``tasks`` (dataset = [stainers])."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"suite file {path} does not exist")
        data, table = tomllib.loads(path.read_text()), path.stem
    else:
        data = tomllib.loads(resources.files("vbench.run").joinpath("suites.toml").read_text())
        if name not in data:
            raise UnknownNameError("suite", name, list(data))
        data, table = data[name], name
    seeds, metrics = [int(s) for s in data.get("seeds", [0])], list(data.get("metrics", []))
    tasks = data.get("tasks")
    if tasks is not None:
        if not isinstance(tasks, dict) or not tasks or not all(isinstance(v, list) and v for v in tasks.values()):
            raise ConfigError(
                f"suite {name!r}: tasks must map each dataset to a list of stainers, "
                f'e.g. [{table}.tasks] then qpi-he = ["baseline-linear", "phasestain:quick"]'
            )
        stainers = list(dict.fromkeys(s for v in tasks.values() for s in v))
        return Suite(table, stainers, list(tasks), seeds, metrics, tasks={k: list(v) for k, v in tasks.items()})
    try:
        return Suite(table, list(data["stainers"]), list(data["datasets"]), seeds, metrics)
    except KeyError as exc:
        raise ConfigError(f"suite {name!r} has no {exc.args[0]!r} list (or a tasks table)") from None
