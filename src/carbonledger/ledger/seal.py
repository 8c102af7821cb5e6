"""Tamper evidence: hash-chained, Ed25519-signed seals of finished runs, and their check.

When a run finishes (``completed``, ``failed`` or ``interrupted``) its record is *sealed*:

* ``canonical``: sorted-key JSON of the run's row, its members' rows (final per-device
  energy, errors) and its windows; floats are written by ``repr`` so they round-trip.
* ``record_hash = SHA-256(prev_hash || canonical)``, where ``prev_hash`` is the previous
  seal's hash (64 zero hex digits for the first seal of a ledger): a hash chain.
* ``signature = Ed25519(record_hash)`` with the ledger's private key; the public key is
  stored in the ledger, so anyone can check it.
* seals are numbered ``seq = 1, 2, ...`` per ledger; the chain's head (last seq and hash) is
  stored and signed too, so deleting the newest records is seen.

A run that is reopened (a new member joins it after it finished) gets a ``reopen`` seal
in the chain, and a new ``seal`` when it finishes again; only a run's newest seal has to
match its rows. Samples (the power time series) are not sealed; the final per-device
totals they lead to are.

:func:`check` compares the stored seals with the records as they are now and names each
problem: ``modified``, ``deleted``, ``inserted``, ``reordered`` or ``bad-signature``.
"""

from __future__ import annotations

from carbonledger import _fastjson as json
from carbonledger._hash import sha256
from carbonledger._lite import asdict, field, record
from carbonledger.errors import LedgerError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Literal

    ProblemKind = Literal["modified", "deleted", "inserted", "reordered", "bad-signature"]

__all__ = [
    "FINAL_STATUSES",
    "GENESIS_HASH",
    "Problem",
    "SealRow",
    "VerifyReport",
    "canonical_json",
    "check",
    "record_hash",
]


#: the ``prev_hash`` of a ledger's first seal
GENESIS_HASH = "0" * 64

#: statuses of a finished run: such a run must carry a seal
FINAL_STATUSES = ("completed", "failed", "interrupted")

_HEAD_TAG = b"carbonledger-seal-head\x00"


@record
class Problem:
    """One finding of :func:`verify`: which record (a run id, or ``seq N``), what, and why."""

    ref: str
    kind: ProblemKind
    detail: str


@record
class VerifyReport:
    """The result of checking a ledger's seals against its records."""

    location: str
    ok: bool
    seals: int
    runs: int
    public_key: str
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.location,
            "ok": self.ok,
            "seals": self.seals,
            "runs_checked": self.runs,
            "public_key": self.public_key,
            "problems": [asdict(p) for p in self.problems],
        }


@record
class SealRow:
    """One row of the ``seals`` table."""

    seq: int
    run_id: str
    kind: str
    prev_hash: str
    record_hash: str
    signature: str
    canonical: str


@record
class RunState:
    """What :func:`check` needs of a run as it is now."""

    run_id: str
    status: str
    seal_seq: int | None
    #: the canonical form of its rows now (only for runs whose status is final)
    canonical: str | None


def canonical_json(doc: Any) -> str:
    """Sorted-key, compact JSON; floats via ``repr`` (what :mod:`json` does)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal_document(
    run: dict[str, Any], members: Sequence[dict[str, Any]], windows: Sequence[dict[str, Any]]
) -> str:
    """The canonical form of a finished run (rows as read back from the ledger)."""
    return canonical_json(
        {
            "kind": "seal",
            "run": run,
            "members": sorted(members, key=lambda m: str(m["member_id"])),
            "windows": sorted(windows, key=canonical_json),
        }
    )


def reopen_document(run_id: str, time_unix_s: float, member_id: str) -> str:
    """The canonical form of a reopening (a member joined a finished run)."""
    return canonical_json(
        {"kind": "reopen", "run_id": run_id, "time_unix_s": time_unix_s, "member_id": member_id}
    )


def record_hash(prev_hash: str, canonical: str) -> str:
    """``SHA-256(prev_hash || canonical)`` as hex (``prev_hash`` as its 32 raw bytes)."""
    return sha256(bytes.fromhex(prev_hash) + canonical.encode("utf-8")).hexdigest()


def head_message(seq: int, head_hash: str) -> bytes:
    """What the chain head's signature covers."""
    return _HEAD_TAG + seq.to_bytes(8, "big") + bytes.fromhex(head_hash)


