"""CPU time and resident memory of the machine and of a process tree (the one private
platform module, as psutil keeps ``_pslinux``).

On Linux a process tree is read straight from procfs: one ``/proc/<pid>/stat`` read per
process gives its parent, start time, CPU times (its own and its reaped children's) and
resident memory, and ``/proc/<pid>/task/<tid>/children`` lists its children, so walking a
training job's tree reads only that tree (not every process of the host). Kernels without
``children`` files fall back to one scan of ``/proc/*/stat``; other systems to psutil.
One walk is shared by the CPU and RAM models when they read within a few milliseconds
(the meter reads every sensor at once).

Every read walks the tree, so a child started since the previous read (one sampler
interval) is found at the next one, and all its CPU time since its birth is counted then.
The one shortcut: this process's own tree, when ``waitid(2)`` says it has no child at all,
is this process alone and is read from ``times(2)`` (one system call, no file); while the
host's count of created processes (``processes`` in /proc/stat, read with the machine's CPU
times just before) has not moved since such a ``waitid``, it is not asked again.

Times are seconds of CPU summed over all CPUs, cumulative, so a sensor takes the
difference between two calls. psutil is imported inside the functions.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from carbonledger.sensors._procfiles import ProcFiles
from carbonledger.sensors._procstat import ProcStat

StrPath = str | os.PathLike[str]

__all__ = [
    "ProcStat",
    "ProcessTreeCpu",
    "logical_cpu_count",
    "machine_busy_cpu_s",
    "tree_rss_bytes",
    "tree_snapshot",
]

PROC = "/proc"
_CLK_TCK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
_PAGE_BYTES = float(os.sysconf("SC_PAGE_SIZE")) if hasattr(os, "sysconf") else 4096.0
#: a walk younger than this is reused (the CPU and RAM models read back to back)
SHARE_WINDOW_S = 0.005
#: this process, alone (``waitid`` finds no child), is read from ``times(2)`` between full
#: walks; a full walk (its stat, for its resident memory) is due after this long (s). A
#: child is never missed for this long: at every read, ``waitid`` is asked, or the host's
#: count of created processes says nothing forked since it was.
FULL_WALK_S = 5.0


_FILES = ProcFiles()

#: this process's pid, as ``getpid(2)`` gave it (read again in a forked child): the sampler
#: asks every tick, and ``getpid`` is a system call
_pid = [os.getpid()]


def _own_pid() -> int:
    return _pid[0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def logical_cpu_count() -> int:
    """Logical CPUs of the machine (at least 1)."""
    return os.cpu_count() or 1


_PROC_STAT = f"{PROC}/stat"


def machine_busy_cpu_s() -> float:
    """CPU seconds the whole machine spent busy (all CPUs, since boot).

    Busy = user + nice + system + irq + softirq: everything but idle, iowait and steal
    (a virtual CPU's stolen time ran some other guest). On Linux ``guest`` time is
    already inside ``user``, so it is not added again.
    """
    global _forks_read
    data = _FILES.read(_PROC_STAT)
    if data:  # "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks
        at = data.find(b"\nprocesses ")
        if at >= 0:  # processes (and threads) created since boot: see _childless
            end = data.find(b"\n", at + 11)
            try:  # noqa: SIM105 (no context manager: this runs every tick)
                _forks_read = (int(data[at + 11 : end if end >= 0 else None]), time.monotonic())
            except ValueError:
                pass
        fields = data.split(b"\n", 1)[0].split()
        if fields and fields[0] == b"cpu" and len(fields) >= 8:
            user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[1:8])
            return (user + nice + system + irq + softirq) / _CLK_TCK
    from carbonledger.sensors._portable import machine_busy_cpu_s_psutil

    return machine_busy_cpu_s_psutil()  # pragma: no cover - systems without /proc/stat


def read_stat(pid: int, proc: StrPath = PROC) -> ProcStat | None:
    """Parse ``/proc/<pid>/stat`` (None when the process is gone or unreadable)."""
    data = _FILES.read(f"{proc}/{pid}/stat")
    if data is None:
        return None
    try:
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        rest = data[data.rindex(b")") + 2 :].split()
        return ProcStat(
            pid=pid,
            ppid=int(rest[1]),
            start=int(rest[19]) / _CLK_TCK,
            own_s=(int(rest[11]) + int(rest[12])) / _CLK_TCK,
            reaped_s=(int(rest[13]) + int(rest[14])) / _CLK_TCK,
            rss_bytes=int(rest[21]) * _PAGE_BYTES,
        )
    except (ValueError, IndexError):
        return None


class _NoChildrenFiles(Exception):
    """The kernel has no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN off)."""


def _children(pid: int, proc: str) -> list[int]:
    task = f"{proc}/{pid}/task"
    try:
        tids = os.listdir(task)
    except OSError:
        return []  # the process ended
    _FILES.retain(str(task), {int(t) for t in tids if t.isdigit()})  # threads that ended
    out: list[int] = []
    for tid in tids:
        text = _FILES.read(f"{task}/{tid}/children")
        if text is None:
            if os.path.exists(f"{task}/{tid}") and not os.path.exists(f"{task}/{tid}/children"):
                raise _NoChildrenFiles
            continue  # the thread ended meanwhile
        out.extend(int(x) for x in text.split())
    return out


def _walk_children(pid: int, proc: str) -> dict[int, ProcStat]:
    tree: dict[int, ProcStat] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in tree:
            continue
        stat = read_stat(current, proc)
        if stat is None:
            continue
        tree[current] = stat
        todo.extend(_children(current, proc))
    return tree


def _walk_scan(pid: int, proc: str) -> dict[int, ProcStat]:
    """One pass over every process's stat, then the tree by parent links."""
    by_parent: dict[int, list[ProcStat]] = {}
    root: ProcStat | None = None
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        stat = read_stat(int(name), proc)
        if stat is None:
            continue
        if stat.pid == pid:
            root = stat
        by_parent.setdefault(stat.ppid, []).append(stat)
    tree: dict[int, ProcStat] = {}
    todo = [root] if root is not None else []
    while todo:
        stat = todo.pop()
        if stat.pid in tree:
            continue
        tree[stat.pid] = stat
        todo.extend(by_parent.get(stat.pid, ()))
    return tree


