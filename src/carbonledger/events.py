"""The typed write stream: everything a run writes, as events, in signed batches.

A measuring process never writes rows; it produces **events**:

==================  =======================================================================
event               what it says
==================  =======================================================================
``RunOpened``       the run as this member opened it (names, location, intensity, PUE, meta)
``MemberJoined``    a process takes part (host, pid, ranks) and how long it counts as live
``DevicesClaimed``  how each of its devices is read (method, measured or estimated, model)
``SamplesAdded``    each device's cumulative energy since the member joined, at one instant
``WindowEnded``     a named window's energy per device
``MetaUpdated``     keys merged into the run's metadata (forecast, budget, metrics, ...)
``Heartbeat``       a sign of life of a member with nothing else to say
``MemberFinished``  a member's end: status, final energy per device, errors
``Settled``         a *settler* records a silent member as interrupted, from what it signed
==================  =======================================================================

Events travel in **batches**: one batch per write, made by :class:`MemberChain` and signed by
the process that measured them *when they are produced*, before they go anywhere. Batches of
one member form a hash chain (each names the hash of the one before, ``seq`` 1, 2, ...), so a
batch removed, reordered or replaced shows. The ledger, the local journal and a Ray driver
carry the same signed bytes (:class:`SignedBatch`); nobody signs on anyone else's behalf.

The codec is one: a batch's body is canonical JSON (sorted keys, compact, no NaN) of its
fields, each event an object with a ``type`` tag and its dataclass fields (fields at their
default are left out). :func:`decode_batch` checks every field's type, so a body edited to
hold a string where a number belongs, a non-finite number or an unknown event is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from carbonledger._codec import DecodeError, check, decoder, encode, encoder
from carbonledger._inputs import MAX_ENERGY_J, MAX_UNIX_S
from carbonledger.models import (
    ComponentEnergy,
    MemberRecord,
    RunRecord,
    RunStatus,
    Sample,
    SensorInfo,
    WindowSummary,
)

__all__ = [
    "BATCH_FORMAT",
    "GENESIS",
    "Batch",
    "DecodeError",
    "DevicesClaimed",
    "Event",
    "Heartbeat",
    "MemberChain",
    "MemberFinished",
    "MemberJoined",
    "MetaUpdated",
    "RunOpened",
    "SamplesAdded",
    "Settled",
    "SignedBatch",
    "Signer",
    "WindowEnded",
    "batch_message",
    "body_hash",
    "check_ranges",
    "decode_batch",
    "encode_batch",
    "new_member_id",
]

#: the version tag of a batch body
BATCH_FORMAT = 1
#: the ``prev`` of a member's first batch
GENESIS = "0" * 64
_MESSAGE_TAG = b"carbonledger-batch/1\x00"


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOpened:
    """The run as this member opened it. The first one the ledger receives makes the run;
    later ones (another rank raced to open it) are kept as signed but do not change it."""

    TYPE: ClassVar[str] = "run_opened"
    run: RunRecord


@dataclass(frozen=True)
class MemberJoined:
    """A process takes part in the run; it counts as live for ``lease_ttl_s`` seconds after
    each batch it signs."""

    TYPE: ClassVar[str] = "member_joined"
    member: MemberRecord
    lease_ttl_s: float


@dataclass(frozen=True)
class DevicesClaimed:
    """How each device this member counts is read (host: the member's)."""

    TYPE: ClassVar[str] = "devices_claimed"
    devices: tuple[SensorInfo, ...]


@dataclass(frozen=True)
class SamplesAdded:
    """One instant of the time series: each device's cumulative energy since the member
    joined (J) and power (W)."""

    TYPE: ClassVar[str] = "samples_added"
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class WindowEnded:
    """A named window's energy per device."""

    TYPE: ClassVar[str] = "window_ended"
    window: WindowSummary


@dataclass(frozen=True)
class MetaUpdated:
    """Keys merged into the run's metadata (JSON values)."""

    TYPE: ClassVar[str] = "meta_updated"
    meta: dict[str, Any]


@dataclass(frozen=True)
class Heartbeat:
    """A sign of life with nothing else to say (the batch's time is the time of life)."""

    TYPE: ClassVar[str] = "heartbeat"
    lease_ttl_s: float


@dataclass(frozen=True)
class MemberFinished:
    """A member's end, signed by the member itself: it decides the member's status, end time
    and energy whatever anyone records later."""

    TYPE: ClassVar[str] = "member_finished"
    status: RunStatus
    components: tuple[ComponentEnergy, ...]
    finished_unix_s: float
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settled:
    """A settler (another process, ``carbonledger settle``) records a silent member as
    interrupted: with the energy of the member's last signed samples, as of its last signed
    batch (``last_seq``, ``last_hash``), which it names. A signed end of the member, whenever
    it arrives, wins over a settlement."""

    TYPE: ClassVar[str] = "settled"
    member_id: str
    last_seq: int
    last_hash: str
    components: tuple[ComponentEnergy, ...]
    finished_unix_s: float
    note: str = ""


Event = (
    RunOpened
    | MemberJoined
    | DevicesClaimed
    | SamplesAdded
    | WindowEnded
    | MetaUpdated
    | Heartbeat
    | MemberFinished
    | Settled
)

_EVENTS: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (
        RunOpened,
        MemberJoined,
        DevicesClaimed,
        SamplesAdded,
        WindowEnded,
        MetaUpdated,
        Heartbeat,
        MemberFinished,
        Settled,
    )
}


