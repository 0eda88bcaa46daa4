"""A marker the forkserver imports (see :mod:`vbench.run.processes`) right after the modules a spawned
worker has imported by the time it measures its peak memory (torch, vbench, the plugins, scipy's
statistics) and before those a worker imports only afterwards (FLOP counting's torch._dynamo, the
sample grid's PIL). Importing it records the importing process's resident memory at that point."""

from __future__ import annotations


def resident_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return None


RSS_MB = resident_mb()  # in a worker forked from the server: the server's, inherited with the module
