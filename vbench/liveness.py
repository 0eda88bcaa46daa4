"""Whether a process on this machine is still running, known by its pid and start time, so that a pid
the system reused for a newer process is not taken for the one that had it.

Used by a run's worker to watch its driver (:mod:`vbench.run.processes`) and by a run's claim to
see that the lease holder is gone (:mod:`vbench.store.leases`). Linux's ``/proc`` gives a
process's start time; without it a process's start time is unknown (None).
"""

from __future__ import annotations

import hashlib
import os
from functools import cache


def stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process from /proc; None when it does not
    exist or there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (OSError, ValueError, OverflowError):
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), fields[19].decode()


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None when unknown."""
    found = stat(pid)
    return found[1] if found else None


def running(pid: int, start: str | None) -> bool:
    """True while process ``pid`` runs and is the one that started at ``start``: False when it is
    gone, a zombie, or its pid now belongs to a newer process. A process /proc does not show (another
    user's, where /proc hides them) or a system without /proc: the pid alone is checked."""
    if pid <= 0:
        return False
    if os.path.isdir("/proc/self"):
        now = stat(pid)
        if now is not None:
            return now[0] not in ("Z", "X") and start is not None and now[1] == start
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # it exists, as another user's
        pass
    return True


@cache
def process_table() -> str:
    """A short name for the process table this process sees: the boot and the pid namespace, so
    that pids and start times are compared only where they mean the same process (not after a
    reboot, nor across containers that share a host name). Empty when unknown."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        space = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return hashlib.sha256(f"{boot} {space}".encode()).hexdigest()[:8]
