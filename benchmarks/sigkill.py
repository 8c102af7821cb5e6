"""SIGKILL benchmark: what a killed run keeps, against what it had committed.

Run: ``.venv/bin/python benchmarks/sigkill.py [--trials 10] [--seed 1]`` (``make bench`` runs
it). Each trial starts ``carbonledger run --interval 0.5`` on a busy command, kills it (and
its command) with SIGKILL at a random time between 1 and 8 s, and reads what the killed
process had signed: the samples the ledger had committed, and those written ahead into its
journal (ticks are committed every 30 s). It then settles the ledger as a later writer on this
machine would (the journal replayed, a clock two minutes on, every lease run out) and
compares the settled run's energy with the energy of every signed sample, and the newest
signed sample's time with the kill's. The promise: a SIGKILL loses at most one sampling
interval of signed energy.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INTERVAL_S = 0.5
BUSY = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"


def trial(tmp: Path, k: int, kill_after_s: float) -> tuple[float, float, float, float, str]:
    """(energy committed at the kill in J, energy signed (committed or written ahead) in J,
    energy the settled run keeps in J, seconds from the newest signed sample to the kill, the
    settled status)."""
    import carbonledger as cl
    from carbonledger.events import SamplesAdded
    from carbonledger.run.journal import journal_dir, pending, read_journal, replay_pending

    path = tmp / f"trial-{k}.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "run", "--ledger", str(path), "--interval",
         str(INTERVAL_S), "--grid", "100", "--", sys.executable, "-c", BUSY],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    time.sleep(kill_after_s)
    killed_at = time.time()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT d.device, s.energy_j, s.time_unix_s FROM samples s JOIN devices d "
            "ON d.device_ref = s.device_ref ORDER BY s.time_unix_s"
        ).fetchall()
        runs = {str(r[0]) for r in db.execute("SELECT run_id FROM runs")}
    latest: dict[str, tuple[float, float]] = {}
    for device, energy, t in rows:
        latest[str(device)] = (float(energy), float(t))
    committed = sum(e for e, _ in latest.values())
    for journal in pending(journal_dir()):
        for batch in read_journal(journal)[1]:
            decoded = batch.decode()
            if decoded.run_id not in runs:
                continue
            for event in decoded.events:
                if isinstance(event, SamplesAdded):
                    for s in event.samples:
                        if s.time_unix_s >= latest.get(s.device, (0.0, 0.0))[1]:
                            latest[s.device] = (s.energy_j, s.time_unix_s)
    signed = sum(e for e, _ in latest.values())
    newest = max((t for _, t in latest.values()), default=0.0)
    with cl.open_ledger(str(path), clock=lambda: time.time() + 120) as led:
        replay_pending(led)
        led.settle()
        (run,) = led.list_runs()
    return committed, signed, run.energy_j, killed_at - newest, run.status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        os.environ.update(
            XDG_CONFIG_HOME=str(tmp / "config"),
            XDG_DATA_HOME=str(tmp / "data"),
            CARBONLEDGER_NO_CLOUD_PROBE="1",
        )
        os.environ.pop("CARBONLEDGER_SIGNING_KEY", None)
        for k in range(args.trials):
            at = rng.uniform(1.0, 8.0)
            committed, signed, kept, gap, status = trial(tmp, k, at)
            good = abs(kept - signed) <= 1e-9 * max(1.0, signed) and gap <= 2 * INTERVAL_S
            ok = ok and good and signed > 0
            rows.append(
                (f"{at:.2f} s", f"{committed:.2f} J", f"{signed:.2f} J", f"{kept:.2f} J",
                 f"{gap:.2f} s", status)
            )  # fmt: skip
    print(f"carbonledger SIGKILL trials - interval {INTERVAL_S} s, {args.trials} kills at 1-8 s")
    header = (
        "killed at", "committed", "signed (with the journal)", "settled run keeps",
        "newest signed sample before kill", "status",
    )  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print("every trial kept all it signed, within one interval of the kill: " + str(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
