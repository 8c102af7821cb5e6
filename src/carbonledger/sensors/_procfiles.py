"""procfs files kept open between reads (the sampler reads the same few every interval).

A procfs file is regenerated on each read, so a file kept open and read again with ``pread``
at offset 0 gives its content now: one system call per read instead of three, which matters
to a sampler thread that has to win the interpreter lock back after every call.

A file already open is read again through libc's ``pread`` called with :mod:`ctypes` as a
Python API call (``ctypes.PyDLL``), which keeps the interpreter lock: ``os.pread`` lets it go,
and beside a busy thread the sampler then switches out until it wins it back (about 5
voluntary switches a tick instead of 7). Priced once per wake-up beside a busy thread
(``benchmarks/tick_prices.py``), the two ways cost about the same: a release of the lock costs
the sampler about 50 us, and so does a ctypes call made from cold caches. Holding it is safe
here because a procfs read is made by the kernel from memory, never waits on a disk or a
network, and takes microseconds. Where ctypes or libc's ``pread`` is missing, ``os.pread`` is
used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["MAX_CACHED_FDS", "ProcFiles"]

#: at most this many procfs files stay open between reads (a job's own fd limit matters more)
MAX_CACHED_FDS = 64
#: the most a procfs file gives at one read (bytes); a longer one is read on in chunks
CHUNK = 8192

Pread = Callable[[int, int, int], bytes]


def _locked_pread() -> Pread:
    """``pread`` that keeps the interpreter lock (``os.pread`` when that cannot be made)."""
    try:
        import ctypes

        fn = ctypes.PyDLL(None, use_errno=True).pread
    except (ImportError, OSError, AttributeError):  # pragma: no cover - no ctypes, no libc
        return os.pread
    fn.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long)  # off_t
    fn.restype = ctypes.c_ssize_t
    buffer = ctypes.create_string_buffer(CHUNK)
    lock = threading.Lock()  # one buffer: a thread switch between the call and the copy

    def pread(fd: int, size: int, offset: int) -> bytes:
        if size > CHUNK:
            return os.pread(fd, size, offset)
        with lock:
            got = fn(fd, buffer, size, offset)
            if got < 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
            return buffer.raw[:got]

    return pread


class ProcFiles:
    """procfs files kept open and re-read with ``pread`` at offset 0 (procfs regenerates
    the content on each read): one system call per read instead of open/read/close, which
    matters to a sampler thread that has to win the GIL back after every call."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()
        #: made at the first read of a file already open (the sampler's first tick, not the
        #: start of a run: importing ctypes takes milliseconds)
        self._pread: Pread | None = None

    def _read_fd(self, fd: int) -> bytes:
        chunks = [os.pread(fd, CHUNK, 0)]
        while len(chunks[-1]) == CHUNK:  # a long file (many children): read on
            chunks.append(os.pread(fd, CHUNK, CHUNK * len(chunks)))
        return b"".join(chunks)

    def read(self, path: str) -> bytes | None:
        """The file's content now (possibly empty), or None when it cannot be read (the
        process or thread has ended, or the file does not exist)."""
        fd = self._fds.get(path)  # the sampler's usual case: a short file already open
        if fd is not None:
            pread = self._pread
            if pread is None:
                pread = self._pread = _locked_pread()
            try:
                data = pread(fd, CHUNK, 0)
            except OSError:
                pass  # an ended process's file: reopened (or dropped) below
            else:
                if len(data) < CHUNK:
                    return data
        for _attempt in range(2):  # a cached fd of an ended process: reopen once
            with self._lock:
                fd = self._fds.get(path)
            fresh = fd is None
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    return None
            try:
                data = self._read_fd(fd)
            except OSError:
                if fresh:
                    os.close(fd)
                    return None
                self._drop(path)
                continue
            if fresh:
                self._keep(path, fd)
            return data
        return None

    def _keep(self, path: str, fd: int) -> None:
        with self._lock:
            if path not in self._fds and len(self._fds) < MAX_CACHED_FDS:
                self._fds[path] = fd
                return
        os.close(fd)

    def _drop(self, path: str) -> None:
        with self._lock:
            fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def retain(self, root: str, pids: set[int]) -> None:
        """Close the cached files under ``root`` of processes not in ``pids``."""
        prefix = root.rstrip("/") + "/"
        with self._lock:
            stale = [
                path
                for path in self._fds
                if path.startswith(prefix)
                and (head := path[len(prefix) :].split("/", 1)[0]).isdigit()
                and int(head) not in pids
            ]
            fds = [self._fds.pop(path) for path in stale]
        for fd in fds:
            os.close(fd)
