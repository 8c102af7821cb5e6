"""The local journal: the signed batches a ledger could not take yet.

When the ledger cannot be opened or written (a corrupt or read-only file, a full disk, a
locked database, PostgreSQL down or silent), a tracker keeps measuring and appends each
signed batch it makes to its journal under the user's data folder
(``$XDG_DATA_HOME/carbonledger/spool/``, or ``$CARBONLEDGER_SPOOL_DIR``), one file per member
of a run; it keeps trying the ledger in the background and moves the journal into it once it
answers. What is left (the process ended first) is replayed by ``carbonledger sync`` or by the
next tracker that opens that ledger.

A journal is JSON Lines: a header naming the ledger it was meant for, then one signed batch
per line (:meth:`carbonledger.events.SignedBatch.to_dict`) — the bytes its member signed where
it measured. A journal is not trusted because it sits in the user's folder: a replay checks
every batch's hash and signature, and takes only batches signed by a key it trusts (the
replaying user's own, the trusted-keys file, keys given to ``sync --key``); an edited or
planted journal is refused whole and left where it is. Replaying twice, or two replays at
once, duplicate nothing (the ledger skips a batch it holds).

Files are created with mode 0600 inside a 0700 folder (a PostgreSQL URL may hold a
password). A journal in use by a live tracker is locked (``flock``) and skipped by a replay.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError, IntegrityError, LedgerError
from carbonledger.events import DecodeError, SignedBatch, batch_message

if TYPE_CHECKING:
    from carbonledger.ledger import Ledger

__all__ = [
    "FORMAT",
    "IN_USE",
    "Journal",
    "Replayed",
    "journal_dir",
    "journal_key",
    "journal_target",
    "pending",
    "read_journal",
    "replay",
    "replay_pending",
    "trusted_for_replay",
]

FORMAT = "carbonledger-journal/2"
#: the format of carbonledger 0.1.0's journals (unsigned calls: never replayed blindly)
OLD_FORMAT = "carbonledger-spool/1"
#: :attr:`Replayed.error` of a journal a live tracker still writes
IN_USE = "in use by a running tracker"
SUFFIX = ".jsonl"
#: a journal longer than this is refused unread (bytes)
MAX_JOURNAL_BYTES = 1 << 30


def journal_dir(env: Mapping[str, str] | None = None) -> str:
    """Where journals live: ``$CARBONLEDGER_SPOOL_DIR``, else
    ``$XDG_DATA_HOME/carbonledger/spool`` (``~/.local/share`` when unset)."""
    from carbonledger._dirs import spool_dir

    return spool_dir(env)


#: the encoder of journal lines, made once (``json.dumps`` with options makes one per call)
_LINE_JSON = json.JSONEncoder(separators=(",", ":"))


def _line(obj: Any) -> bytes:
    return (_LINE_JSON.encode(obj) + "\n").encode()


_quote = json.encoder.encode_basestring_ascii  # a JSON string, as _LINE_JSON writes one


def batch_line(batch: SignedBatch) -> bytes:
    """A batch's line: ``batch.to_dict()`` as :func:`_line` writes it, made without the dict
    and the encoder's pass over it (a sampler appends one every tick)."""
    return (
        f'{{"body":{_quote(batch.body)},"hash":{_quote(batch.hash)},'
        f'"signer":{_quote(batch.signer)},"signature":{_quote(batch.signature)}}}\n'
    ).encode()


def journal_key(target: str) -> str:
    """A ledger as journals name it in their header: a file by its absolute path (a journal
    may be replayed from another folder), a URL as given."""
    from carbonledger.ledger.transports import scheme_of

    return os.path.abspath(target) if scheme_of(target) == "" else target


# --- writing --------------------------------------------------------------------------------


