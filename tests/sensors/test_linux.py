"""The procfs process-tree reader (hardware edge: a fake /proc in tmp_path, and the real one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from carbonledger.sensors import _linux as _proc

TICK = float(os.sysconf("SC_CLK_TCK"))
PAGE = float(os.sysconf("SC_PAGE_SIZE"))


def stat_line(
    pid: int,
    comm: str,
    ppid: int,
    utime: int,
    stime: int,
    cutime: int,
    cstime: int,
    start: int,
    rss: int,
) -> str:
    fields = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime), str(cutime), str(cstime)]
    fields += ["20", "0", "1", "0", str(start), "1000", str(rss)] + ["0"] * 20
    return f"{pid} ({comm}) " + " ".join(fields) + "\n"


def fake_proc(root: Path, procs: list[tuple[int, int, str]], children_files: bool) -> Path:
    """procs: (pid, ppid, comm). Each gets utime=pid, stime=1, start=pid*10, rss=pid pages."""
    kids: dict[int, list[int]] = {}
    for pid, ppid, _ in procs:
        kids.setdefault(ppid, []).append(pid)
    for pid, ppid, comm in procs:
        d = root / str(pid)
        (d / "task" / str(pid)).mkdir(parents=True)
        (d / "stat").write_text(stat_line(pid, comm, ppid, pid, 1, 2, 3, pid * 10, pid))
        if children_files:
            (d / "task" / str(pid) / "children").write_text(
                " ".join(str(k) for k in kids.get(pid, [])) + (" " if kids.get(pid) else "")
            )
    (root / "self").mkdir()
    return root


def test_stat_parse_survives_odd_command_names(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, [(42, 1, "my (weird) cmd) x")], children_files=True)
    s = _proc.read_stat(42, proc)
    assert s is not None
    assert (s.pid, s.ppid) == (42, 1)
    assert s.own_s == pytest.approx((42 + 1) / TICK)
    assert s.reaped_s == pytest.approx((2 + 3) / TICK)
    assert s.start == pytest.approx(420 / TICK)
    assert s.rss_bytes == pytest.approx(42 * PAGE)
    assert _proc.read_stat(99, proc) is None


@pytest.mark.parametrize("children_files", [True, False])
def test_tree_walk_with_and_without_children_files(tmp_path: Path, children_files: bool) -> None:
    procs = [(10, 1, "root"), (11, 10, "a"), (12, 11, "b"), (13, 10, "c"), (20, 1, "other")]
    proc = fake_proc(tmp_path, procs, children_files)
    tree = _proc.tree_snapshot(10, proc)
    assert sorted(tree) == [10, 11, 12, 13]  # never the unrelated process 20
    assert sum(s.rss_bytes for s in tree.values()) == pytest.approx((10 + 11 + 12 + 13) * PAGE)
    assert _proc.tree_snapshot(999, proc) == {}


def test_real_tree_agrees_with_psutil() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not psutil.Process().children():
            time.sleep(0.01)
        _proc._cache.clear()  # a full walk, not a refresh of an earlier one-process tree
        ours = _proc.tree_snapshot(os.getpid())
        theirs = {p.pid for p in [psutil.Process(), *psutil.Process().children(recursive=True)]}
        assert child.pid in ours
        assert set(ours) == theirs
        me = ours[os.getpid()]
        assert me.rss_bytes == pytest.approx(psutil.Process().memory_info().rss, rel=0.2)
    finally:
        child.kill()
        child.wait()


def test_a_new_child_of_a_lone_process_is_found_at_the_next_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child born between two reads is in the next read's tree (one sampler interval),
    with all its CPU time since its birth, however long ago the last full walk was."""
    proc = fake_proc(tmp_path, [(10, 1, "root")], children_files=True)
    monkeypatch.setattr(_proc, "SHARE_WINDOW_S", 0.0)
    monkeypatch.setattr(_proc, "FULL_WALK_S", 3600.0)
    cpu = _proc.ProcessTreeCpu(10, proc)
    assert cpu() == 0.0
    assert cpu() == 0.0  # the root alone, nothing used
    # the root runs 5 ticks more and starts a child that has already run 20 ticks
    (proc / "10" / "stat").write_text(stat_line(10, "root", 1, 15, 1, 2, 3, 100, 10))
    (proc / "11" / "task" / "11").mkdir(parents=True)
    (proc / "11" / "stat").write_text(stat_line(11, "kid", 10, 19, 1, 0, 0, 110, 11))
    (proc / "11" / "task" / "11" / "children").write_text("")
    (proc / "10" / "task" / "10" / "children").write_text("11 ")
    assert set(_proc.tree_snapshot(10, proc)) == {10, 11}
    assert cpu() == pytest.approx((5 + 20) / TICK)  # the root's growth + the child's whole time
    # the child ends and the root reaps it: its 20 ticks show in the root's reaped time
    # (cutime + cstime: 2 + 3 + 20) and are not counted twice
    import shutil

    shutil.rmtree(proc / "11")
    (proc / "10" / "task" / "10" / "children").write_text("")
    (proc / "10" / "stat").write_text(stat_line(10, "root", 1, 15, 1, 22, 3, 100, 10))
    assert set(_proc.tree_snapshot(10, proc)) == {10}
    assert cpu() == pytest.approx((5 + 20) / TICK)


