"""Systems without procfs (macOS, Windows, BSDs): the process tree and the machine's busy
CPU time through psutil, in the shapes :mod:`carbonledger.sensors._linux` returns
(:class:`~carbonledger.sensors._procstat.ProcStat`, shared by both without either importing
the other)."""

from __future__ import annotations

from carbonledger.sensors._procstat import ProcStat

__all__ = ["machine_busy_cpu_s_psutil", "walk_psutil"]


def machine_busy_cpu_s_psutil() -> float:  # pragma: no cover - systems without /proc/stat
    """CPU seconds the whole machine spent busy (all CPUs, since boot), from psutil."""
    import psutil

    t = psutil.cpu_times()
    return float(
        t.user
        + t.system
        + getattr(t, "nice", 0.0)
        + getattr(t, "irq", 0.0)
        + getattr(t, "softirq", 0.0)
    )


def walk_psutil(pid: int) -> dict[int, ProcStat]:  # pragma: no cover - non-Linux systems
    """``pid`` and its living descendants, by pid, from psutil."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return {}
    tree: dict[int, ProcStat] = {}
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                tree[p.pid] = ProcStat(
                    pid=p.pid,
                    ppid=p.ppid(),
                    start=p.create_time(),
                    own_s=float(t.user + t.system),
                    reaped_s=float(
                        getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
                    ),
                    rss_bytes=float(p.memory_info().rss),
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return tree
