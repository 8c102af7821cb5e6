"""The local spool: an append-only journal of ledger writes that could not be made.

When the ledger cannot be opened or written (a corrupt or read-only file, a full disk, a
locked database, PostgreSQL down), the tracker keeps measuring and appends each write it
would have made to a journal under the user's data directory
(``$XDG_DATA_HOME/carbonledger/spool/``, or ``$CARBONLEDGER_SPOOL_DIR``), one file per
member of a run. The next tracker that opens that ledger, or ``carbonledger sync``, replays
the journal into it, in order, and removes it. Nothing measured is lost.

A journal is JSON Lines: a header line naming the ledger it was meant for, then one line per
write (``{"op": "add_samples", ...}``). Progress is kept in a ``.done`` file beside it (the
count of lines already replayed), so a replay that stops half-way resumes where it stopped.
A journal in use by a live tracker is locked (``flock``) and skipped by a replay.

Files are created with mode 0600 inside a 0700 directory: a PostgreSQL URL may hold a
password.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError, LedgerError
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

if TYPE_CHECKING:
    from carbonledger.ledger.base import Ledger

__all__ = [
    "FORMAT",
    "IN_USE",
    "Replayed",
    "Spool",
    "decode_call",
    "encode_call",
    "journal_target",
    "pending",
    "replay",
    "spool_dir",
]

FORMAT = "carbonledger-spool/1"
#: :attr:`Replayed.error` of a journal a live tracker still writes
IN_USE = "in use by a running tracker"
SUFFIX = ".jsonl"


def spool_dir(env: Mapping[str, str] | None = None) -> str:
    """Where journals live: ``$CARBONLEDGER_SPOOL_DIR``, else
    ``$XDG_DATA_HOME/carbonledger/spool`` (``~/.local/share`` when unset)."""
    env = os.environ if env is None else env
    if env.get("CARBONLEDGER_SPOOL_DIR"):
        return env["CARBONLEDGER_SPOOL_DIR"]
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "carbonledger", "spool")


# --- encoding -------------------------------------------------------------------------------


def _record_dict(obj: Any) -> dict[str, Any]:
    """A record's fields in order (shallow: nested records stay objects)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def encode_call(op: str, args: Sequence[Any]) -> dict[str, Any]:
    """One ledger call as a JSON-able dict (a journal line; :func:`decode_call` reverses it).
    Also how a Ray node ships its records to the driver."""
    if op == "open_run":
        return {"op": op, "run": _record_dict(args[0])}
    if op == "join":
        return {"op": op, "member": _record_dict(args[0]), "lease_ttl_s": args[1]}
    if op == "register_devices":
        return {"op": op, "run_id": args[0], "member_id": args[1],
                "infos": [asdict(i) for i in args[2]]}  # fmt: skip
    if op == "add_samples":
        return {"op": op, "run_id": args[0], "member_id": args[1],
                "samples": [list(_record_dict(s).values()) for s in args[2]]}  # fmt: skip
    if op == "add_window":
        window: WindowSummary = args[2]
        return {"op": op, "run_id": args[0], "member_id": args[1],
                "window": {**_record_dict(window),
                           "components": [_record_dict(c) for c in window.components]}}  # fmt: skip
    if op == "finish_member":
        return {"op": op, "run_id": args[0], "member_id": args[1],
                "components": [_record_dict(c) for c in args[2]],
                "status": args[3], "errors": list(args[4])}  # fmt: skip
    if op == "update_meta":
        return {"op": op, "run_id": args[0], "meta": args[1]}
    if op == "heartbeat":
        return {"op": op, "run_id": args[0], "member_id": args[1], "lease_ttl_s": args[2]}
    raise ValueError(f"no spool encoding for ledger call {op!r}")


def decode_call(line: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """A journal line back into the ledger call it stands for."""
    from carbonledger.ledger.base import MemberRecord, RunRecord

    op = line["op"]
    if op == "open_run":
        return op, (RunRecord(**line["run"]),)
    if op == "join":
        return op, (MemberRecord(**line["member"]), float(line["lease_ttl_s"]))
    if op == "register_devices":
        return op, (line["run_id"], line["member_id"],
                    [SensorInfo(**i) for i in line["infos"]])  # fmt: skip
    if op == "add_samples":
        return op, (line["run_id"], line["member_id"], [Sample(*s) for s in line["samples"]])
    if op == "add_window":
        w = dict(line["window"])
        w["components"] = tuple(ComponentEnergy(**c) for c in w["components"])
        return op, (line["run_id"], line["member_id"], WindowSummary(**w))
    if op == "finish_member":
        comps = [ComponentEnergy(**c) for c in line["components"]]
        return op, (line["run_id"], line["member_id"], comps, line["status"], line["errors"])
    if op == "update_meta":
        return op, (line["run_id"], line["meta"])
    if op == "heartbeat":
        return op, (line["run_id"], line["member_id"], float(line["lease_ttl_s"]))
    raise ValueError(f"unknown spool operation {op!r}")


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), default=str) + "\n").encode()