def test_back_to_back_reads_share_one_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = fake_proc(tmp_path, [(10, 1, "root")], children_files=True)
    monkeypatch.setattr(_proc, "SHARE_WINDOW_S", 3600.0)
    first = _proc.tree_snapshot(10, proc)
    assert _proc.tree_snapshot(10, proc) is first  # within the share window
    monkeypatch.setattr(_proc, "SHARE_WINDOW_S", 0.0)
    assert _proc.tree_snapshot(10, proc) is not first


def test_machine_busy_time_matches_psutil() -> None:
    t = psutil.cpu_times()
    theirs = t.user + t.nice + t.system + t.irq + t.softirq
    ours = _proc.machine_busy_cpu_s()
    assert ours == pytest.approx(theirs, abs=0.5)  # same /proc/stat line, read moments apart


def test_children_of_new_and_replacing_threads_are_found() -> None:
    """Children hang off the thread that started them: a thread that starts after a walk,
    or one that replaces an ended thread (same thread count), has its children found.
    (A cache of the thread list keyed on the thread count was tried and failed this.)"""
    import threading

    def spawn_child_from_new_thread(
        box: list[subprocess.Popen[bytes]], hold: threading.Event
    ) -> None:
        box.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
        hold.wait(30)

    me = os.getpid()
    _proc._cache.clear()
    _proc.tree_snapshot(me)
    children: list[subprocess.Popen[bytes]] = []
    try:
        # a new thread
        hold = threading.Event()
        t1 = threading.Thread(target=spawn_child_from_new_thread, args=(children, hold))
        t1.start()
        while not children:
            time.sleep(0.01)
        _proc._cache.clear()
        assert children[0].pid in _proc.tree_snapshot(me)
        # replace it by another thread (the same count of threads)
        hold.set()
        t1.join(30)
        hold2 = threading.Event()
        t2 = threading.Thread(target=spawn_child_from_new_thread, args=(children, hold2))
        t2.start()
        while len(children) < 2:
            time.sleep(0.01)
        _proc._cache.clear()
        tree = _proc.tree_snapshot(me)
        assert children[1].pid in tree
        hold2.set()
        t2.join(30)
    finally:
        for c in children:
            c.kill()
            c.wait()


_ALONE_SCRIPT = """
import os, subprocess, sys, time
from carbonledger.sensors import _linux as _proc

TICK = float(os.sysconf("SC_CLK_TCK"))
me = os.getpid()
_proc.FULL_WALK_S = 3600.0
_proc.SHARE_WINDOW_S = 0.0
cpu = _proc.ProcessTreeCpu(me)
assert cpu() == 0.0
first = _proc.tree_snapshot(me)[me]
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
used = cpu()
assert abs(used - 0.3) <= 3 / TICK + 0.05, used
now = _proc.read_stat(me)
again = _proc.tree_snapshot(me)[me]
assert abs(again.own_s - now.own_s) <= 2 / TICK, (again, now)  # times(2) == the stat
assert again.rss_bytes == first.rss_bytes  # kept from the full walk
assert not _proc._has_children()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
try:
    assert _proc._has_children()
    assert set(_proc.tree_snapshot(me)) == {me, child.pid}  # at once, no full walk due
finally:
    child.kill()
    child.wait()
# reaped: no child left, so the due walk is this process's stat alone
assert not _proc._has_children()
assert set(_proc.tree_snapshot(me)) == {me}
print("ok")
"""


