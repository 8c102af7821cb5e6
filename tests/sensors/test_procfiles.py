"""procfs files kept open and read again (the real /proc, and files in tmp_path)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from carbonledger.sensors._procfiles import CHUNK, ProcFiles, _locked_pread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs")


def _voluntary_switches() -> int:
    with open("/proc/thread-self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in /proc/thread-self/status")


def test_a_file_kept_open_gives_its_content_now(tmp_path: Path) -> None:
    files = ProcFiles()
    path = tmp_path / "counter"
    path.write_bytes(b"1\n")
    assert files.read(str(path)) == b"1\n"
    with open(path, "r+b") as fh:  # the same file changed in place, as procfs content does
        fh.write(b"22\n")
    assert files.read(str(path)) == b"22\n"  # read again through the fd kept open
    assert files.read(str(tmp_path / "missing")) is None


def test_a_long_file_is_read_whole_and_a_vanished_one_is_dropped(tmp_path: Path) -> None:
    files = ProcFiles()
    path = tmp_path / "long"
    body = b"".join(b"%d\n" % i for i in range(CHUNK))  # several chunks long
    path.write_bytes(body)
    assert files.read(str(path)) == body
    assert files.read(str(path)) == body  # kept open: a full chunk makes it read on
    path.unlink()
    assert files.read(str(path)) == body  # an unlinked file's fd still reads (as a zombie's)
    files.retain(str(tmp_path), set())  # no pid names it: kept
    assert files.read(str(path)) == body


def test_the_locked_read_reads_what_os_pread_reads() -> None:
    pread = _locked_pread()
    fd = os.open("/proc/self/stat", os.O_RDONLY)
    try:
        mine, theirs = pread(fd, CHUNK, 0), os.pread(fd, CHUNK, 0)
        assert mine.startswith(f"{os.getpid()} (".encode())
        assert mine.split(b")")[0] == theirs.split(b")")[0]  # pid and command name
        with pytest.raises(OSError):
            pread(-1, CHUNK, 0)  # a bad fd raises as os.pread does
    finally:
        os.close(fd)


def test_a_procfs_read_keeps_the_interpreter_lock_beside_a_busy_thread() -> None:
    """The reason for the locked read: ``os.pread`` lets the interpreter lock go, and beside a
    busy thread the reader then sleeps until it wins it back (a voluntary context switch each
    time); a read that keeps the lock does not sleep."""
    files = ProcFiles()
    files.read("/proc/stat")  # opened (the kept fd is read through the locked pread from now)
    stop = threading.Event()

    def busy() -> None:
        x = 0
        while not stop.is_set():
            for i in range(1000):
                x += i

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        fd = os.open("/proc/stat", os.O_RDONLY)
        try:
            before = _voluntary_switches()
            for _ in range(200):
                os.pread(fd, CHUNK, 0)
            released = _voluntary_switches() - before
        finally:
            os.close(fd)
        before = _voluntary_switches()
        for _ in range(200):
            assert files.read("/proc/stat")
        kept = _voluntary_switches() - before
    finally:
        stop.set()
        thread.join()
    # the lock still changes hands every switch interval (5 ms): a few switches, not 200
    # (os.pread makes about one a read here; on a machine so loaded that the busy thread is
    # rarely on a CPU it makes fewer, which is why it is reported, not compared)
    assert kept <= 40, f"{kept} switches in 200 locked reads ({released} with os.pread)"
