"""CPU time and resident memory of the machine and of a process tree (via psutil).

Times are seconds of CPU summed over all CPUs, cumulative, so a sensor takes the
difference between two calls. psutil is imported inside the functions: importing this
module costs nothing.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["ProcessTreeCpu", "logical_cpu_count", "machine_busy_cpu_s", "tree_rss_bytes"]


def logical_cpu_count() -> int:
    """Logical CPUs of the machine (at least 1)."""
    import psutil

    return psutil.cpu_count(logical=True) or 1


def machine_busy_cpu_s() -> float:
    """CPU seconds the whole machine spent busy (all CPUs, since boot).

    Busy = user + nice + system + irq + softirq: everything but idle, iowait and steal
    (a virtual CPU's stolen time ran some other guest). On Linux ``guest`` time is
    already inside ``user``, so it is not added again.
    """
    import psutil

    t = psutil.cpu_times()
    return float(
        t.user
        + t.system
        + getattr(t, "nice", 0.0)
        + getattr(t, "irq", 0.0)
        + getattr(t, "softirq", 0.0)
    )


def _tree(pid: int) -> list[Any]:
    """The process ``pid`` and its living descendants (empty if ``pid`` is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def tree_rss_bytes(pid: int) -> float:
    """Resident memory of ``pid`` and its living descendants, in bytes.

    RSS counts pages shared between processes (forked workers, shared libraries) once
    per process, so the sum can exceed what the tree really holds; callers cap it at
    the installed memory.
    """
    import psutil

    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return float(total)


@dataclass(slots=True)
class _Seen:
    ppid: int
    parent: tuple[int, float] | None  # the parent's key when the parent is tracked too
    own_s: float  # user + system of the process itself
    reaped_s: float  # children_user + children_system: descendants it has waited for


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

    Processes are keyed by (pid, create time), so a reused pid is a new process.
    Thread-safe; psutil errors (a process ending mid-walk) are skipped.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid
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
        import psutil

        procs = _tree(self._pid)
        in_tree = {p.pid for p in procs}
        for pid, created in self._seen:  # seen before, since reparented out of the tree
            if pid not in in_tree:
                try:
                    proc = psutil.Process(pid)
                    if proc.create_time() == created:
                        procs.append(proc)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
        rows: list[tuple[tuple[int, float], int, float, float]] = []
        for proc in procs:
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    t = proc.cpu_times()
                    ppid = proc.ppid()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            reaped = getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
            rows.append((key, ppid, float(t.user + t.system), float(reaped)))
        keys = {key[0]: key for key, _, _, _ in rows}
        return {
            key: _Seen(ppid=ppid, parent=keys.get(ppid), own_s=own, reaped_s=reaped)
            for key, ppid, own, reaped in rows
        }

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
        return None  # pragma: no cover - a cycle cannot happen with (pid, create time) keys

    def __call__(self) -> float:
        with self._lock:
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