# --- batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Events of one write by one member: ``seq`` numbers the member's batches from 1;
    ``prev`` is the hash of its batch ``seq - 1`` (:data:`GENESIS` for the first);
    ``time_unix_s`` when it was made, by the signer's clock."""

    run_id: str
    member_id: str
    seq: int
    prev: str
    time_unix_s: float
    events: tuple[Event, ...]


@dataclass(frozen=True)
class SignedBatch:
    """A batch as it travels: its body (the signed bytes, as text), the body's SHA-256,
    and the Ed25519 signature of :func:`batch_message` by ``signer`` (a public key, hex).
    An unsigned batch (no key could be used where it was made) has empty ``signer`` and
    ``signature``."""

    body: str
    hash: str
    signer: str = ""
    signature: str = ""
    #: the batch itself, when this process made it (spares decoding what it just encoded)
    made: Batch | None = field(default=None, compare=False, repr=False)

    def decode(self) -> Batch:
        """The batch (:class:`DecodeError` when the body is not one we write)."""
        return self.made if self.made is not None else decode_batch(self.body)

    def to_dict(self) -> dict[str, str]:
        """The four fields (a journal line, what a Ray node ships)."""
        return {
            "body": self.body,
            "hash": self.hash,
            "signer": self.signer,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SignedBatch:
        """The inverse of :meth:`to_dict` (:class:`DecodeError` for anything else)."""
        if not isinstance(d, Mapping):
            raise DecodeError("a signed batch is an object with body, hash, signer, signature")
        values = [d.get(k, "") for k in ("body", "hash", "signer", "signature")]
        if not all(isinstance(v, str) for v in values) or not values[0]:
            raise DecodeError("a signed batch's body, hash, signer and signature are strings")
        return cls(*values)

    @property
    def hash_ok(self) -> bool:
        """Whether ``hash`` is the SHA-256 of ``body``."""
        return body_hash(self.body) == self.hash


def body_hash(body: str) -> str:
    """SHA-256 (hex) of a batch body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def batch_message(digest: str) -> bytes:
    """What a batch's signature covers: a tag of this format, then its 32-byte hash."""
    return _MESSAGE_TAG + bytes.fromhex(digest)


def check_ranges(batch: Batch) -> None:
    """:class:`ValueError` naming the first figure of ``batch`` out of range: a time before
    1970 or after year 9999, an energy or a power beyond any machine's
    (:data:`carbonledger._inputs.MAX_ENERGY_J`), a duration or a lease longer than the
    calendar. What is written can always be read back, printed and added up."""

    def need(value: float | None, what: str, low: float, high: float) -> None:
        if value is not None and not low <= value <= high:  # NaN fails too
            raise ValueError(f"{what} {value!r} is out of range ({low:g} to {high:g})")

    def time(value: float, what: str) -> None:
        need(value, what, 0.0, MAX_UNIX_S)

    def energies(components: tuple[ComponentEnergy, ...], where: str) -> None:
        for c in components:
            for name in ("energy_j", "low_j", "high_j"):
                need(getattr(c, name), f"{where} {c.device!r:.40} {name}", -MAX_ENERGY_J,
                     MAX_ENERGY_J)  # fmt: skip
            need(c.duration_s, f"{where} {c.device!r:.40} duration_s", -MAX_UNIX_S,
                 MAX_UNIX_S)  # fmt: skip

    time(batch.time_unix_s, "the batch's time")
    for e in batch.events:
        if type(e) is SamplesAdded and _samples_in_range(e.samples, MAX_UNIX_S, MAX_ENERGY_J):
            continue  # a sampler's tick, checked at once (the loop below names what is wrong)
        if isinstance(e, SamplesAdded):
            for sample in e.samples:
                time(sample.time_unix_s, "a sample's time")
                for name in ("energy_j", "power_w", "low_j", "high_j"):
                    need(getattr(sample, name, None), f"a sample's {name}", -MAX_ENERGY_J,
                         MAX_ENERGY_J)  # fmt: skip
        elif isinstance(e, RunOpened):
            time(e.run.started_unix_s, "the run's start")
        elif isinstance(e, (MemberJoined, Heartbeat)):
            if isinstance(e, MemberJoined):
                time(e.member.started_unix_s, "the member's start")
            need(e.lease_ttl_s, "the lease", 0.0, MAX_UNIX_S)
        elif isinstance(e, WindowEnded):
            time(e.window.started_unix_s, f"window {e.window.path!r:.40}'s start")
            need(e.window.duration_s, "a window's duration", 0.0, MAX_UNIX_S)
            energies(e.window.components, "window")
        elif isinstance(e, (MemberFinished, Settled)):
            time(e.finished_unix_s, "the member's end")
            energies(e.components, "device")


def _samples_in_range(samples: tuple[Sample, ...], max_unix_s: float, max_j: float) -> bool:
    """Whether every time and figure of ``samples`` is in range (NaN is not)."""
    low_j = -max_j
    for s in samples:
        if not 0.0 <= s.time_unix_s <= max_unix_s:
            return False
        for v in (s.energy_j, s.power_w, s.low_j, s.high_j):
            if v is not None and not low_j <= v <= max_j:
                return False
    return True


#: the encoder of batch bodies, made once (``json.dumps`` with options makes one per call)
_BODY_JSON = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
)  # (a body is made of records, never circular: no marking of each container it holds)