class Journal:
    """The journal of one member of a run, created on its first batch.

    ``target`` names the ledger the batches were meant for (a path or a URL); it is kept in
    the header so that ``carbonledger sync`` knows where to replay them.
    """

    def __init__(
        self, target: str, run_id: str, member_id: str, *, directory: str | None = None
    ) -> None:
        self.target = target
        self.directory = directory if directory is not None else journal_dir()
        safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)[:80]
        self.path = os.path.join(self.directory, f"{safe_run}-{member_id}{SUFFIX}")
        self._fd: int | None = None
        #: the length of the header this process wrote (0: none yet)
        self._header_bytes = 0
        #: batches written to this journal (by this process)
        self.count = 0
        #: (under the lock) a thread is forcing the journal to disk; another force was asked
        #: for meanwhile (the thread goes round once more)
        self._sync_lock = threading.Lock()
        self._syncing = False
        self._sync_again = False

    @property
    def active(self) -> bool:
        """Whether anything was written to the journal."""
        return self._fd is not None

    def _open(self) -> int:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
            if os.fstat(fd).st_size == 0:
                self._header_bytes = os.write(fd, self._header())
        except BaseException:
            os.close(fd)
            raise
        return fd

    def append(self, batch: SignedBatch, *, sync: bool = False) -> None:
        """Append one signed batch; ``sync`` forces it to disk (a run's start and end: a
        process killed keeps what it wrote either way, ``sync`` guards against a power cut).
        The force is made by a thread of its own, at once: on a loaded disk an ``fsync`` takes
        hundreds of milliseconds, and the thread appending may be the user's (a run's start
        while the ledger is locked); :meth:`close` forces what is left before it returns."""
        if self._fd is None:
            self._fd = self._open()
        os.write(self._fd, batch_line(batch))
        self.count += 1
        if sync:
            self._sync_soon(self._fd)

    def _sync_soon(self, fd: int) -> None:
        with self._sync_lock:
            if self._syncing:  # the thread at work forces this append too, going round again
                self._sync_again = True
                return
            self._syncing = True
        threading.Thread(
            target=self._sync_loop, args=(fd,), name="carbonledger-journal-sync", daemon=True
        ).start()

    def _sync_loop(self, fd: int) -> None:
        while True:
            with contextlib.suppress(OSError):  # closed meanwhile: close() forced it
                os.fsync(fd)
            with self._sync_lock:
                if not self._sync_again:
                    self._syncing = False
                    return
                self._sync_again = False

    def reset(self) -> None:
        """Empty the journal (every batch of it is in the ledger), keeping it open and locked:
        it holds its header only."""
        if self._fd is None:
            return
        if self._header_bytes:  # one system call, and never a moment without the header
            os.ftruncate(self._fd, self._header_bytes)
        else:  # (a journal this process did not start)
            os.ftruncate(self._fd, 0)
            self._header_bytes = os.write(self._fd, self._header())
        self.count = 0

    def _header(self) -> bytes:
        return _line({"format": FORMAT, "ledger": self.target, "created_unix_s": time.time()})

    def batches(self, start: int = 0) -> list[SignedBatch]:
        """The batches written so far (from the ``start``-th), read back."""
        if self._fd is None:
            return []
        _, batches, _ = read_journal(self.path)
        return batches[start:]

    def close(self) -> None:
        """Force the journal to disk and release it for a replay."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.close(fd)

    def discard(self) -> None:
        """Remove the journal (every batch of it is in the ledger) and release it."""
        fd, self._fd = self._fd, None
        for name in (self.path, self.path + ".done"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        if fd is not None:
            os.close(fd)
        self.count = 0


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """What a replay did with one journal."""

    path: str
    target: str
    #: batches new to the ledger now (batches it held already not counted)
    batches: int
    #: True when the journal was replayed to its end and removed
    done: bool
    error: str = ""

    @property
    def calls(self) -> int:
        """The name of earlier versions for :attr:`batches`."""
        return self.batches


def read_journal(path: str) -> tuple[dict[str, Any], list[SignedBatch], int]:
    """A journal's header, its batches and the count of lines a crash cut short (never
    replayed). :class:`InputError` for a file that is not a journal of this format."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"cannot read journal {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        import stat

        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"journal {path} is not a regular file")
        if info.st_size > MAX_JOURNAL_BYTES:
            raise InputError(
                f"journal {path} is {info.st_size} bytes, more than a journal holds "
                f"({MAX_JOURNAL_BYTES}); it was not read"
            )
        raw = fh.read()
    # the piece after the last newline is empty, or a line cut short by a crash (never a
    # whole write): either way it is not replayed
    lines = raw.split(b"\n")
    cut = 1 if lines[-1] else 0
    lines = lines[:-1]
    if not lines:
        raise InputError(f"journal {path} is empty")
    try:
        header = json.loads(lines[0])
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path} is not a carbonledger journal: {exc}") from None
    if not isinstance(header, dict):
        raise InputError(f"{path} is not a carbonledger journal")
    if header.get("format") == OLD_FORMAT:
        raise InputError(
            f"journal {path} was written by carbonledger 0.1.0: its lines are not signed where "
            "they were measured, so it is not replayed (it is left as it is)"
        )
    if header.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} journal")
    batches = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            batches.append(SignedBatch.from_dict(json.loads(line)))
        except (ValueError, RecursionError, DecodeError) as exc:
            raise InputError(f"journal {path}, line {n}: not a signed batch ({exc})") from None
    return header, batches, cut


def journal_target(path: str) -> str:
    """The ledger (path or URL) a journal's batches were meant for."""
    target = read_journal(path)[0].get("ledger")
    if not isinstance(target, str) or not target or target == "memory":
        raise InputError(f"journal {path} names no ledger to replay into; give --ledger")
    return target


def pending(directory: str | None = None, target: str | None = None) -> list[str]:
    """Journals waiting to be replayed (oldest first), optionally only those for ``target``."""
    directory = directory if directory is not None else journal_dir()
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return []
    paths = [os.path.join(directory, n) for n in names]
    paths.sort(key=lambda p: os.stat(p).st_mtime)
    if target is None:
        return paths
    out = []
    for path in paths:
        with contextlib.suppress(OSError, InputError):
            if _header_target(path) == target:
                out.append(path)
    return out


def _header_target(path: str) -> str | None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        first = fh.readline(1 << 16)
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):
        return None
    return header.get("ledger") if isinstance(header, dict) else None