# --- keys ---------------------------------------------------------------------------------


class SigningKey:
    """A ledger's Ed25519 private key (the 32-byte RFC 8032 seed) and its public key."""

    __slots__ = ("public", "seed")

    def __init__(self, seed: bytes) -> None:
        from carbonledger.ledger import _ed25519

        if len(seed) != _ed25519.SEED_BYTES:
            raise ValueError(f"an Ed25519 private key is {_ed25519.SEED_BYTES} bytes")
        self.seed = seed
        #: the 32-byte public key
        self.public = _ed25519.public_key(seed)

    def __repr__(self) -> str:  # never the seed
        return f"SigningKey(public={self.public.hex()})"


def new_private_key() -> SigningKey:
    """A new random signing key."""
    from carbonledger.ledger import _ed25519

    return SigningKey(_ed25519.new_seed())


def private_key_to_pem(key: SigningKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (what ``cryptography`` and OpenSSL write)."""
    from carbonledger.ledger import _ed25519

    return _ed25519.seed_to_pem(key.seed)


def private_key_from_pem(pem: bytes, where: str) -> SigningKey:
    """The key in ``pem`` (PKCS#8, Ed25519); :class:`LedgerError` naming ``where`` if not."""
    from carbonledger.ledger import _ed25519

    try:
        return SigningKey(_ed25519.seed_from_pem(pem))
    except ValueError as exc:
        raise LedgerError(
            f"the ledger's signing key {where} cannot be read ({exc}); restore it from a "
            "backup (without it, finished runs cannot be sealed)"
        ) from None


def public_key_hex(key: SigningKey) -> str:
    return key.public.hex()


def sign(key: SigningKey, message: bytes) -> str:
    """The Ed25519 signature of ``message``, as hex."""
    from carbonledger.ledger import _ed25519

    return _ed25519.sign(key.seed, message, key.public).hex()


def _is_public_key(public_hex: str) -> bool:
    """``public_hex`` is 32 bytes in hex (an Ed25519 public key's size)."""
    try:
        return len(bytes.fromhex(public_hex)) == 32
    except ValueError:
        return False


def _verifier(public_hex: str) -> Callable[[str, bytes], bool]:
    """``ok(signature_hex, message)`` for the public key ``public_hex`` (never raises).

    ``cryptography`` (OpenSSL) checks a signature in ~0.1 ms where the pure-Python one
    takes milliseconds, so it is used when installed (``pip install carbonledger[crypto]``);
    both accept exactly the same signatures (tested).
    """
    if not _is_public_key(public_hex):
        return lambda _signature_hex, _message: False
    public = bytes.fromhex(public_hex)
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        from carbonledger.ledger import _ed25519

        def pure(signature_hex: str, message: bytes) -> bool:
            try:
                signature = bytes.fromhex(signature_hex)
            except ValueError:
                return False
            return _ed25519.verify(public, signature, message)

        return pure
    try:
        key = Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        return lambda _signature_hex, _message: False

    def fast(signature_hex: str, message: bytes) -> bool:
        try:
            key.verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    return fast


# --- checking -----------------------------------------------------------------------------


def _ref(seal: SealRow) -> str:
    return seal.run_id or f"seq {seal.seq}"


def _diff(old: Any, new: Any, path: str, out: list[str], limit: int = 5) -> None:
    """Append up to ``limit`` human-readable differences between two JSON documents."""
    if len(out) >= limit:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub} added")
            elif key not in new:
                out.append(f"{sub} removed")
            else:
                _diff(old[key], new[key], sub, out, limit)
            if len(out) >= limit:
                return
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: {len(old)} items sealed, {len(new)} now")
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            label = None
            if isinstance(a, dict):
                label = a.get("member_id") or a.get("device") or a.get("path")
            _diff(a, b, f"{path}[{label or i}]", out, limit)
    elif old != new or type(old) is not type(new):
        out.append(f"{path}: sealed {old!r}, now {new!r}")


def describe_change(sealed: str, now: str) -> str:
    """What differs between a sealed canonical form and the current one."""
    out: list[str] = []
    try:
        _diff(json.loads(sealed), json.loads(now), "", out)
    except ValueError:
        return "the sealed form cannot be read"
    return "; ".join(out) if out else "the canonical form differs"


def check(
    seals: Sequence[SealRow],
    head: dict[str, Any] | None,
    public_hex: str | None,
    runs: Iterable[RunState],
) -> list[Problem]:
    """Every problem found comparing the seal chain with the runs as they are now."""
    problems: list[Problem] = []
    runs = list(runs)
    if not seals and head is None:
        for run in runs:
            if run.status in FINAL_STATUSES:
                problems.append(
                    Problem(run.run_id, "inserted", f"run is {run.status} but was never sealed")
                )
        return problems

    signature_ok = _verifier(public_hex or "")
    if not _is_public_key(public_hex or ""):
        problems.append(
            Problem("ledger", "bad-signature", "the ledger's public key is missing or damaged")
        )
    by_seq = {s.seq: s for s in seals}

    # 1. each seal against its own canonical form and signature; copies of a seal
    signed: set[int] = set()
    first_of: dict[str, int] = {}
    copies: set[int] = set()
    for s in seals:
        if record_hash(s.prev_hash, s.canonical) != s.record_hash:
            problems.append(
                Problem(
                    _ref(s), "modified", f"seal seq {s.seq} was edited: its hash does not match"
                )
            )
        elif _sealed_run_id(s) != (s.run_id, s.kind):
            problems.append(
                Problem(
                    _ref(s),
                    "modified",
                    f"seal seq {s.seq} was edited: it names run {s.run_id!r} ({s.kind}) but "
                    f"seals {_sealed_run_id(s)[0]!r}",
                )
            )
        if s.record_hash in first_of:
            copies.add(s.seq)
            problems.append(
                Problem(
                    _ref(s),
                    "inserted",
                    f"seal seq {s.seq} is a copy of seal seq {first_of[s.record_hash]}",
                )
            )
            continue
        first_of[s.record_hash] = s.seq
        if signature_ok(s.signature, bytes.fromhex(s.record_hash)):
            signed.add(s.seq)

    head_hash = str(head.get("hash", "")) if head else ""
    head_seq = int(head.get("seq", 0)) if head else 0
    linked = {s.prev_hash for s in seals if s.seq in signed} | {head_hash}
    inserted: set[int] = set(copies)
    for s in seals:
        if s.seq in signed or s.seq in copies:
            continue
        if s.record_hash in linked:
            problems.append(
                Problem(
                    _ref(s), "bad-signature", f"the signature of seal seq {s.seq} does not verify"
                )
            )
        else:
            inserted.add(s.seq)
            problems.append(
                Problem(
                    _ref(s),
                    "inserted",
                    f"seal seq {s.seq} was not made with this ledger's key (its signature does "
                    "not verify) and no sealed record follows it",
                )
            )
    chain = [s for s in sorted(seals, key=lambda s: s.seq) if s.seq not in inserted]

    # 2. the signed head: deleting the newest records shows here
    if head is None:
        problems.append(Problem("ledger", "deleted", "the seal chain's head record is missing"))
    elif not signature_ok(str(head.get("signature", "")), head_message(head_seq, head_hash)):
        problems.append(Problem("ledger", "bad-signature", "the seal chain's head does not verify"))
    top = max([s.seq for s in chain], default=0)
    if head is not None and head_seq > top:
        problems.append(
            Problem(
                f"seq {head_seq}",
                "deleted",
                f"the newest sealed records are missing: the chain ends at seq {top}, "
                f"its signed head says seq {head_seq}",
            )
        )
    elif (
        head is not None
        and head_seq in by_seq
        and by_seq[head_seq].record_hash != head_hash
        and head_hash not in {s.record_hash for s in chain}
    ):
        problems.append(
            Problem(f"seq {head_seq}", "deleted", "the record the chain's head names is missing")
        )

    # 3. gaps in the numbering
    missing = [k for k in range(1, max(top, head_seq) + 1) if k not in by_seq]
    for k in missing:
        problems.append(Problem(f"seq {k}", "deleted", f"sealed record seq {k} is missing"))

    # 4. walk the hash links: segments, and seq numbers out of place within them
    hashes = {s.record_hash for s in chain}
    successors: dict[str, list[SealRow]] = {}
    for s in chain:
        successors.setdefault(s.prev_hash, []).append(s)
    starts = [s for s in chain if s.prev_hash == GENESIS_HASH or s.prev_hash not in hashes]
    seen: set[int] = set()
    for start in starts:
        if start.prev_hash != GENESIS_HASH and not missing:
            problems.append(
                Problem(
                    _ref(start),
                    "deleted",
                    f"the record sealed just before seq {start.seq} is missing",
                )
            )
        segment: list[SealRow] = []
        node: SealRow | None = start
        while node is not None and node.seq not in seen:
            seen.add(node.seq)
            segment.append(node)
            nxt = [n for n in successors.get(node.record_hash, []) if n.seq not in seen]
            node = min(nxt, key=lambda n: n.seq) if nxt else None
        offsets = [s.seq - i for i, s in enumerate(segment)]
        if start.prev_hash == GENESIS_HASH:
            expected = 1
        else:
            from collections import Counter

            expected = Counter(offsets).most_common(1)[0][0]
        for i, s in enumerate(segment):
            if offsets[i] != expected:
                problems.append(
                    Problem(
                        _ref(s),
                        "reordered",
                        f"seal seq {s.seq} sits out of order: its hash chain places it "
                        f"at seq {i + expected}",
                    )
                )
    for s in chain:
        if s.seq not in seen:  # a cycle or a fork: cannot happen without editing the hashes
            problems.append(Problem(_ref(s), "reordered", f"seal seq {s.seq} is off the chain"))

    # 5. runs against their newest seal
    latest: dict[str, SealRow] = {}
    for s in chain:
        latest[s.run_id] = s
    run_ids = set()
    for run in runs:
        run_ids.add(run.run_id)
        newest = latest.get(run.run_id)
        if run.status in FINAL_STATUSES:
            if run.seal_seq is None:
                if newest is not None and newest.kind == "seal":
                    problems.append(
                        Problem(run.run_id, "modified", "the run's seal reference was removed")
                    )
                else:
                    problems.append(
                        Problem(run.run_id, "inserted", f"run is {run.status} but was never sealed")
                    )
                continue
            own = by_seq.get(run.seal_seq)
            if own is None:
                problems.append(
                    Problem(run.run_id, "deleted", f"its seal seq {run.seal_seq} is missing")
                )
                continue
            if own.seq in inserted:
                continue
            if own.run_id != run.run_id:
                if newest is not None:
                    problems.append(
                        Problem(
                            run.run_id,
                            "reordered",
                            f"run points at seal seq {own.seq} (run {own.run_id}); its own seal "
                            f"is seq {newest.seq}",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            run.run_id,
                            "inserted",
                            f"run claims seal seq {own.seq}, which seals run {own.run_id}",
                        )
                    )
                continue
            if newest is not None and newest.seq != own.seq:
                problems.append(
                    Problem(
                        run.run_id,
                        "modified",
                        f"run points at seal seq {own.seq} but its newest seal is seq {newest.seq}",
                    )
                )
                continue
            if run.canonical is not None and run.canonical != own.canonical:
                problems.append(
                    Problem(run.run_id, "modified", describe_change(own.canonical, run.canonical))
                )
        elif newest is not None and newest.kind == "seal":
            problems.append(
                Problem(
                    run.run_id,
                    "modified",
                    f"run was sealed (seq {newest.seq}) but now reads {run.status!r}",
                )
            )
    for run_id, s in latest.items():
        if run_id not in run_ids:
            problems.append(
                Problem(
                    run_id, "deleted", f"run (sealed as seq {s.seq}) is missing from the ledger"
                )
            )
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """One problem per (record, kind); their details joined."""
    merged: dict[tuple[str, ProblemKind], list[str]] = {}
    for p in problems:
        details = merged.setdefault((p.ref, p.kind), [])
        if p.detail not in details:
            details.append(p.detail)
    return [Problem(ref, kind, "; ".join(d)) for (ref, kind), d in merged.items()]


def _sealed_run_id(s: SealRow) -> tuple[str, str]:
    """(run id, kind) as written inside a seal's canonical form."""
    try:
        doc = json.loads(s.canonical)
    except ValueError:
        return ("", "")
    if not isinstance(doc, dict):
        return ("", "")
    kind = str(doc.get("kind", ""))
    run = doc.get("run")
    run_id = run.get("run_id") if isinstance(run, dict) else doc.get("run_id")
    return (str(run_id or ""), kind)
