"""Files written whole: atomic replacement refuses special files, exclusive creation never
overwrites, and a small JSON cache tolerates whatever it finds. Real files in tmp_path."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from carbonledger._files import (
    atomic_write,
    read_json_cache,
    write_json_cache,
    write_new,
)
from carbonledger.errors import InputError


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# ----------------------------------------------------------------------------- atomic_write


def test_a_new_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    atomic_write(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask()
    assert leftovers(tmp_path) == []


def test_an_explicit_mode_is_set_exactly(tmp_path: Path) -> None:
    before = os.umask(0o077)
    try:
        atomic_write(tmp_path / "public", b"x", mode=0o644)
        atomic_write(tmp_path / "secret", b"y", mode=0o600)
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_an_existing_regular_file_is_replaced_by_a_new_one(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_bytes(b"old contents, longer than the new ones")
    old_inode = target.stat().st_ino
    with open(target, "rb") as reader:  # a reader holding the old file keeps it whole
        atomic_write(target, b"new")
        assert reader.read() == b"old contents, longer than the new ones"
    assert target.read_bytes() == b"new"
    assert target.stat().st_ino != old_inode  # renamed into place, not rewritten
    assert leftovers(tmp_path) == []


def test_a_fifo_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            atomic_write(fifo, b"data")
        except BaseException as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5), "writing to a FIFO blocked"
    assert len(errors) == 1 and isinstance(errors[0], InputError)
    assert str(fifo) in str(errors[0]) and "FIFO" in str(errors[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_dev_null_is_refused_and_left_as_it_was() -> None:
    before = os.lstat("/dev/null")
    with pytest.raises(InputError, match=r"/dev/null: it is a device"):
        atomic_write("/dev/null", b"data")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not [n for n in os.listdir("/dev") if n.startswith(".null.")]


def test_a_directory_and_a_socket_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(InputError, match="it is a directory"):
        atomic_write(folder, b"x")
    assert folder.is_dir() and list(folder.iterdir()) == []
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        with pytest.raises(InputError, match="it is a socket"):
            atomic_write("sock", b"x")
        assert stat.S_ISSOCK(os.lstat("sock").st_mode)
    assert leftovers(tmp_path) == []


def test_a_symbolic_link_is_replaced_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert real.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    atomic_write(dangling, "x")
    assert not (tmp_path / "nowhere").exists() and dangling.read_text() == "x"
    to_null = tmp_path / "to-null"
    to_null.symlink_to("/dev/null")  # the link goes, the device stays
    atomic_write(to_null, "y")
    assert to_null.read_text() == "y" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_missing_folder_is_an_os_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "such" / "file", b"x")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- write_new


def test_write_new_publishes_a_whole_file_with_its_mode(tmp_path: Path) -> None:
    key = tmp_path / "key"
    write_new(key, "secret\n")
    assert key.read_text() == "secret\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_new(key, "other\n")
    assert key.read_text() == "secret\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_write_new_never_writes_through_a_link(tmp_path: Path) -> None:
    link = tmp_path / "key"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):
        write_new(link, "secret")
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


# ----------------------------------------------------------------------------- JSON cache


def test_a_cache_round_trips_and_makes_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "carbonledger" / "x.json"
    assert read_json_cache(path) is None
    assert write_json_cache(path, {"hours": {"1": 2.5}})
    assert read_json_cache(path) == {"hours": {"1": 2.5}}


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe\x00", b""], ids=["corrupt", "not-utf8", "empty"]
)
def test_a_damaged_cache_reads_as_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(content)
    assert read_json_cache(path) is None
    assert write_json_cache(path, [1, 2])  # and is rewritten
    assert read_json_cache(path) == [1, 2]


def test_an_oversized_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"pad": "' + "x" * 2000 + '"}')
    assert read_json_cache(path, max_bytes=1000) is None
    assert read_json_cache(path, max_bytes=5000) == {"pad": "x" * 2000}


def test_a_special_or_linked_cache_is_ignored_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert read_json_cache(fifo) is None  # returns at once: nothing writes to the FIFO
    assert write_json_cache(fifo, {"a": 1}) is False
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.json"
    real.write_text('{"a": 1}')
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert read_json_cache(link) is None  # not read through a link
    assert write_json_cache(link, {"a": 2})  # the link is replaced by the cache file
    assert real.read_text() == '{"a": 1}' and read_json_cache(link) == {"a": 2}


def test_an_unwritable_cache_is_false_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert write_json_cache(blocker / "sub" / "c.json", {"a": 1}) is False  # folder is a file
    assert write_json_cache(tmp_path / "c.json", {"not", "json"}) is False  # a set
