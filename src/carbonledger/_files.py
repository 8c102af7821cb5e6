"""Files written whole: an atomic replacement, an exclusive creation, and small JSON caches.

Ground layer: the standard library and :mod:`carbonledger.errors` only.

* :func:`atomic_write` writes a temporary file created exclusively in the target's folder
  (``O_CREAT | O_EXCL | O_NOFOLLOW``), flushes it to disk and renames it over the target, so a
  reader sees the old file or the new one, never a part. Only a regular file or a new path is
  replaced: a FIFO, a device (``/dev/null``), a socket or a directory at the target is refused
  with an :class:`~carbonledger.errors.InputError` naming it, and left as it was. A symbolic
  link there is never followed: the rename replaces the link itself, and the file it points
  at is left alone.
* :func:`write_new` publishes a new file whole (a key, a secret): never over anything that is
  there, never through a link.
* :func:`read_input` / :func:`read_input_text` read a file the user named (a forecast, an
  accounting export, a spec, a key): a regular file, a pipe, or ``-`` for standard input
  where the caller allows it; never a device (``/dev/zero``), a directory or a socket; at
  most ``max_bytes``; text decoded as UTF-8 with an error naming the file and the offset.
* :func:`read_json_cache` / :func:`write_json_cache`: a small JSON file that only saves time.
  A missing, damaged, oversized or special cache file reads as ``None``; a failed write is
  ignored. Callers check the shape of what they read.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Any

from carbonledger.errors import InputError

__all__ = [
    "CACHE_MAX_BYTES",
    "INPUT_MAX_BYTES",
    "atomic_write",
    "check_writable_target",
    "read_input",
    "read_input_text",
    "read_json_cache",
    "write_json_cache",
    "write_new",
]

#: the largest cache file read (bytes); a bigger one is ignored as damaged
CACHE_MAX_BYTES = 4 << 20
#: the largest input file read whole unless the caller says otherwise (bytes)
INPUT_MAX_BYTES = 64 << 20

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_writable_target(path: str | os.PathLike[str]) -> None:
    """Raise :class:`InputError` unless ``path`` is a regular file, a symbolic link (which a
    rename replaces, never follows) or does not exist yet."""
    target = os.fspath(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable folder, name too long...: the write itself reports it
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise InputError(
            f"refusing to write {target}: it is {_kind(info.st_mode)}, not a regular file; "
            "give the path of a regular file (or of one to create)"
        )


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_folder(folder: str) -> None:
    """Make a rename or a new name in ``folder`` durable (best effort: not every file system
    lets a folder be opened or synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _write_temp(target: str, data: bytes, mode: int | None, durable: bool) -> str:
    """A temporary file beside ``target`` holding ``data``; its path.

    ``mode`` None creates it as ``open()`` would (0666 less the umask); a mode is set exactly
    (the umask does not narrow it)."""
    tmp = _temp_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        _write_fd(fd, data)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    durable: bool = True,
) -> None:
    """Replace (or create) the regular file ``path`` with ``data``, atomically.

    :param data: bytes, or text written as UTF-8
    :param mode: permission bits of the file (e.g. ``0o600`` for secrets), set exactly; None
        gives what ``open(path, "w")`` gives a new file (0666 less the umask)
    :param durable: flush the file and its folder to disk (``fsync``); False only where a
        crash may lose the file (a fake sysfs tree in tests)
    :raises InputError: ``path`` is a FIFO, a device, a socket or a directory (left as it
        was); a symbolic link at ``path`` is replaced, the file it points at left alone
    :raises OSError: the folder is missing or not writable, the disk is full...; the
        temporary file is removed and ``path`` left as it was
    """
    target = os.fspath(path)
    check_writable_target(target)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = _write_temp(target, payload, mode, durable)
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if durable:
        _fsync_folder(os.path.dirname(target) or ".")


def write_new(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o600) -> None:
    """Create ``path`` holding ``data`` with ``mode``, published whole (a reader never sees it
    empty or half written): never over an existing file, never through a symbolic link.

    :raises FileExistsError: something (a file, a link, a dangling link) is at ``path``
    :raises OSError: the folder is missing or not writable...
    """
    target = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = _write_temp(target, payload, mode, durable=True)
    try:
        os.link(tmp, target)  # fails when anything, even a dangling link, is there
    finally:
        _unlink_quietly(tmp)
    _fsync_folder(os.path.dirname(target) or ".")


def _size_text(n_bytes: int) -> str:
    return f"{n_bytes / (1 << 20):g} MiB" if n_bytes >= 1 << 20 else f"{n_bytes:,} bytes"


