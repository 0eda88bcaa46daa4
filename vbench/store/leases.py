"""Run leases: a run being executed has an owner (host, pid, attempt) and a heartbeat taken from the
database clock, so several `vbench run --resume` processes can share one database.

A run is claimed atomically: in one transaction (``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on the run key on PostgreSQL) the claim checks that no completed run and no live
lease exist for the run key (with ``--resume``), marks runs whose lease expired as failed, and
creates the new run with its owner and first heartbeat. While the run executes, its driver renews
the heartbeat; finishing checks the owner, so a run whose lease was lost cannot write.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from .models import Run

LEASE_ENV = "VBENCH_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120.0


def lease_seconds() -> float:
    """How long a run's lease lasts without a heartbeat (``VBENCH_LEASE_SECONDS``, default 120)."""
    return float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_SECONDS)


@dataclass
class Claim:
    run_id: int | None  # the new run, or None when the run key was not claimed
    reason: str = ""  # why not: "already completed (run N)", "running elsewhere (...)"
    existing: int | None = None  # the run that made the claim unnecessary
    owner: str = ""


def owner_name(attempt: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{attempt}"


def db_now(conn) -> datetime:
    """The database's clock (UTC, naive), so hosts with skewed clocks agree on lease expiry."""
    now = conn.execute(select(func.now())).scalar()
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now


def claim(store, run_key: str, fields: dict, resume: bool) -> Claim:
    """Creates the run ``fields`` describe, owned by this process, unless ``resume`` and the key is
    already completed or leased by a live owner. Runs of the key whose lease expired are marked
    failed with the reason first."""
    with store.database_errors("write"), store.locked(run_key) as conn:
        now = db_now(conn)
        rows = conn.execute(
            select(Run.id, Run.status, Run.owner, Run.heartbeat).where(Run.run_key == run_key).order_by(Run.id)
        ).all()
        expiry = now - timedelta(seconds=lease_seconds())
        if resume:
            done = [r for r in rows if r.status == "completed"]
            if done:
                return Claim(None, f"already completed (run {done[-1].id})", done[-1].id)
            live = [r for r in rows if r.status == "running" and r.heartbeat is not None and r.heartbeat > expiry]
            if live:
                r = live[-1]
                return Claim(
                    None,
                    f"running elsewhere (run {r.id}, owner {r.owner}, last heartbeat {r.heartbeat:%H:%M:%S} UTC)",
                    r.id,
                )
        for r in rows:
            if r.status == "running" and (r.heartbeat is None or r.heartbeat <= expiry):
                conn.execute(
                    update(Run)
                    .where(Run.id == r.id, Run.status == "running")
                    .values(
                        status="failed",
                        ended_at=now,
                        error=f"lease expired: owner {r.owner or '(none)'} stopped renewing it (last heartbeat "
                        f"{r.heartbeat or 'never'}); the run was taken over by {owner_name(len(rows) + 1)}",
                    )
                )
        owner = owner_name(len(rows) + 1)
        row = dict(store.row(fields), run_key=run_key, status="running", owner=owner, heartbeat=now)
        run_id = conn.execute(insert(Run).values(**row)).inserted_primary_key[0]
        return Claim(run_id, owner=owner)


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