_cache_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, dict[int, ProcStat]]] = {}
_last_full_walk: dict[tuple[int, str], float] = {}
_procfs_present: dict[str, bool] = {}
_has_children_files: dict[str, bool] = {}


def tree_snapshot(pid: int, proc: StrPath = PROC) -> dict[int, ProcStat]:
    """``pid`` and its living descendants, by pid (empty when ``pid`` is gone).

    A walk younger than :data:`SHARE_WINDOW_S` is returned again, so sensors reading
    back to back share one walk of the tree. Otherwise the tree is walked, so a child born
    since the previous call is in the result. One shortcut: when ``pid`` is this process,
    alone at the last walk and still without any child (``waitid(2)``, one system call),
    it is read from ``os.times()`` (the same CPU times as its stat, without a file read),
    keeping the resident memory of the last full walk (at most :data:`FULL_WALK_S` old).
    """
    proc = os.fspath(proc)
    key = (pid, proc)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < SHARE_WINDOW_S:
            return hit[1]
        last = hit[1].get(pid) if hit is not None and len(hit[1]) == 1 else None
        recent = now - _last_full_walk.get(key, -FULL_WALK_S) < FULL_WALK_S
    if last is not None and pid == _own_pid() and proc == PROC and _childless():
        # no child, so no descendant: this process alone is the whole tree
        stat = _own_stat(last) if recent else read_stat(pid, proc)
        if stat is not None:
            tree = {pid: stat}
            stamp = time.monotonic()
            with _cache_lock:
                _cache[key] = (stamp, tree)
                if not recent:
                    _last_full_walk[key] = stamp
            return tree
    tree = _walk(pid, proc)
    _FILES.retain(proc, set(tree))
    stamp = time.monotonic()
    with _cache_lock:
        _cache[key] = (stamp, tree)
        _last_full_walk[key] = stamp
    return tree


