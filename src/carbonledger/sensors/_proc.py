"""CPU time and resident memory of the machine and of a process tree (via psutil).

Times are seconds of CPU summed over all CPUs, cumulative, so a sensor takes the
difference between two calls. psutil is imported inside the functions: importing this
module costs nothing.
"""

from __future__ import annotations

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
    parent: tuple[int, float] | None
    own_s: float  # user + system of the process itself
    reaped_s: float  # children_user + children_system: descendants it has waited for


class ProcessTreeCpu:
    """Cumulative CPU seconds of a process tree, including processes that have ended.

    Call it (no argument) to get the CPU seconds the tree used since this object was
    created. Each call walks ``pid`` and its descendants and adds, per process, the
    growth of its own CPU time since the previous call; a process seen for the first
    time adds all its CPU time. Processes that end between two calls are covered by
    their parent's ``children_user``/``children_system`` (the time of the children it
    has waited for, as ``os.times()`` reports for the own process): their growth is
    added, less what was already counted for the children that disappeared. What a
    process used after the last call and before it ended is lost only when nobody in
    the tree waits for it (a daemon reparented to init).

    Processes are keyed by (pid, create time), so a reused pid is a new process.
    Thread-safe; psutil errors (a process ending mid-walk) are skipped.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._total_s = 0.0
        self._started = False

    @property
    def pid(self) -> int:
        return self._pid

    def _snapshot(self) -> dict[tuple[int, float], _Seen]:
        import psutil

        rows: list[tuple[tuple[int, float], int, float, float]] = []
        for proc in _tree(self._pid):
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
            key: _Seen(parent=keys.get(ppid), own_s=own, reaped_s=reaped)
            for key, ppid, own, reaped in rows
        }

    def __call__(self) -> float:
        with self._lock:
            now = self._snapshot()
            if not self._started:
                self._started = True
                self._seen = now
                return 0.0
            # what each living process's reaped-children growth already holds
            credited: dict[tuple[int, float], float] = {}
            for key, gone in self._seen.items():
                if key in now:
                    continue
                ancestor = gone.parent  # the nearest living ancestor reaps it, directly or not
                for _ in range(len(self._seen)):
                    if ancestor is None or ancestor in now:
                        break
                    parent = self._seen.get(ancestor)
                    ancestor = parent.parent if parent is not None else None
                if ancestor is not None and ancestor in now:
                    credited[ancestor] = credited.get(ancestor, 0.0) + gone.own_s + gone.reaped_s
            added = 0.0
            for key, cur in now.items():
                old = self._seen.get(key)
                if old is None:  # born since the last call
                    added += cur.own_s + cur.reaped_s
                    continue
                added += max(0.0, cur.own_s - old.own_s)
                added += max(0.0, cur.reaped_s - old.reaped_s - credited.get(key, 0.0))
            self._total_s += added
            self._seen = now
            return self._total_s