def encode_batch(batch: Batch) -> str:
    """The canonical body of ``batch`` (:class:`ValueError` for a non-finite number or a
    figure out of range: :func:`check_ranges`)."""
    events = batch.events
    if (  # a sampler's tick, checked at once (check_ranges names what is wrong otherwise)
        len(events) == 1
        and type(first := events[0]) is SamplesAdded
        and 0.0 <= batch.time_unix_s <= MAX_UNIX_S
        and _samples_in_range(first.samples, MAX_UNIX_S, MAX_ENERGY_J)
    ):
        encoded = [_encode_event(first)]
    else:
        check_ranges(batch)
        encoded = [_encode_event(e) for e in events]
    doc = {
        "v": BATCH_FORMAT,
        "run_id": batch.run_id,
        "member_id": batch.member_id,
        "seq": batch.seq,
        "prev": batch.prev,
        "time_unix_s": batch.time_unix_s,
        "events": encoded,
    }
    try:
        return _BODY_JSON.encode(doc)
    except ValueError as exc:  # a NaN or an infinity: never written
        raise ValueError(f"a batch holds a non-finite number ({exc}); nothing is written") from None


def decode_batch(body: str) -> Batch:
    """The batch a body holds, every field checked (:class:`DecodeError` otherwise)."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"a batch body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != BATCH_FORMAT:
        raise DecodeError(f"not a batch of format {BATCH_FORMAT}")
    try:
        events = doc["events"]
        if not isinstance(events, list):
            raise DecodeError("a batch's events are a list")
        batch = Batch(
            run_id=check(str, doc["run_id"], "run_id"),
            member_id=check(str, doc["member_id"], "member_id"),
            seq=check(int, doc["seq"], "seq"),
            prev=check(str, doc["prev"], "prev"),
            time_unix_s=check(float, doc["time_unix_s"], "time_unix_s"),
            events=tuple(_decode_event(e) for e in events),
        )
    except KeyError as exc:
        raise DecodeError(f"a batch lacks its field {exc.args[0]!r}") from None
    try:
        check_ranges(batch)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None
    return batch


# --- events as JSON ------------------------------------------------------------------------


#: a sample as a batch body holds it (the codec's positional encoder of :class:`Sample`)
_SAMPLE_ROW = encoder(Sample)


def _encode_event(event: Event) -> dict[str, Any]:
    if type(event) is SamplesAdded:  # samples: the same object, built directly
        row = _SAMPLE_ROW
        return {"samples": [row(s) for s in event.samples], "type": SamplesAdded.TYPE}
    doc = encode(event)
    doc["type"] = event.TYPE
    return dict(doc)


def _decode_event(doc: Any) -> Event:
    if type(doc) is not dict:
        raise DecodeError("an event is an object")
    cls = _EVENTS.get(doc.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise DecodeError(f"unknown event type {doc.get('type')!r:.60}")
    event: Event = decoder(cls)(doc, cls.TYPE)
    return event


# --- signing at the source ----------------------------------------------------------------


class Signer(Protocol):
    """A signing key (:class:`carbonledger.ledger.keys.Signer` is one)."""

    @property
    def public_hex(self) -> str: ...

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of ``message``, hex."""
        ...


