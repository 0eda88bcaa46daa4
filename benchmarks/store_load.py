"""Store under load: concurrent writer processes claiming runs and storing their results.

Run:  .venv/bin/python benchmarks/store_load.py [--writers 8] [--runs 50] [--tiles 500]
                                                [--sqlite-dir DIR] [--pg-url URL | --no-pg]

Each of W writer processes claims runs through vbench.store.leases.claim (with --resume, as
`vbench run --resume` does) and finishes each with Store.finish_run (per-tile scores of one metric,
its summary and the run's fields, in one transaction). The W x R run keys are split into W blocks;
writer i tries its own block, then writer i+1's, so every key is contended by two writers and each
must end up completed exactly once. Writers import and open the store first, then start together;
rows/s is per-tile score rows over the time from that start until the last writer finished.

Prints rows/s for SQLite (a fresh WAL file) and PostgreSQL side by side. Without --pg-url a
throwaway PostgreSQL server is started from the machine's binaries (as the tests do), if any.
tests/test_load.py runs :func:`measure` and checks every row.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

METRIC = "psnr"


def keys(writers: int, runs: int) -> list[str]:
    return [f"load-{k:05d}" for k in range(writers * runs)]


def writer(url: str, index: int, writers: int, runs: int, tiles: int, go: str) -> None:
    """One writer process: prints "ready", waits for the file ``go``, then claims and finishes runs;
    prints one JSON line: the keys it completed, its start and end (time.time())."""
    from vbench.store import Store
    from vbench.store.leases import claim

    store = Store(url)
    names = [f"slide_{t // 100:02d}/tile_{t:05d}" for t in range(tiles)]
    own = keys(writers, runs)
    mine = (
        own[index * runs : (index + 1) * runs]
        + own[((index + 1) % writers) * runs : ((index + 1) % writers + 1) * runs]
    )
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    start, done = time.time(), []
    for n, key in enumerate(mine):
        fields = dict(stainer=f"writer{index}", vbench_version="load", dataset="load", seed=n, run_key=key)
        c = claim(store, key, fields, resume=True)
        if c.run_id is None:  # completed or held by the other writer of this block
            continue
        values = [(METRIC, t, 20.0 + (n * 7919 + j) % 1000 / 100.0) for j, t in enumerate(names)]
        mean = sum(v for _, _, v in values) / tiles
        store.finish_run(
            c.run_id,
            values,
            [dict(metric=METRIC, status="computed", n=tiles, mean=mean)],
            owner=c.owner,
            n_test_tiles=tiles,
        )
        done.append(key)
    print(json.dumps({"done": done, "start": start, "end": time.time()}), flush=True)


def measure(url: str, writers: int = 8, runs: int = 50, tiles: int = 500) -> dict:
    """Runs the writers against ``url`` (a fresh database) and returns rows, seconds, rows/s,
    each writer's report and its stderr."""
    from vbench.store import Store

    Store(url).engine.dispose()  # the schema exists before the writers start
    with tempfile.TemporaryDirectory() as tmp:
        go = os.path.join(tmp, "go")
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--writer", url, str(i), str(writers), str(runs), str(tiles), go],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(writers)
        ]
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != "ready":  # it died importing or opening the store
                for q in procs:
                    q.kill()
                raise RuntimeError(f"a writer did not start: {line}{p.communicate()[1]}")
        Path(go).touch()
        outs = [p.communicate(timeout=600) for p in procs]
    reports = [
        json.loads(out.strip().splitlines()[-1]) if p.returncode == 0 else None for p, (out, _) in zip(procs, outs)
    ]
    ok = [r for r in reports if r]
    seconds = max(r["end"] for r in ok) - min(r["start"] for r in ok) if ok else float("nan")
    rows = sum(len(r["done"]) for r in ok) * tiles
    return dict(
        url=url,
        writers=writers,
        runs=runs,
        tiles=tiles,
        rows=rows,
        seconds=seconds,
        rows_per_s=rows / seconds if ok and seconds > 0 else float("nan"),
        reports=reports,
        returncodes=[p.returncode for p in procs],
        stderr=[err for _, err in outs],
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres():
    """A PostgreSQL server in a temporary folder, from the machine's binaries: its URL (None if none)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins and not shutil.which("initdb"):
        yield None
        return
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--runs", type=int, default=50, help="runs per writer")
    ap.add_argument("--tiles", type=int, default=500, help="per-tile scores per run")
    ap.add_argument("--sqlite-dir", default=None, help="folder for the SQLite file (default: a temporary one)")
    ap.add_argument("--pg-url", default=None, help="an empty PostgreSQL database (default: a throwaway server)")
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    size = dict(writers=args.writers, runs=args.runs, tiles=args.tiles)
    results = []
    with tempfile.TemporaryDirectory(dir=args.sqlite_dir) as tmp:
        results.append(("SQLite", measure(f"sqlite:///{tmp}/load.db", **size)))
    if not args.no_pg:
        with nullcontext(args.pg_url) if args.pg_url else throwaway_postgres() as url:
            if url is None:
                print("no PostgreSQL server binaries: PostgreSQL skipped", file=sys.stderr)
            else:
                results.append(("PostgreSQL", measure(url, **size)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.writers} writers x {args.runs} runs x {args.tiles} tiles (load average {load:.1f}, "
        f"{os.cpu_count()} CPUs)"
    )
    print(f"{'backend':<12}{'rows':>10}{'seconds':>10}{'rows/s':>10}  failed writers")
    for name, r in results:
        failed = [i for i, code in enumerate(r["returncodes"]) if code != 0]
        print(f"{name:<12}{r['rows']:>10}{r['seconds']:>10.2f}{r['rows_per_s']:>10.0f}  {failed or '-'}")
        for i in failed:
            print(f"  writer {i}: {r['stderr'][i].strip().splitlines()[-1:]}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        url, index, writers, runs, tiles, go = sys.argv[2:8]
        writer(url, int(index), int(writers), int(runs), int(tiles), go)
    else:
        main()