def _read_capped(fd: int, max_bytes: int, what: str, name: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise InputError(
                f"{what} {name} is larger than {_size_text(max_bytes)}; give a smaller file "
                "(or split it)"
            )
        chunks.append(chunk)


def _loose(what: str, name: str, mode: int, forbid_mode: int) -> str:
    """The message refusing a file whose permissions are too loose."""
    bad = mode & forbid_mode
    who = "group" if not bad & 0o007 else "others"
    how = "readable" if bad & 0o044 else "writable"
    if bad & 0o044 and bad & 0o022:
        how = "readable and writable"
    return (
        f"{what} {name} is {how} by {who} (mode {mode:04o}); it is refused, as ssh refuses "
        f"such files. Fix: chmod {mode & ~forbid_mode & 0o777:o} {name}"
    )


def read_input(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = INPUT_MAX_BYTES,
    stdin: bool = False,
    forbid_mode: int = 0,
) -> bytes:
    """The bytes of the file ``path`` the user named, read whole.

    A regular file or a pipe (``<(command)``, a FIFO) is read; ``-`` is standard input when
    ``stdin`` is allowed. A device (``/dev/zero``), a directory or a socket is refused, so is
    more than ``max_bytes``. Every failure is an :class:`InputError` naming ``what``, the
    file and the reason (missing, unreadable, too large, not a file).

    :param forbid_mode: permission bits the file must not have, as ssh refuses loose key
        files: ``0o077`` for a secret (no access by group or others), ``0o022`` for a
        trust anchor (nobody else may write it)
    """
    import sys

    name = os.fspath(path)
    if stdin and name == "-":
        try:
            return _read_capped(sys.stdin.buffer.fileno(), max_bytes, what, "(standard input)")
        except (OSError, ValueError, AttributeError):  # no real stdin: read what Python has
            data = sys.stdin.buffer.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise InputError(
                    f"{what} (standard input) is larger than {_size_text(max_bytes)}"
                ) from None
            return bytes(data)
    if "\x00" in name:
        raise InputError(f"{what} {name!r} holds a NUL character; give a file path")
    try:
        fd = os.open(name, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"cannot read {what} {name}: not found; check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        loose = forbid_mode and stat.S_IMODE(info.st_mode) & forbid_mode
        if loose and (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise InputError(_loose(what, name, stat.S_IMODE(info.st_mode), forbid_mode))
        if stat.S_ISFIFO(info.st_mode):
            os.set_blocking(fd, True)  # a pipe the user gave: wait for its writer
        elif not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{what} {name} is {_kind(info.st_mode)}, not a regular file; give the path "
                "of a file"
            )
        elif info.st_size > max_bytes:
            raise InputError(
                f"{what} {name} is larger than {_size_text(max_bytes)} "
                f"({_size_text(info.st_size)}); give a smaller file (or split it)"
            )
        return _read_capped(fd, max_bytes, what, name)
    except OSError as exc:
        raise InputError(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_input_text(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = INPUT_MAX_BYTES,
    stdin: bool = False,
    forbid_mode: int = 0,
) -> str:
    """:func:`read_input` decoded as UTF-8 (a byte-order mark is dropped); a file that is not
    UTF-8 text is an :class:`InputError` naming the first bad byte's offset."""
    data = read_input(path, what, max_bytes=max_bytes, stdin=stdin, forbid_mode=forbid_mode)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        shown = "(standard input)" if stdin and os.fspath(path) == "-" else os.fspath(path)
        raise InputError(
            f"{what} {shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); give a text file"
        ) from None


def read_json_cache(path: str | os.PathLike[str], *, max_bytes: int = CACHE_MAX_BYTES) -> Any:
    """The JSON value in the cache file ``path``, or None when there is none usable: missing,
    unreadable, not a regular file (never opened through a link, never blocks on a FIFO),
    larger than ``max_bytes``, or not valid UTF-8 JSON."""
    import json

    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:  # grew while read
                return None
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def write_json_cache(path: str | os.PathLike[str], value: Any) -> bool:
    """Write ``value`` as JSON to the cache file ``path`` (its folder made when missing),
    atomically. False, and nothing raised, when it could not be written: a cache only saves
    time."""
    import json

    target = os.fspath(path)
    try:
        folder = os.path.dirname(target)
        if folder:
            os.makedirs(folder, exist_ok=True)
        atomic_write(target, json.dumps(value), durable=False)
    except (OSError, InputError, TypeError, ValueError):
        return False
    return True
