"""The layout rules of docs/architecture.md that a reader relies on: no module reaches into another's
private names, and no two modules share a name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = [REPO / "vbench", REPO / "plugins" / "vbench_plugins", REPO / "datasets" / "vbench_datasets"]
# A CLI module is named after its command group (vbench/cli/compare.py is `vbench compare`), and
# each method plugin keeps its stainer and its training loop in stainer.py and train.py.
SHARED_NAMES = {"__init__.py", "__main__.py", "stainer.py", "train.py"}


def _modules():
    return [p for base in PACKAGES for p in base.rglob("*.py")]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in [*_modules(), *(REPO / "benchmarks").glob("*.py")]:
        tree = ast.parse(path.read_text())
        imported_modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found += [
                    f"{path.relative_to(REPO)}:{node.lineno} imports {a.name}" for a in node.names if _private(a.name)
                ]
                imported_modules |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.relative_to(REPO)}:{node.lineno} imports {a.name}"
                    for a in node.names
                    if any(_private(part) for part in a.name.split("."))
                ]
                imported_modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and node.value.id not in {"os", "sys", "forkserver"}
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not found, "private names used from another module:\n" + "\n".join(found)


def test_no_two_modules_share_a_name():
    where = defaultdict(list)
    for path in _modules():
        if path.name in SHARED_NAMES or path.parent.name == "cli":
            continue
        where[path.name].append(str(path.relative_to(REPO)))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, f"modules that share a name (rename one so each says what it holds): {clashes}"


def test_each_dataset_plugin_is_its_own_package():
    import importlib.metadata as md

    points = {e.name: e.value for e in md.entry_points(group="vbench")}
    for name in ("folder-datasets", "tissue-datasets"):
        module = points[name]
        assert (REPO / "datasets" / Path(*module.split("."))).joinpath("__init__.py").is_file(), module
