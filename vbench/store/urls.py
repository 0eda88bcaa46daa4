"""Database URLs: how one is shown or recorded (its password hidden, by SQLAlchemy's own rendering:
:func:`display_url`, the one place), the passwords a driver's message may repeat, and the file a
SQLite URL opens."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import NoSuchModuleError

from ..errors import StoreError

SECRET_QUERY = ("password", "passwd", "pwd", "sslpassword")  # query keys that carry a password
SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (or another SQLAlchemy URL whose driver is installed)"


def display_url(url: str) -> str:
    """A database URL as vbench shows or records it anywhere (messages, tables, leaderboards): its
    password, in the URL or its query, hidden by SQLAlchemy's own rendering. The one place."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: mask what looks like a password
        url = re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)
        return re.sub(rf"(?i)\b({'|'.join(SECRET_QUERY)})=[^&]*", r"\1=***", url)
    hidden = {k: "***" for k in parsed.query if k.lower() in SECRET_QUERY}
    if parsed.password is None and not hidden:
        return url  # nothing to hide: as written (rendering would escape a file: URI's colon)
    rendered = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return rendered.replace("%2A%2A%2A", "***")


def engine(url: str, connect_args: dict) -> Engine:
    """SQLAlchemy's engine for ``url``; an unknown scheme or a missing driver is a one-line error."""
    name = make_url(url).drivername
    try:
        return create_engine(url, connect_args=connect_args)
    except NoSuchModuleError:
        raise StoreError(f"unknown database scheme {name!r} in {display_url(url)}: use {SUPPORTED}") from None
    except ImportError as exc:
        raise StoreError(
            f"the driver of {name!r} is not installed ({scrubbed(url, str(exc))}): install it, or use {SUPPORTED}"
        ) from None
    except (TypeError, ValueError) as exc:  # an option in the URL's query the driver does not take
        raise StoreError(f"cannot use the database URL {display_url(url)}: {scrubbed(url, str(exc))}") from None


def scrubbed(url: str, text: str) -> str:
    """``text`` (a driver's message) with the passwords of ``url``, wherever they appear, as ``***``."""
    for secret in passwords(url):
        text = text.replace(secret, "***")
    return text


def passwords(url: str) -> list[str]:
    """The passwords in ``url`` as they may appear in a driver's message (decoded and as written)."""
    from urllib.parse import quote

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        return []
    found = [parsed.password] if parsed.password else []
    found += [str(v) for k, v in parsed.query.items() if k.lower() in SECRET_QUERY and v]
    return [s for f in found for s in {str(f), quote(str(f), safe="")} if s]


def sqlite_file(parsed) -> Path | None:
    """The file a SQLite URL opens: its database, or the path of a ``file:`` URI (``?uri=true``);
    None in memory."""
    from urllib.parse import unquote

    database = parsed.database
    if database in (None, "", ":memory:"):
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        if parsed.query.get("mode") == "memory":
            return None
        rest = database.removeprefix("file:")
        if rest.startswith("//"):  # file://HOST/PATH: the path after the (empty or local) host
            rest = "/" + rest[2:].partition("/")[2]
        return Path(unquote(rest.partition("?")[0]))
    return Path(database)