class MemberChain:
    """Turns a member's events into signed batches, chained: the one place batches are made.

    ``signer`` None makes unsigned batches (no key could be used: ``verify`` reports them).
    ``seq``/``prev`` continue an existing chain (a settler starts its own).
    """

    def __init__(
        self,
        run_id: str,
        member_id: str,
        signer: Signer | None,
        *,
        seq: int = 0,
        prev: str = GENESIS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run_id = run_id
        self.member_id = member_id
        self._signer = signer
        self._clock = clock
        self._lock = threading.Lock()
        #: the number and hash of the last batch made
        self.seq = seq
        self.prev = prev

    @property
    def signer(self) -> Signer | None:
        return self._signer

    def make(self, events: Sequence[Event], time_unix_s: float | None = None) -> SignedBatch:
        """The next batch, holding ``events``, signed now."""
        with self._lock:
            batch = Batch(
                self.run_id,
                self.member_id,
                self.seq + 1,
                self.prev,
                self._clock() if time_unix_s is None else time_unix_s,
                tuple(events),
            )
            body = encode_batch(batch)
            digest = body_hash(body)
            signer = self._signer
            signed = SignedBatch(
                body,
                digest,
                signer.public_hex if signer is not None else "",
                signer.sign(batch_message(digest)) if signer is not None else "",
                batch,
            )
            self.seq, self.prev = batch.seq, digest
            return signed


def new_member_id() -> str:
    """A random 128-bit id as 32 hex digits."""
    return os.urandom(16).hex()
