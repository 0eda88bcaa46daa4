"""The install: the torch stack matches the committed constraints, and nothing shadows anything."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_torch_stack_imports_and_matches_the_constraints_file():
    import pyiqa  # noqa: F401
    import timm  # noqa: F401
    import torch
    import torchvision  # noqa: F401

    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    assert {"torch", "torchvision", "timm", "pyiqa"} <= set(pins)
    for name, version in pins.items():
        assert md.version(name).split("+")[0] == version, name
    assert torch.ones(2).add(1).sum().item() == 4.0  # the CUDA build runs on the CPU


def test_project_folders_never_shadow_installed_packages():
    # pyiqa's wheel installs top-level tests/ docs/ build/ options/; our tests are not a package.
    assert not (REPO / "tests" / "__init__.py").exists()
    assert not (REPO / "datasets" / "__init__.py").exists() and not (REPO / "plugins" / "__init__.py").exists()
    code = (
        "import importlib.util as u; s = u.find_spec('datasets'); "
        "print(s.origin if s and s.origin else list(s.submodule_search_locations) if s else None)"
    )
    origin = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True).stdout
    assert str(REPO / "datasets") + "'" not in origin and "site-packages" in origin
    assert Path(importlib.util.find_spec("vbench_datasets").origin).is_relative_to(REPO / "datasets")
    assert Path(importlib.util.find_spec("vbench_plugins").origin).is_relative_to(REPO / "plugins")


@pytest.mark.slow
def test_plain_pytest_and_python_m_pytest_both_collect(tmp_path):
    for cmd in ([str(Path(sys.executable).with_name("pytest"))], [sys.executable, "-m", "pytest"]):
        res = subprocess.run(
            [*cmd, "--collect-only", "-q", "tests/test_install.py"], cwd=REPO, capture_output=True, text=True
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert "test_torch_stack_imports_and_matches_the_constraints_file" in res.stdout
