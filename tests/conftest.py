"""Shared fixtures. Test plugins are written as real modules into a temporary folder on sys.path,
so that worker processes (spawned per run) can import them by name, as they would a user's."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Every folder where vbench or a library it uses keeps downloaded or built files. A test that read
# the user's copies would pass or fail by what that machine happens to hold (LPIPS weights...).
CACHE_ENV = (
    "VBENCH_HOME",
    "TORCH_HOME",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "TRANSFORMERS_CACHE",
)
_SESSION: dict[str, Path] = {}
SESSION_ROOT = "VBENCH_TEST_SESSION_ROOT"


def pytest_configure(config):
    # A test suite started in the background of a non-interactive shell inherits SIGINT ignored,
    # and so would every `vbench run` it starts: the Ctrl-C tests need Python's own handler back
    # (a handled signal is reset to the default in child processes, an ignored one is not).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # pytest-xdist's workers start with COLUMNS=80 in their environment, which the CLI's consoles
    # (and every `vbench` a test starts) would take as the width of piped output: the suite must
    # see what a plain `pytest` run sees (no COLUMNS: the CLI's wide default).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
    # Before any test module is imported: libraries that read their cache folder once, at import
    # (huggingface_hub), must not see the user's either.
    # Built dataset tiles are shared by the whole session: they depend only on the code, and
    # rebuilding them in every test (and in every run's worker process) would cost minutes. Under
    # pytest-xdist the workers share the controller's folder (passed in the environment, which
    # they inherit), so each dataset is built once per session, not once per worker; the process
    # that made the folder removes it.
    shared = os.environ.get(SESSION_ROOT)
    if shared and Path(shared).is_dir() and os.environ.get("PYTEST_XDIST_WORKER"):
        root = Path(shared)
    else:
        root = Path(tempfile.mkdtemp(prefix="vbench-tests-"))
        (root / "dataset-tiles").mkdir()
        os.environ[SESSION_ROOT] = str(root)
        _SESSION["owned"] = root
    _SESSION["root"] = root
    for var in CACHE_ENV:
        os.environ[var] = str(root / var.lower())


@pytest.fixture(scope="session", autouse=True)
def _torch_threads_per_xdist_worker():
    # pytest-xdist starts one worker per core, and torch in each would start one thread per core:
    # on 2 cores, 2 workers x 2 OpenMP threads spin against each other and the in-process training
    # tests (tiny networks) run several times slower than with one thread. Each worker gets its
    # share of the cores (the modules that train set one thread themselves, too). Only this
    # process's torch: the `vbench` processes a test starts keep their own default.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not os.environ.get("PYTEST_XDIST_WORKER") or workers < 2:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, (os.cpu_count() or 1) // workers)))
    yield
    torch.set_num_threads(threads)


def pytest_unconfigure(config):
    if "owned" in _SESSION:
        shutil.rmtree(_SESSION.pop("owned"), ignore_errors=True)


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'results.db'}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    # Never touch the user's ~/.vbench, caches or ./vbench.db from a test: each test gets its own.
    home = tmp_path / "vbench-home"
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "datasets").symlink_to(_SESSION["root"] / "dataset-tiles", target_is_directory=True)
    monkeypatch.setenv("VBENCH_HOME", str(home))
    for var in CACHE_ENV[1:]:
        monkeypatch.setenv(var, str(tmp_path / "caches" / var.lower()))
    monkeypatch.delenv("VBENCH_DB", raising=False)
    monkeypatch.delenv("VBENCH_DISABLE_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def prerequisite():
    """``prerequisite(reason)`` skips a test whose prerequisite (a server, data files) is missing;
    under ``CI=true``, where every prerequisite is installed on purpose, it fails instead, so a
    check that never ran cannot pass as a skip."""

    def missing(reason: str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: a missing prerequisite fails instead of skipping)", pytrace=False)
        pytest.skip(reason)

    return missing


@pytest.fixture
def unwritable(tmp_path):
    """A folder no file can be created in: a read-only folder, or for root (whom permissions do not
    stop) /sys, where even root cannot create one."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif Path("/sys/kernel").is_dir():
        yield Path("/sys")
    else:  # pragma: no cover - not Linux
        pytest.skip("no folder that root cannot write")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url(prerequisite):
    """A throwaway PostgreSQL server started from the machine's binaries (one per test module): its URL."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins and not shutil.which("initdb"):
        prerequisite("no PostgreSQL server binaries on this machine (apt-get install postgresql)")
    bindir = os.path.dirname(bins[-1]) if bins else os.path.dirname(shutil.which("initdb"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = tempfile.mkdtemp(prefix="vbench-pg-")
    os.chmod(root, 0o777)
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run(
        [*as_user, f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *as_user,
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-w",
            "-l",
            os.path.join(root, "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Writes source code as an importable module and returns its (unique) name."""
    folder = tmp_path / "test-plugins"
    folder.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(folder))

    def make(source: str) -> str:
        name = f"vbtest_{uuid.uuid4().hex[:8]}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield make
    for name in [m for m in sys.modules if m.startswith("vbtest_")]:
        del sys.modules[name]


TINY_DATASET = '''
import torch
import vbench

class Tiny(vbench.Dataset):
    """Paired toy data: target = a fixed colour map of the input, so a linear map fits it."""
    name = "tiny"
    task = "gray->rgb"
    pairing = "paired"
    scale = 1
    in_channels = 1

    def load(self, split):
        g = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
        n, size = {"train": 6, "val": 2, "test": 4}[split], 16
        out = []
        for i in range(n):
            x = torch.rand(1, size, size, generator=g)
            y = torch.cat([x * 0.8 + 0.1, 1 - x * 0.5, x * 0.3 + 0.2])
            out.append(vbench.Sample(id=f"{split}-{i}", input=x, target=y, truth=y))
        return out

@vbench.hookimpl
def vbench_register_datasets(register):
    register(Tiny)
'''


@pytest.fixture
def tiny_dataset(plugin_module):
    """Module name of a plugin registering the paired toy dataset `tiny`."""
    return plugin_module(TINY_DATASET)


@pytest.fixture
def installed_plugin(tmp_path):
    """``installed_plugin(module, source)``: a folder where ``source`` is an installed distribution
    with a ``vbench`` entry point (as pip would leave it); put it on PYTHONPATH of a `vbench`
    subprocess to have the plugin found like a user's."""

    def install(module: str, source: str) -> Path:
        site = tmp_path / "site"
        info = site / f"{module}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[vbench]\n{module} = {module}\n")
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        return site

    return install