def test_this_process_alone_is_read_from_times_and_its_children_are_found_at_once() -> None:
    """The in-process tracker's tree: while it has no child, os.times() gives its CPU (the
    same clock ticks as its stat); a child started is found at the next read. In a fresh
    interpreter: this one may have other tests' children."""
    out = subprocess.run(
        [sys.executable, "-c", _ALONE_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_has_children_sees_a_zombie_without_reaping_it() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        assert _proc._has_children()
        assert _proc._has_children()  # still there: asking did not reap it
    finally:
        assert child.wait(timeout=10) == 0  # subprocess can still collect its exit status


_BIRTH_SCRIPT = """
import os, subprocess, sys, time
from carbonledger.sensors import _linux

me = os.getpid()
cpu = _linux.ProcessTreeCpu(me)
assert cpu() == 0.0
burn = "import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass\\ntime.sleep(30)"
child = subprocess.Popen([sys.executable, "-c", burn])
try:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stat = _linux.read_stat(child.pid)
        if stat is not None and stat.own_s >= 0.3:
            break
        time.sleep(0.02)
    used = stat.own_s
    total = cpu()  # the next read after its birth: no full walk was due (FULL_WALK_S = 5 s)
    assert total >= used, (total, used)
finally:
    child.kill()
    child.wait()
print("ok")
"""


def test_a_real_child_is_counted_from_its_birth_at_the_next_read() -> None:
    """The in-process tracker's tree: a child started after the first read is found at the
    next read, with all the CPU time it used since its birth. In a fresh interpreter: this
    one may have other tests' children."""
    out = subprocess.run(
        [sys.executable, "-c", _BIRTH_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_a_real_grandchild_of_another_root_is_found_at_the_next_read() -> None:
    """A tracked process that is not this one (``carbonledger run``'s command, a pid given
    to the tracker) starts a worker: the worker is counted at the next read."""
    burner = (
        "import time\nend = time.process_time() + 0.4\n"
        "while time.process_time() < end: pass\ntime.sleep(30)"
    )
    parent_code = (
        "import subprocess, sys, time\n"
        "sys.stdin.readline()\n"  # starts its worker once the test has read the tree alone
        f"subprocess.Popen([sys.executable, '-c', {burner!r}])\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdin=subprocess.PIPE)
    try:
        cpu = _proc.ProcessTreeCpu(parent.pid)
        cpu()
        cpu()  # read alone: a tree of one process
        assert parent.stdin is not None
        parent.stdin.write(b"go\n")
        parent.stdin.flush()
        deadline = time.monotonic() + 30
        worker = None
        while time.monotonic() < deadline:
            kids = psutil.Process(parent.pid).children()
            if kids and kids[0].cpu_times().user + kids[0].cpu_times().system >= 0.3:
                worker = kids[0]
                break
            time.sleep(0.02)
        assert worker is not None
        t = worker.cpu_times()
        assert cpu() >= t.user + t.system
    finally:
        for p in psutil.Process(parent.pid).children(recursive=True):
            p.kill()
        parent.kill()
        parent.wait()
        if parent.stdin is not None:
            parent.stdin.close()


#: run in a fresh interpreter: no child of an earlier test can be about (the shortcut needs
#: this process alone), and the module's state starts clean
_FORK_COUNT_PROBE = """
import json, subprocess, sys, time
from carbonledger.sensors import _linux as proc
me = proc.os.getpid()
asked = []
real = proc._has_children
def counting():
    asked.append(1)
    return real()
proc._has_children = counting
if sys.argv[1] == "stale":
    proc.FORKS_FRESH_S = 0.0  # every count is stale: it never stands for now
proc.tree_snapshot(me)  # a full walk: this process alone
time.sleep(0.01)
proc.machine_busy_cpu_s()
proc.tree_snapshot(me)  # waitid: no child (the count read just before is remembered)
before, counts, alone = len(asked), [], []
for _ in range(3):
    time.sleep(0.01)
    proc.machine_busy_cpu_s()
    counts.append(proc._forks_read[0] if proc._forks_read else None)
    alone.append(sorted(proc.tree_snapshot(me)) == [me])
quiet_asks = len(asked) - before
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
time.sleep(0.01)
if sys.argv[1] == "fresh":
    proc.machine_busy_cpu_s()  # sees the count grown
found = child.pid in proc.tree_snapshot(me)
child.kill(); child.wait(30)
print(json.dumps({"counts": counts, "alone": alone, "quiet_asks": quiet_asks, "found": found}))
"""


def _fork_count_probe(mode: str) -> dict[str, object]:
    import json

    out = subprocess.run(
        [sys.executable, "-c", _FORK_COUNT_PROBE, mode],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_child_is_found_whatever_the_fork_count_shortcut_skipped() -> None:
    """This process alone: ``waitid`` is skipped only while /proc/stat's count of created
    processes stands still since a ``waitid`` found no child. A child started later changes
    the count (the next machine read sees it) and is in the tree at once."""
    r = _fork_count_probe("fresh")
    assert r["alone"] == [True, True, True]
    counts = r["counts"]
    assert isinstance(counts, list)
    if None not in counts and len(set(counts)) == 1:  # the host stood still meanwhile
        assert r["quiet_asks"] == 0  # so waitid was not asked
    assert r["found"] is True


def test_a_stale_fork_count_never_stands_for_now() -> None:
    """A count older than FORKS_FRESH_S (the machine read by someone else, or not at all)
    is not trusted: ``waitid`` is asked every time, and a child started after the last
    count was read is found."""
    r = _fork_count_probe("stale")
    assert r["quiet_asks"] == 3
    assert r["found"] is True


_FORKED_SCRIPT = """
import os, sys
from carbonledger.sensors import _linux
_linux.tree_snapshot(os.getpid())
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    mine = os.getpid()
    # this process's own pid as the sampler's shortcut knows it (kept, not asked each tick)
    ok = _linux._own_pid() == mine
    tree = _linux.tree_snapshot(mine)
    ok = ok and set(tree) == {mine} and tree[mine].ppid == os.getppid()
    os.write(w, b"ok" if ok else b"no")
    os._exit(0)
os.close(w)
said = os.read(r, 16)
os.waitpid(pid, 0)
print(said.decode(), _linux._own_pid() == os.getpid())
"""


def test_a_forked_child_knows_its_own_pid_and_tree() -> None:
    """The pid the tree reader keeps (``getpid`` is a system call, asked every tick otherwise)
    is the child's own after a fork: a forked worker's tracker reads its own process, not its
    parent's. In a fresh interpreter (forking under pytest's threads is not safe)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORKED_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.split() == ["ok", "True"], (out.stdout, out.stderr)