def trusted_for_replay(
    own: str | None, keys: Iterable[str] = (), *, user_file: bool = True
) -> set[str]:
    """The keys a replay takes batches from: the replaying user's own public key (hex), the
    trusted-keys file and ``keys`` (files, fingerprints, hex keys)."""
    from carbonledger.ledger.keys import load_trusted_keys

    trusted, _ = load_trusted_keys(list(keys), user_file=user_file)
    out = set(trusted)
    if own:
        out.add(own)
    return out


def check_batches(
    batches: Iterable[SignedBatch], trusted: set[str], *, accept_unsigned: bool = False
) -> str:
    """Why these batches may not be replayed ('' when they may): a batch edited since it was
    signed, a signature that does not hold, or a signer not among ``trusted`` (hex keys or
    fingerprints)."""
    from carbonledger.ledger.keys import fingerprint, verify_signature

    for n, b in enumerate(batches, start=1):
        if not b.hash_ok:
            return f"batch {n} was changed after it was signed (its hash is not its body's)"
        try:
            b.decode()
        except DecodeError as exc:
            return f"batch {n} cannot be read ({exc})"
        if not b.signer:
            if accept_unsigned:
                continue
            return (
                f"batch {n} is not signed (no key could be used where it was made); replay it "
                "with 'carbonledger sync --accept-unsigned' to record it as unsigned"
            )
        try:
            message = batch_message(b.hash)
        except ValueError:
            return f"batch {n} has a malformed hash"
        if not verify_signature(b.signer, b.signature, message):
            return f"the signature of batch {n} does not hold: it was changed or forged"
        try:
            fp = fingerprint(b.signer)
        except ValueError:
            return f"batch {n} names a malformed key"
        if b.signer not in trusted and fp not in trusted:
            return (
                f"batch {n} is signed by key {fp}, which you do not trust; if it is yours, "
                "add it to the trusted keys ('carbonledger keys --trust FILE') or pass "
                "'carbonledger sync --key FILE'"
            )
    return ""


@contextlib.contextmanager
def _locked(path: str) -> Iterator[bool]:
    """Hold the journal's lock while replaying it; False when a live tracker holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _progress(path: str) -> int:
    try:
        with open(path + ".done") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _save_progress(path: str, count: int) -> None:
    from carbonledger._files import atomic_write

    atomic_write(path + ".done", str(count), mode=0o600, durable=False)


#: batches per transaction when a journal is replayed
REPLAY_CHUNK = 256


def replay(
    path: str, ledger: Ledger, trusted: set[str], *, accept_unsigned: bool = False
) -> Replayed:
    """Replay one journal into ``ledger``, in order, then remove it.

    Every batch is checked first (:func:`check_batches`): a journal holding one that was
    edited, forged or signed by a key not in ``trusted`` is refused whole (``error`` says
    why; the file is left as it is). A journal held by a live tracker is skipped (``done``
    False, ``error`` :data:`IN_USE`). A ledger failure stops the replay where it is (a
    progress file keeps the place) and is reported in ``error``.
    """
    with _locked(path) as mine:
        if not mine:
            return Replayed(path, "", 0, False, IN_USE)
        try:
            header, batches, _ = read_journal(path)
        except InputError as exc:
            return Replayed(path, "", 0, False, str(exc))
        target = str(header.get("ledger", ""))
        refused = check_batches(batches, trusted, accept_unsigned=accept_unsigned)
        if refused:
            return Replayed(path, target, 0, False, f"not replayed: {refused}")
        start = min(_progress(path), len(batches))
        count, new = start, 0
        try:
            for i in range(start, len(batches), REPLAY_CHUNK):
                chunk = batches[i : i + REPLAY_CHUNK]
                new += ledger.append(chunk)
                count += len(chunk)
                _save_progress(path, count)
        except (LedgerError, InputError, IntegrityError, OSError) as exc:
            return Replayed(path, target, new, False, str(exc))
        for name in (path, path + ".done"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    return Replayed(path, target, new, True)


def replay_pending(
    ledger: Ledger,
    trusted: set[str] | None = None,
    *,
    directory: str | None = None,
    target: str = "",
    skip: str = "",
) -> list[Replayed]:
    """Replay every journal on this machine meant for ``ledger`` (named ``target`` when the
    ledger was opened by it, else by its location), oldest first: what a process killed
    before its commit wrote ahead, or what an outage left. ``trusted`` defaults to the
    ledger's own key and the trusted-keys file; journals in use by a live tracker, and
    ``skip``, are left alone. A journal that cannot be read is reported, never raised."""
    if trusted is None:
        try:
            trusted = trusted_for_replay(ledger.public_key())
        except (InputError, LedgerError) as exc:
            return [Replayed(directory or journal_dir(), ledger.location, 0, False, str(exc))]
    names = {target or ledger.location, journal_key(ledger.location)}
    out = []
    for path in pending(directory):
        if path == skip:
            continue
        try:
            if _header_target(path) not in names:
                continue
        except OSError:
            continue
        try:
            out.append(replay(path, ledger, trusted))
        except (InputError, LedgerError, IntegrityError, OSError) as exc:
            out.append(Replayed(path, ledger.location, 0, False, str(exc)))
    return out
