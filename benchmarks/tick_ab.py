"""Two versions of the tracker side by side in one process: what a change does to its CPU.

    .venv/bin/python benchmarks/tick_ab.py A B [--pairs 2] [--seconds 61]

A and B are commits (or ``work`` for the working tree). Each is copied out of git as a package
of its own name (``carbonledger_a``, ``carbonledger_b``: every import of the package renamed),
and one fresh interpreter holds a tracker of each (1 s interval, an SQLite ledger each,
started half a second apart) while its main thread runs a busy pure-Python loop for
``--seconds``. The CPU of each tracker's threads comes from
``/proc/self/task/*/schedstat``, in microseconds a second. Each pair is two runs, A started
first and then B first.

Why not one version per process, in turn (``benchmarks/tick_parts.py``, ``benchmarks/run.py``)?
On a shared VM one run's figure drifts by 10-15 % from minute to minute, more than most changes
to a tick are worth; two trackers in one process see the same machine at the same moment.
Both are renamed copies on purpose: the installed package against a renamed copy of the same
commit read 150-200 us a second apart (the copy slower), so only copies compare with copies.
Run ``A A`` first to see how far two identical copies land apart on your machine.

Linux only (/proc). Nothing of the library is changed; the copies live in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_CHILD = textwrap.dedent(
    """
    import json, os, sys, tempfile, threading, time
    sys.path.insert(0, sys.argv[1])
    seconds, order = float(sys.argv[2]), sys.argv[3]
    import carbonledger_a, carbonledger_b
    packages = {"A": carbonledger_a, "B": carbonledger_b}

    def cpu_ns():
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as fh:
                    out[int(tid)] = int(fh.read().split()[0])
            except OSError:
                pass
        return out

    folder = tempfile.mkdtemp()
    trackers = {}
    for name in order:
        before = {t.native_id for t in threading.enumerate()}
        tracker = packages[name].Tracker(project="ab", country="FR", interval_s=1.0,
                                         ledger=os.path.join(folder, name + ".sqlite"))
        tracker.start()
        trackers[name] = (tracker, {t.native_id: t.name for t in threading.enumerate()
                                    if t.native_id not in before})
        time.sleep(0.5)
    time.sleep(1.0)
    first, w0 = cpu_ns(), time.perf_counter()
    end, x = w0 + seconds, 0
    while time.perf_counter() < end:
        for i in range(20_000):
            x += i * i
    last, wall = cpu_ns(), time.perf_counter() - w0
    out = {}
    for name, (tracker, tids) in trackers.items():
        for tid, thread in tids.items():
            if tid in first and tid in last:
                key = name + "." + thread.replace("carbonledger-", "")
                out[key] = (last[tid] - first[tid]) / 1e3 / wall
        tracker.stop()
    print("@@AB " + json.dumps(out))
    """
)


def copy_as(commit: str, name: str, into: Path) -> None:
    """``src/carbonledger`` of ``commit`` (or the working tree) as the package ``name``."""
    scratch = into / f"src-{name}"
    if commit == "work":
        shutil.copytree(REPO / "src" / "carbonledger", scratch / "carbonledger")
    else:
        scratch.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "src/carbonledger"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive, check=True)
        (scratch / "src" / "carbonledger").rename(scratch / "carbonledger")
    target = into / name
    (scratch / "carbonledger").rename(target)
    shutil.rmtree(scratch)
    imports = re.compile(r"\b(from|import) carbonledger(?=[. \n])")
    dotted = re.compile(r"([\"'])carbonledger\.")
    for path in target.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = dotted.sub(rf"\1{name}.", imports.sub(rf"\1 {name}", text))
        path.write_text(text, encoding="utf-8")
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", help="a commit, or 'work' for the working tree")
    parser.add_argument("b", help="a commit, or 'work' for the working tree")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=61.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        copy_as(args.a, "carbonledger_a", folder)
        copy_as(args.b, "carbonledger_b", folder)
        for _ in range(args.pairs):
            for order in ("AB", "BA"):
                proc = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(folder), str(args.seconds), order],
                    capture_output=True, text=True, cwd=tmp, check=False,
                )  # fmt: skip
                lines = [x for x in proc.stdout.splitlines() if x.startswith("@@AB ")]
                if not lines:
                    print(proc.stderr[-2000:], file=sys.stderr)
                    return 1
                got = json.loads(lines[-1][5:])
                a = sum(v for k, v in got.items() if k.startswith("A."))
                b = sum(v for k, v in got.items() if k.startswith("B."))
                rows.append((order, got, a, b))
    print(f"| run | A ({args.a}) us/s | B ({args.b}) us/s | A - B | threads |")
    print("| --- | ---: | ---: | ---: | --- |")
    for order, got, a, b in rows:
        threads = ", ".join(f"{k} {v:.0f}" for k, v in sorted(got.items()))
        print(f"| {order} first | {a:.0f} | {b:.0f} | {a - b:+.0f} | {threads} |")
    diffs = sorted(a - b for _, _, a, b in rows)
    print(f"\nA - B per run: {', '.join(f'{d:+.0f}' for d in diffs)} us a second "
          f"(1 % of a core is 10,000 us a second)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
