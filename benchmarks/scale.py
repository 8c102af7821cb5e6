"""Scale benchmark: 256 ranks on 32 simulated hosts write one run into ONE PostgreSQL ledger.

Run: ``.venv/bin/python benchmarks/scale.py`` (``make bench`` runs it). It starts a throwaway
PostgreSQL server on 127.0.0.1 (Debian's ``postgresql``: ``make postgres``), then 32 host
processes of 8 rank threads each; every rank is a real :class:`carbonledger.Tracker` with its
own connection, fake sensors per host (a CPU package and RAM, shared by the host's ranks, and
8 GPUs, one per rank) and torchrun's environment. It checks and prints:

- no lost or double-counted samples: the sample rows in the database equal the samples the
  ranks wrote, with no (device, time) twice, and the run's energy equals the sum over the
  distinct devices (each host's CPU and RAM once, each GPU once);
- the per-sample write cost (wall time of the ranks' appends of signed batches per sample);
- the ledger's summary time for the whole run; writes a rank journalled because the
  database was too slow for it (see docs/ledger.md) are replayed first, as `carbonledger
  sync` would.

Bounded: ``--seconds`` (default 20) of sampling at ``--interval`` (default 1 s).
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HOSTS, RANKS_PER_HOST = 32, 8
CPU_J, RAM_J, GPU_J = 1000.0, 100.0, 3000.0


class StepSensor:
    """A counter reading 0 J at its first read and ``energy_j`` after (hardware edge fake)."""

    def __init__(self, info: Any, energy_j: float) -> None:
        self.info, self.energy_j, self._reads = info, energy_j, 0
        self._lock = threading.Lock()

    def read(self) -> Any:
        from carbonledger.models import Reading

        with self._lock:
            self._reads += 1
            return Reading(time.monotonic(), 0.0 if self._reads == 1 else self.energy_j)

    def close(self) -> None:
        pass


def timed_ledger(url: str) -> Any:
    """The rank's PostgreSQL ledger, with its appends of samples counted and timed."""
    from carbonledger.events import SamplesAdded
    from carbonledger.ledger import Ledger
    from carbonledger.ledger.transports import open_transport

    class TimedLedger(Ledger):
        samples, calls, write_s = 0, 0, 0.0

        def append(self, batches: Any) -> int:
            n = sum(
                len(e.samples)
                for b in batches
                for e in b.decode().events
                if isinstance(e, SamplesAdded)
            )
            # counted before the write: a write that fails goes to the journal, replayed later
            self.samples += n
            self.calls += 1
            t0 = time.perf_counter()
            try:
                return super().append(batches)
            finally:
                self.write_s += time.perf_counter() - t0

    return TimedLedger(open_transport(url, timeout_s=120))


def _rank(host: int, local: int, url: str, seconds: float, interval_s: float, out: list) -> None:
    import carbonledger as cl
    from carbonledger.models import SensorInfo

    name = f"host{host:02d}"
    sensors = [
        StepSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True), CPU_J),
        StepSensor(SensorInfo("ram", "ram", "ram-model", False, host_wide=True), RAM_J),
    ] + [
        StepSensor(SensorInfo("gpu", f"gpu:{g}", "nvml", True, uid=f"{name}-GPU-{g}"), GPU_J)
        for g in range(RANKS_PER_HOST)
    ]
    env = {**os.environ, "TORCHELASTIC_RUN_ID": "scale", "LOCAL_RANK": str(local),
           "RANK": str(host * RANKS_PER_HOST + local)}  # fmt: skip
    ledger = timed_ledger(url)
    tracker = cl.Tracker("scale", sensors=sensors, ledger=ledger, host=name, env=env,  # type: ignore[arg-type]
                         interval_s=interval_s, grid_g_per_kwh=100, handle_signals=False)  # fmt: skip
    with tracker:
        time.sleep(seconds)
    ledger.close()
    out.append({"samples": ledger.samples, "calls": ledger.calls, "write_s": ledger.write_s,
                "errors": list(tracker.summary().errors), "seconds": seconds})  # fmt: skip


def _host(host: int, url: str, seconds: float, interval_s: float, queue: Any) -> None:
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=_rank, args=(host, r, url, seconds, interval_s, results))
        for r in range(RANKS_PER_HOST)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(results)


# --- a throwaway PostgreSQL server ----------------------------------------------------------


def _find(binary: str) -> str | None:
    found = (
        shutil.which(binary)
        or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}")) or [None])[-1]
    )
    return found


def start_postgres(root: Path) -> tuple[str, list[str]]:
    """Start a server in ``root``; its URL and the command prefix (empty when it failed)."""
    initdb, pg_ctl = _find("initdb"), _find("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("no initdb/pg_ctl: run 'make postgres' (Debian's postgresql)")
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    os.chmod(root, 0o700)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True)  # fmt: skip
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=400 "
               "-c fsync=off -c synchronous_commit=off -c shared_buffers=128MB")  # fmt: skip
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options,
                    "-w", "start"], check=True, capture_output=True)  # fmt: skip
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", [*prefix, pg_ctl, "-D", str(data)]