# --- writing --------------------------------------------------------------------------------


class Spool:
    """The journal of one member of a run, created on its first write.

    ``target`` names the ledger the writes were meant for (a path or a URL); it is stored in
    the header so that ``carbonledger sync`` knows where to replay them.
    """

    def __init__(
        self, target: str, run_id: str, member_id: str, *, directory: str | None = None
    ) -> None:
        self.target = target
        self.directory = directory if directory is not None else spool_dir()
        safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)[:80]
        self.path = os.path.join(self.directory, f"{safe_run}-{member_id}{SUFFIX}")
        self._fd: int | None = None

    @property
    def active(self) -> bool:
        """Whether anything was written to the journal."""
        return self._fd is not None

    def _open(self) -> int:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
            if os.fstat(fd).st_size == 0:
                header = {"format": FORMAT, "ledger": self.target, "created_unix_s": time.time()}
                os.write(fd, _dumps(header))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def append(self, op: str, *args: Any, sync: bool = False) -> None:
        """Append one ledger call; ``sync`` forces it to disk (window ends, a member's end)."""
        if self._fd is None:
            self._fd = self._open()
        os.write(self._fd, _dumps(encode_call(op, args)))
        if sync:
            os.fsync(self._fd)

    def close(self) -> None:
        """Force the journal to disk and release it for a replay."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.close(fd)


# --- replaying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """What a replay did with one journal."""

    path: str
    target: str
    #: ledger calls replayed now (earlier replays not counted)
    calls: int
    #: True when the journal was replayed to its end and removed
    done: bool
    error: str = ""


def _read(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with open(path, "rb") as fh:
        raw = fh.read()
    # the piece after the last newline is empty, or a line cut short by a crash (never a
    # whole write): either way it is not replayed
    lines = raw.split(b"\n")[:-1]
    if not lines:
        raise InputError(f"spool file {path} is empty")
    try:
        header = json.loads(lines[0])
        body = [json.loads(line) for line in lines[1:]]
    except ValueError as exc:
        raise InputError(f"spool file {path} is not a carbonledger journal: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputError(f"spool file {path} is not a {FORMAT} journal")
    return header, body


def journal_target(path: str) -> str:
    """The ledger (path or URL) a journal's writes were meant for."""
    target = _read(path)[0].get("ledger")
    if not isinstance(target, str) or not target or target == "memory":
        raise InputError(f"journal {path} names no ledger to replay into; give --ledger")
    return target


def pending(directory: str | None = None, target: str | None = None) -> list[str]:
    """Journals waiting to be replayed (oldest first), optionally only those for ``target``."""
    directory = directory if directory is not None else spool_dir()
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
            if _read(path)[0].get("ledger") == target:
                out.append(path)
    return out


@contextlib.contextmanager
def _locked(path: str) -> Iterator[bool]:
    """Hold the journal's lock while replaying it; False when a live tracker holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
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
    tmp = f"{path}.done.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, str(count).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path + ".done")


def _checkpoint_open_members(ledger: Ledger, body: list[dict[str, Any]]) -> None:
    """Sign, now, what the journal wrote for members it did not finish (a finished member's
    end record signs its rows already; a ledger without checkpoints has nothing to do)."""
    checkpoint = getattr(ledger, "checkpoint", None)
    if checkpoint is None:
        return
    open_members: dict[tuple[str, str], None] = {}
    for line in body:
        key = (line.get("run_id", ""), line.get("member_id", ""))
        if line.get("op") in ("add_samples", "add_window") and all(key):
            open_members[key] = None
        elif line.get("op") == "finish_member":
            open_members.pop(key, None)
    for run_id, member_id in open_members:
        checkpoint(run_id, member_id)


def replay(path: str, ledger: Ledger) -> Replayed:
    """Replay one journal into ``ledger``, in order, then remove it.

    A journal held by a live tracker is skipped (``done`` False, no error). A ledger failure
    stops the replay where it is (the progress file keeps the place) and is reported in
    ``error``; replaying again later resumes there.
    """
    with _locked(path) as mine:
        if not mine:
            return Replayed(path, "", 0, False, IN_USE)
        header, body = _read(path)
        target = str(header.get("ledger", ""))
        start = _progress(path)
        count = start
        try:
            for line in body[start:]:
                op, args = decode_call(line)
                getattr(ledger, op)(*args)
                count += 1
                _save_progress(path, count)
            _checkpoint_open_members(ledger, body)
        except (LedgerError, OSError) as exc:
            return Replayed(path, target, count - start, False, str(exc))
        for name in (path, path + ".done"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    return Replayed(path, target, count - start, True)
