"""What each step of a tick costs when it runs the way a tick runs: once per wake-up, from cold
caches, beside a busy Python thread.

    .venv/bin/python benchmarks/tick_prices.py [--seconds 90] [--wake 0.5]

One thread wakes every ``--wake`` seconds while the main thread runs a busy pure-Python loop;
each wake-up runs one step of the list below, in turn, so that every step sees the same
machine over the same minutes (a VM's drift cancels), and the thread's own CPU time around
the step (``time.thread_time_ns``) is the step's price. The medians are printed as a table.

* ``nothing``: the price of measuring;
* ``release the interpreter lock once`` / ``twice``: ``time.sleep(0)``, a call that lets the
  lock go and takes it back; beside a busy thread taking it back means waiting for the busy
  thread to be told to let go (the switch interval, 5 ms), and the waiting thread's core idles
  meanwhile;
* ``os.times()``: a system call that keeps the lock;
* ``read /proc/stat (os.pread)``, and the way the tracker reads it (a ctypes call that keeps
  the lock), then parses it;
* ``Ed25519 signature``: ``cryptography`` lets the lock go while it signs;
* ``append 800 B``: ``os.write`` to a file opened for appending (lets the lock go);
* ``floor tick``: read, encode a two-sample batch, hash, sign, append (``tick_floor.py``'s);
* ``carbonledger tick``: the sampler tick of a real tracker (SQLite ledger, country given, its
  own sampler thread kept idle): read the sensors, make the tick's events, sign them, write
  them ahead into the journal.

Linux only (/proc). Nothing of the library is changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable


def steps(folder: str) -> tuple[list[tuple[str, Callable[[], object]]], Callable[[], object]]:
    """The steps priced, each a callable made ready (files open, key made, tracker started),
    and what stops the tracker afterwards."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import carbonledger
    from carbonledger.sensors._linux import machine_busy_cpu_s

    key = Ed25519PrivateKey.generate()
    stat = os.open("/proc/stat", os.O_RDONLY)
    out = os.open(os.path.join(folder, "append.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    line, message = b"x" * 799 + b"\n", hashlib.sha256(b"tick").digest()
    chain = {"seq": 0, "prev": "0" * 64}

    def floor_tick() -> None:
        first = os.pread(stat, 8192, 0).split(b"\n", 1)[0].split()
        busy, cpu, now = float(sum(map(int, first[1:4]))), os.times(), time.time()
        chain["seq"] += 1
        body = encoder.encode({
            "v": 1, "run_id": "r" * 32, "member_id": "m" * 32, "seq": chain["seq"],
            "prev": chain["prev"], "time_unix_s": now, "events": [{"samples": [
                [now, "cpu", "cpu", busy, cpu.user, "host", 1.0, 2.0],
                [now, "ram", "ram", 3.0, 1.5, "host", 1.0, 2.0]], "type": "samples_added"}],
        })  # fmt: skip
        chain["prev"] = digest = hashlib.sha256(body.encode()).hexdigest()
        signature = key.sign(b"tag" + bytes.fromhex(digest)).hex()
        record = {"body": body, "hash": digest, "signature": signature}
        os.write(out, (encoder.encode(record) + "\n").encode())

    tracker = carbonledger.Tracker(
        project="tick-prices", country="FR", interval_s=80_000.0,
        ledger=os.path.join(folder, "ledger.sqlite"),
    )  # fmt: skip
    tracker.start()
    # the tick the sampler's own thread runs (signed and written ahead there), reached inside
    sampler = tracker._s.sampler
    sink = sampler._loop_sink
    return [
        ("nothing", lambda: None),
        ("release the interpreter lock once", lambda: time.sleep(0)),
        ("release the interpreter lock twice", lambda: (time.sleep(0), time.sleep(0))),
        ("os.times() (keeps the lock)", os.times),
        ("read /proc/stat (os.pread)", lambda: os.pread(stat, 8192, 0)),
        ("read and parse /proc/stat (the tracker's way)", machine_busy_cpu_s),
        ("Ed25519 signature", lambda: key.sign(message)),
        ("append 800 B (os.write)", lambda: os.write(out, line)),
        ("floor tick", floor_tick),
        ("carbonledger tick", lambda: sampler._tick(sink)),
    ], tracker.stop


def price(seconds: float, wake_s: float) -> dict[str, float]:
    """Median CPU time (us) of each step, run in turn, one per wake-up, beside a busy loop."""
    with tempfile.TemporaryDirectory() as folder:
        todo, stop = steps(folder)
        taken: dict[str, list[int]] = {name: [] for name, _ in todo}
        running = threading.Lock()
        running.acquire()

        def loop() -> None:
            k = 0
            while not running.acquire(timeout=wake_s):
                name, step = todo[k % len(todo)]
                k += 1
                t0 = time.thread_time_ns()
                step()
                taken[name].append(time.thread_time_ns() - t0)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        end, x = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            for i in range(20_000):
                x += i * i
        running.release()
        thread.join(5)
        stop()
    # the first run of each step warms what a tracker warms once: left out
    return {name: statistics.median(v[1:]) / 1e3 for name, v in taken.items() if len(v) > 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--wake", type=float, default=0.5, help="seconds between wake-ups")
    args = parser.parse_args()
    prices = price(args.seconds, args.wake)
    print("| step, once per wake-up beside a busy thread | CPU (median, us) |")
    print("| --- | ---: |")
    for name, us in prices.items():
        print(f"| {name} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