def _walk(pid: int, proc: str) -> dict[int, ProcStat]:
    """A full walk by the best means this system has."""
    present = _procfs_present.get(proc)
    if present is None:
        present = _procfs_present[proc] = proc != PROC or os.path.exists(f"{proc}/self")
    if not present:  # pragma: no cover - no procfs
        from carbonledger.sensors._portable import walk_psutil

        return walk_psutil(pid)
    if _has_children_files.get(proc, True):
        try:
            return _walk_children(pid, proc)
        except _NoChildrenFiles:
            _has_children_files[proc] = False
    return _walk_scan(pid, proc)


#: the host's count of processes and threads created since boot (``processes`` in
#: /proc/stat) as :func:`machine_busy_cpu_s` last read it, and when (monotonic s)
_forks_read: tuple[int, float] | None = None
#: that count as read before the latest ``waitid`` that found this process childless
_forks_childless: int | None = None
#: how recent the count must be to stand for "now" (the CPU model reads the machine's
#: times, then the tree's, back to back)
FORKS_FRESH_S = 0.05


def _childless() -> bool:
    """Whether this process has no child, living or not yet reaped. Without a system call
    when the host has created no process or thread since a ``waitid`` found none (the
    count in /proc/stat, read by :func:`machine_busy_cpu_s` within :data:`FORKS_FRESH_S`:
    no fork, no child); otherwise asked of ``waitid(2)``. A child born between that read
    and now is found at the next read, with all its CPU time."""
    global _forks_childless
    seen = _forks_read
    count = seen[0] if seen is not None and time.monotonic() - seen[1] < FORKS_FRESH_S else None
    if count is not None and count == _forks_childless:
        return True
    if _has_children():
        _forks_childless = None
        return False
    _forks_childless = count  # read before the waitid: any later fork changes it
    return True


