"""The floor under the sampler's CPU: the least a tick signed where it is measured can cost.

    .venv/bin/python benchmarks/tick_floor.py [--seconds 20] [--vs-tracker ROUNDS]

A bare thread does, every second, only what a signed tick must: read /proc/stat, take this
process's CPU times, encode a two-sample batch as JSON, hash it, sign it (Ed25519, the
``cryptography`` package) and append it to a file; the main thread runs a busy pure-Python
loop (or sleeps). Its share of one core is measured as ``benchmarks/_probe.py`` measures the
trackers (process CPU time minus the main thread's), for the loop as a whole and without the
signature or the append, so that what carbonledger's sampler spends above it is the
sampler's own. Linux only (/proc).

``--vs-tracker ROUNDS`` measures instead, in turn, the whole floor tick and carbonledger's
tracker (``benchmarks/_probe.py carbonledger cpu`` in a fresh interpreter, SQLite ledger, 1 s
interval), both beside a busy thread, ROUNDS times: the ratio of the two in each round is
what the tracker spends above the floor, free of the minutes-long drift of a shared machine
that moves both alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

STEPS = ("read", "read+encode", "read+encode+sign", "read+encode+sign+append")


def share(step: str, seconds: float, busy: bool, path: str) -> float:
    """% of one core the tick thread took while the main thread was busy (or asleep)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    stat = os.open("/proc/stat", os.O_RDONLY)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    running = threading.Lock()
    running.acquire()

    def tick_loop() -> None:
        seq, prev = 0, "0" * 64
        while not running.acquire(timeout=1.0):
            first = os.pread(stat, 8192, 0).split(b"\n", 1)[0].split()
            busy_ticks = sum(map(int, first[1:4]))
            cpu = os.times()
            if step == "read":
                continue
            seq += 1
            now = time.time()
            body = encoder.encode({
                "v": 1, "run_id": "r" * 32, "member_id": "m" * 32, "seq": seq, "prev": prev,
                "time_unix_s": now, "events": [{"samples": [
                    [now, "cpu", "cpu", float(busy_ticks), cpu.user, "host", 1.0, 2.0],
                    [now, "ram", "ram", 3.0, 1.5, "host", 1.0, 2.0]], "type": "samples_added"}],
            })  # fmt: skip
            prev = hashlib.sha256(body.encode()).hexdigest()
            signature = key.sign(b"tag" + bytes.fromhex(prev)).hex() if "sign" in step else ""
            line = encoder.encode({"body": body, "hash": prev, "signature": signature}) + "\n"
            if "append" in step:
                os.write(out, line.encode())

    thread = threading.Thread(target=tick_loop, daemon=True)
    thread.start()
    time.sleep(0.5)
    p0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    end, x = w0 + seconds, 0
    while time.perf_counter() < end:
        if busy:
            for i in range(20_000):
                x += i * i
        else:
            time.sleep(0.1)
    t1, p1, w1 = time.thread_time(), time.process_time(), time.perf_counter()
    running.release()
    thread.join(5)
    os.close(stat)
    os.close(out)
    return ((p1 - p0) - (t1 - t0)) / (w1 - w0) * 100.0


def tracker_probe(seconds: float, workdir: str) -> dict[str, float]:
    """carbonledger's tracker beside a busy thread for ``seconds`` (its probe, in a fresh
    interpreter): the probe's result (``share_pct``: % of one core; per-thread CPU)."""
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_probe.py")
    argv = [sys.executable, probe, "carbonledger", "cpu", "--seconds", str(seconds)]
    done = subprocess.run([*argv, "--workdir", workdir], capture_output=True, text=True, check=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("@@RESULT ")][-1]
    result: dict[str, float] = json.loads(line[len("@@RESULT ") :])
    return result


def versus_tracker(rounds: int, seconds: float) -> None:
    """The floor tick and the tracker in turn, ``rounds`` times, and their ratio."""
    print("| round | floor tick | carbonledger | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    ratios, floors, trackers = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ticks.jsonl")
        for n in range(1, rounds + 1):
            floor = share(STEPS[-1], seconds, True, path)
            tracker = tracker_probe(seconds, tmp)["share_pct"]
            floors.append(floor)
            trackers.append(tracker)
            ratios.append(tracker / floor)
            print(f"| {n} | {floor:.3f} % | {tracker:.3f} % | {tracker / floor:.2f} |", flush=True)
    print(
        f"| median | {statistics.median(floors):.3f} % | {statistics.median(trackers):.3f} % "
        f"| {statistics.median(ratios):.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--vs-tracker",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="the floor tick and carbonledger's tracker in turn, ROUNDS times",
    )
    args = parser.parse_args()
    if args.vs_tracker > 0:
        versus_tracker(args.vs_tracker, args.seconds)
        return 0
    print("| what a tick does, once a second | beside a busy thread | main thread asleep |")
    print("| --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ticks.jsonl")
        for step in STEPS:
            busy = share(step, args.seconds, True, path)
            idle = share(step, args.seconds, False, path)
            print(f"| {step} | {busy:.3f} % | {idle:.3f} % |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