def replay_journals(url: str) -> int:
    """Replay what ranks journalled when the ledger was too slow for them (what
    ``carbonledger sync`` does); the number of journals replayed."""
    from carbonledger.ledger import open_ledger
    from carbonledger.ledger.keys import load_or_create_signing_key
    from carbonledger.run.journal import journal_dir, pending, replay, trusted_for_replay

    paths = list(pending(journal_dir()))
    trusted = trusted_for_replay(load_or_create_signing_key().public_hex)
    led = open_ledger(url, timeout_s=120)
    try:
        for path in paths:
            replay(path, led, trusted)
    finally:
        led.close()
    return len(paths)


def stop_postgres(pg: list[str]) -> None:
    """Stop a server :func:`start_postgres` started."""
    subprocess.run([*pg, "-m", "immediate", "-w", "stop"], capture_output=True, check=False)


def check(
    url: str, results: list[dict[str, Any]], summary_s: float, summary: Any
) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (device_ref, time_unix_s)) FROM samples"
        ).fetchone()
        size = conn.execute("SELECT pg_total_relation_size('samples')").fetchone()
    assert rows is not None
    written = sum(r["samples"] for r in results)
    write_s = sum(r["write_s"] for r in results)
    calls = sum(r["calls"] for r in results)
    expected_j = HOSTS * (CPU_J + RAM_J + RANKS_PER_HOST * GPU_J)
    return {
        "ranks": len(results),
        "hosts": len(summary.hosts),
        "samples_written": written,
        "sample_rows": rows[0],
        "distinct_rows": rows[1],
        "energy_j": summary.energy_j,
        "expected_energy_j": expected_j,
        "ok": rows[0] == written == rows[1]
        and abs(summary.energy_j - expected_j) < 1e-6 * expected_j,
        "write_us_per_sample": 1e6 * write_s / written if written else None,
        "write_ms_per_call": 1e3 * write_s / calls if calls else None,
        "samples_per_s": written / max(1e-9, max(r["seconds"] for r in results)),
        "summary_s": summary_s,
        # table + index bytes per row (pages are allocated whole: an upper bound on small runs)
        "bytes_per_row": size[0] / rows[0] if size and rows[0] else None,
        # ranks whose ledger was too slow at some point (their writes journalled, replayed)
        "ranks_journalled": sum(1 for r in results if r["errors"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print("scale: skipped (psycopg missing: pip install carbonledger[postgres])")
        return 0
    root = Path(tempfile.mkdtemp(prefix="carbonledger-scale-"))
    os.environ.update(XDG_CONFIG_HOME=str(root / "config"),
                      CARBONLEDGER_SPOOL_DIR=str(root / "spool"))  # fmt: skip
    try:
        url, pg = start_postgres(root)
    except (RuntimeError, subprocess.CalledProcessError, KeyError) as exc:
        print(f"scale: skipped (PostgreSQL could not start: {exc})")
        shutil.rmtree(root, ignore_errors=True)
        return 0
    try:
        from carbonledger.ledger import open_ledger

        open_ledger(url).close()  # the schema, once, before 256 ranks race for it
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        t0 = time.perf_counter()
        procs = [ctx.Process(target=_host, args=(h, url, args.seconds, args.interval, queue))
                 for h in range(HOSTS)]  # fmt: skip
        for p in procs:
            p.start()
        results = [r for _ in procs for r in queue.get(timeout=600)]
        for p in procs:
            p.join()
        wall_s = time.perf_counter() - t0
        journalled = replay_journals(url)
        led = open_ledger(url, read_only=True)
        t1 = time.perf_counter()
        summary = led.summary("torchrun-scale")
        summary_s = time.perf_counter() - t1
        led.close()
        report = {**check(url, results, summary_s, summary), "wall_s": wall_s, "journals_replayed": journalled,
                  "seconds": args.seconds, "interval_s": args.interval}  # fmt: skip
    finally:
        stop_postgres(pg)
        shutil.rmtree(root, ignore_errors=True)
    print(f"scale: {report['ranks']} ranks on {report['hosts']} hosts, {report['samples_written']} "
          f"samples, {report['sample_rows']} rows ({report['distinct_rows']} distinct); energy "
          f"{report['energy_j']:.0f} J (expected {report['expected_energy_j']:.0f}); write "
          f"{report['write_us_per_sample']:.0f} us/sample ({report['write_ms_per_call']:.1f} ms per "
          f"append, concurrent); summary {report['summary_s']*1e3:.1f} ms; "
          f"{report['bytes_per_row']:.0f} B/row on disk; "
          f"{'OK' if report['ok'] else 'FAILED'}")  # fmt: skip
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
