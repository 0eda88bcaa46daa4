"""Writing a folder of outputs all at once (``vbench datasets export``, ``vbench publish``,
``vbench leaderboard -f html -o DIR``).

Files are written into a staging folder and moved into place only once every one was written: a
failure (a full disk, a read-only folder, a bad input found half-way) leaves the target as it was,
with nothing half-written in it, so a retry starts clean. The staging folder is a hidden sibling of
a new target (renamed to it at the end) or a hidden folder inside an existing one (its files moved
over the target's, replacing files of the same name). Errors name the folder and what to do.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError

PARTIAL = ".vbench-partial-"


@contextmanager
def staged(target, verb: str, *, empty: bool = False, error: type[Exception] = ConfigError) -> Iterator[Path]:
    """The folder to write into instead of ``target``; ``empty``: ``target`` must be new or empty.
    Raises ``error`` (a VbenchError class) naming the folder when it cannot be written; ``verb``
    (publish, export) says what was being done."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise error(f"cannot {verb} into {target}: it is a file. Pass a folder (it is created if missing).")
    if empty and target.is_dir() and any(target.iterdir()):
        raise error(f"cannot {verb} into {target}: it is not empty. Pass a new or empty folder.")
    inside = target.is_dir()
    stage = _make_stage(target, inside, verb, error)
    try:
        yield stage
        if inside:
            _move_files(stage, target)
        else:
            stage.rename(target)
    except OSError as exc:
        raise error(
            f"cannot write {_shown(exc.filename, stage, target)}: {exc.strerror or exc}. "
            f"Pass a writable folder with room for the files."
        ) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _make_stage(target: Path, inside: bool, verb: str, error) -> Path:
    home = target if inside else target.parent
    stage = home / (PARTIAL + secrets.token_hex(6) if inside else f".{target.name}.{secrets.token_hex(6)}.partial")
    try:
        home.mkdir(parents=True, exist_ok=True)
        stage.mkdir()  # the umask's permissions, which the target keeps when the stage becomes it
    except OSError as exc:
        raise error(
            f"cannot {verb} into {home if home.is_dir() else target}: {exc.strerror or exc}. Pass a writable folder."
        ) from None
    return stage


def _move_files(stage: Path, target: Path) -> None:
    for path in sorted(stage.rglob("*")):
        if path.is_dir():
            continue
        dest = target / path.relative_to(stage)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)


def _shown(filename, stage: Path, target: Path) -> str:
    """A file named by an OSError, with the staging folder shown as the target it stands for."""
    if not filename:
        return str(target)
    path = Path(os.fsdecode(filename))
    return str(target / path.relative_to(stage)) if path.is_relative_to(stage) else str(path)
