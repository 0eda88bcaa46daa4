"""Run leases: a run being executed has an owner (host, process and attempt) and a heartbeat taken
from the database clock, so several `vbench run --resume` processes can share one database.

A run is claimed atomically: in one transaction (``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on the run key on PostgreSQL) the claim checks that no completed run and no live
lease exist for the run key (with ``--resume``), marks runs whose owner is gone as failed, and
creates the new run with its owner and first heartbeat. An owner is gone when its lease expired
(no heartbeat for ``VBENCH_LEASE_SECONDS``) or, at once, when it ran on this machine and its
process is no longer running: the owner names its pid and the process's start time (and the
machine's process table), so a pid reused by a newer process is not taken for it. While the run
executes, its driver renews the heartbeat; finishing checks the owner, so a run whose lease was
lost cannot write.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from .. import liveness
from .models import Run

LEASE_ENV = "VBENCH_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120.0
HOST_CHARS = 100  # owner is VARCHAR(160): host, pid, start time, process table, attempt


def lease_seconds() -> float:
    """How long a run's lease lasts without a heartbeat (``VBENCH_LEASE_SECONDS``, default 120)."""
    return float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_SECONDS)


@dataclass
class Claim:
    run_id: int | None  # the new run, or None when the run key was not claimed
    reason: str = ""  # why not: "already completed (run N)", "running elsewhere (...)"
    existing: int | None = None  # the run that made the claim unnecessary
    owner: str = ""
    expires: datetime | None = None  # held by a live owner: when its lease expires (database clock, UTC)
    expires_in: float | None = None  # ... and in how many seconds, measured on the database clock


@dataclass(frozen=True)
class Owner:
    """A lease holder: ``host:pid@start/table:attempt`` (older vbench: ``host:pid:attempt``)."""

    host: str
    pid: int
    start: str | None  # the process's start time (clock ticks since boot); None: unknown
    table: str | None  # the process table it ran in (boot and pid namespace: liveness.process_table)
    attempt: str

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """None when ``text`` is not an owner vbench wrote (then only the lease expiry applies)."""
        try:
            host, proc, attempt = (text or "").rsplit(":", 2)
            pid, _, ident = proc.partition("@")
            start, _, table = ident.partition("/")
            number = int(pid)
        except ValueError:
            return None
        return cls(host, number, start or None, table or None, attempt) if number > 0 else None

    def checkable(self) -> bool:
        """Whether this process can tell if the owner's process runs: the same host and process
        table, and a known start time."""
        here = liveness.process_table()
        return self.host == _host() and bool(self.start) and bool(here) and self.table == here

    def gone(self) -> bool:
        """True only when this process can tell (:meth:`checkable`) and no process with the owner's
        pid and start time runs."""
        return self.checkable() and not liveness.running(self.pid, self.start)


def _host() -> str:
    return socket.gethostname()[:HOST_CHARS]


def owner_name(attempt: int) -> str:
    """This process as a lease owner; without a known start time, the older ``host:pid:attempt``."""
    pid, start, table = os.getpid(), liveness.start_time(os.getpid()), liveness.process_table()
    ident = f"{pid}@{start}/{table}" if start and table else str(pid)
    return f"{_host()}:{ident}:{attempt}"


def db_now(conn) -> datetime:
    """The database's clock (UTC, naive), so hosts with skewed clocks agree on lease expiry."""
    now = conn.execute(select(func.now())).scalar()
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now


def claim(store, run_key: str, fields: dict, resume: bool) -> Claim:
    """Creates the run ``fields`` describe, owned by this process, unless ``resume`` and the key is
    already completed or leased by a live owner. Runs of the key whose owner is gone (lease expired,
    or its process on this machine no longer running) are marked failed with the reason first."""
    with store.database_errors("write"), store.locked(run_key) as conn:
        now = db_now(conn)
        rows = conn.execute(
            select(Run.id, Run.status, Run.owner, Run.heartbeat).where(Run.run_key == run_key).order_by(Run.id)
        ).all()
        owner = owner_name(len(rows) + 1)
        lease = timedelta(seconds=lease_seconds())
        running = [r for r in rows if r.status == "running"]
        ended = {r.id: why for r in running if (why := _gone(r, now - lease, owner))}
        if resume:
            done = [r for r in rows if r.status == "completed"]
            if done:
                return Claim(None, f"already completed (run {done[-1].id})", done[-1].id)
            live = [r for r in running if r.id not in ended]
            if live:
                r = live[-1]
                expires = r.heartbeat + lease
                return Claim(
                    None,
                    f"running elsewhere (run {r.id}, owner {r.owner}{_where(r.owner)}, last heartbeat "
                    f"{r.heartbeat:%H:%M:%S} UTC; its lease expires at {expires:%H:%M:%S} UTC, database clock, "
                    f"unless renewed)",
                    r.id,
                    expires=expires,
                    expires_in=max(0.0, (expires - now).total_seconds()),
                )
        for run_id, why in ended.items():
            done_now = dict(status="failed", ended_at=now, error=why)
            conn.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(**done_now))
        row = dict(store.row(fields), run_key=run_key, status="running", owner=owner, heartbeat=now)
        run_id = conn.execute(insert(Run).values(**row)).inserted_primary_key[0]
        return Claim(run_id, owner=owner)


def _gone(r, expiry: datetime, successor: str) -> str:
    """Why run ``r``'s owner no longer holds it ("" while it does)."""
    if r.heartbeat is None or r.heartbeat <= expiry:
        return (
            f"lease expired: owner {r.owner or '(none)'} stopped renewing it (last heartbeat "
            f"{r.heartbeat or 'never'}); the run was taken over by {successor}"
        )
    holder = Owner.parse(r.owner)
    if holder is not None and holder.gone():
        return (
            f"owner gone: its owner, pid {holder.pid} on this host, is gone (owner {r.owner}, last heartbeat "
            f"{r.heartbeat}); the run was taken over by {successor}"
        )
    return ""


def _where(owner: str | None) -> str:
    holder = Owner.parse(owner)
    if holder is None:
        return ", not an owner this vbench can check"
    if holder.host != _host():
        return ", on another host"
    if holder.checkable():
        return f", a live process on this host (pid {holder.pid})"
    return f", pid {holder.pid} on this host, which this process cannot check: it waits for the lease"


def renew(store, run_id: int, owner: str) -> bool:
    """Renews the lease; False when the run is no longer this owner's running run."""
    with store.database_errors("write"), store.engine.begin() as conn:
        res = conn.execute(
            update(Run)
            .where(Run.id == run_id, Run.owner == owner, Run.status == "running")
            .values(heartbeat=db_now(conn))
        )
        return res.rowcount == 1


class Heartbeat:
    """Renews a run's lease every quarter lease while the ``with`` block runs."""

    def __init__(self, store, run_id: int, owner: str):
        self.store, self.run_id, self.owner = store, run_id, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"vbench-heartbeat-{run_id}")

    def _loop(self) -> None:
        while not self._stop.wait(lease_seconds() / 4):
            try:
                if not renew(self.store, self.run_id, self.owner):
                    return
            except Exception:  # a busy database: the next beat tries again
                continue

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