def _has_children() -> bool:
    """Whether this process has a child, living or not yet reaped (any thread's), asked of
    ``waitid(2)`` without reaping or waiting: one system call where a walk of the tree takes
    three or more. True when it cannot tell."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    except (OSError, AttributeError):  # pragma: no cover - no waitid here
        return True
    return True


def _own_stat(last: ProcStat) -> ProcStat:
    """This process's CPU times now, from ``times(2)``: the kernel's same clock-tick counts
    as ``/proc/self/stat`` (whole thread group, and the children it has reaped), in one
    system call that needs no file and lets the sampler keep the GIL. Parent, start time
    and resident memory are those of ``last`` (the latest full walk, under FULL_WALK_S old)."""
    t = os.times()
    return ProcStat(
        pid=last.pid,
        ppid=last.ppid,
        start=last.start,
        own_s=t.user + t.system,
        reaped_s=t.children_user + t.children_system,
        rss_bytes=last.rss_bytes,
    )


def tree_rss_bytes(pid: int) -> float:
    """Resident memory of ``pid`` and its living descendants, in bytes.

    RSS counts pages shared between processes (forked workers, shared libraries) once
    per process, so the sum can exceed what the tree really holds; callers cap it at
    the installed memory.
    """
    total = 0.0
    for stat in tree_snapshot(pid).values():  # (a loop, not sum() of a generator: every tick)
        total += stat.rss_bytes
    return total


@dataclass(slots=True)
class _Seen:
    ppid: int
    parent: tuple[int, float] | None  # the parent's key when the parent is tracked too
    own_s: float
    reaped_s: float


_OBSERVER = (-1, 0.0)  # stands for the measuring process when it is outside the tree


def _own_reaped_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


class ProcessTreeCpu:
    """Cumulative CPU seconds of a process tree, including processes that have ended.

    Call it (no argument) to get the CPU seconds the tree used since this object was
    created. Each call walks ``pid`` and its descendants (and keeps following those it
    has seen, should they be reparented) and adds, per process, the growth of its own
    CPU time since the previous call; a process seen for the first time adds all its
    CPU time.

    Processes that end between two calls are covered by the process that waits for
    them: its ``children_user``/``children_system`` grow by their whole CPU time, of
    which what was already counted at the previous call is subtracted. The waiter is
    the nearest living ancestor in the tree, or the measuring process itself when it
    started the tree's root (``carbonledger run`` does: it reaps the command, so the
    command's last moments come from ``os.times()``; other children it reaps in the
    same interval would be counted too). What a process used after the last call and
    before it ended is lost only when nobody in the tree waits for it.

    Processes are keyed by (pid, start time), so a reused pid is a new process.
    Thread-safe.
    """

    def __init__(self, pid: int, proc: StrPath = PROC) -> None:
        self._pid = pid
        self._proc = os.fspath(proc)
        self._observer_pid = os.getpid()
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._observer_reaped_s = 0.0
        self._total_s = 0.0
        self._started = False

    @property
    def pid(self) -> int:
        return self._pid

    def _snapshot(self) -> dict[tuple[int, float], _Seen]:
        stats = list(tree_snapshot(self._pid, self._proc).values())
        in_tree = {s.pid for s in stats}
        for pid, start in self._seen:  # seen before, since reparented out of the tree
            if pid not in in_tree and pid != _OBSERVER[0]:
                stat = read_stat(pid, self._proc)
                if stat is not None and stat.start == start:
                    stats.append(stat)
        keys = {s.pid: (s.pid, s.start) for s in stats}
        return {
            (s.pid, s.start): _Seen(
                ppid=s.ppid, parent=keys.get(s.ppid), own_s=s.own_s, reaped_s=s.reaped_s
            )
            for s in stats
        }

    def _lone(self) -> float | None:
        """The sampler's usual call: the tree was one process and still is that process (no
        birth, no death, nothing to credit), so the total grows by its own growth. None when
        anything else happened: the full computation then runs."""
        stats = tree_snapshot(self._pid, self._proc)
        if len(stats) != 1:
            return None
        (stat,) = stats.values()
        seen = self._seen.get((stat.pid, stat.start))
        if seen is None:
            return None
        self._total_s += max(0.0, stat.own_s - seen.own_s) + max(0.0, stat.reaped_s - seen.reaped_s)
        seen.own_s, seen.reaped_s = stat.own_s, stat.reaped_s
        # as the full computation does: the growth of what we reaped is measured from here
        self._observer_reaped_s = (
            stat.reaped_s if self._pid == self._observer_pid else _own_reaped_s()
        )
        return self._total_s

    def _waiter(self, gone: _Seen, now: dict[tuple[int, float], _Seen]) -> tuple[int, float] | None:
        """Who reaps a vanished process: its nearest living tracked ancestor, or us."""
        node = gone
        for _ in range(len(self._seen) + 1):
            if node.parent is None:
                return _OBSERVER if node.ppid == self._observer_pid else None
            if node.parent in now:
                return node.parent
            parent = self._seen.get(node.parent)
            if parent is None:
                return None
            node = parent
        return None  # pragma: no cover - a cycle cannot happen with (pid, start) keys

    def __call__(self) -> float:
        with self._lock:
            if self._started and len(self._seen) == 1:
                total = self._lone()
                if total is not None:
                    return total
            now = self._snapshot()
            observer_reaped_s = _own_reaped_s()
            if not self._started:
                self._started = True
                self._seen, self._observer_reaped_s = now, observer_reaped_s
                return 0.0
            # the part of each waiter's reaped-children growth that was already counted
            credited: dict[tuple[int, float], float] = {}
            for key, gone in self._seen.items():
                if key not in now:
                    waiter = self._waiter(gone, now)
                    if waiter is not None:
                        credited[waiter] = credited.get(waiter, 0.0) + gone.own_s + gone.reaped_s
            added = 0.0
            for key, cur in now.items():
                old = self._seen.get(key)
                if old is None:  # born since the last call
                    added += cur.own_s + cur.reaped_s
                    continue
                added += max(0.0, cur.own_s - old.own_s)
                added += max(0.0, cur.reaped_s - old.reaped_s - credited.get(key, 0.0))
            if _OBSERVER in credited:  # only then: our other children are none of the tree's
                growth = observer_reaped_s - self._observer_reaped_s
                added += max(0.0, growth - credited[_OBSERVER])
            self._total_s += added
            self._seen, self._observer_reaped_s = now, observer_reaped_s
            return self._total_s
