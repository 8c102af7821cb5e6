"""Checking the hash chain of records: hashes, signatures, numbering, the signed head.

Pure functions over the rows of ``seals`` (no database): :func:`check_chain` names every
record that was edited, deleted, inserted, reordered or signed by a key that is refused or
not trusted, and returns the records that hold (the ones the content checks may rely on).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from carbonledger.ledger.keys import fingerprint, is_acceptable_public_key, verify_signature
from carbonledger.ledger.records import GENESIS_HASH, head_message, record_hash

__all__ = ["Problem", "ProblemKind", "SealRow", "VerifyReport", "check_chain"]

ProblemKind = Literal[
    "modified",
    "deleted",
    "inserted",
    "reordered",
    "bad-signature",
    "unsigned",
    "untrusted",
    "rolled-back",
]


@dataclass(frozen=True)
class Problem:
    """One finding of ``verify``: which record (a run id, ``seq N``, ``ledger``...), what, why."""

    ref: str
    kind: ProblemKind
    detail: str


@dataclass
class VerifyReport:
    """The result of checking a ledger's records against its rows.

    ``anchored``: signatures were checked against keys the user trusts (``--key`` or the
    trusted-keys file); when False only the ledger's consistency with the keys it names
    itself was checked, which an attacker with write access can fake. ``head`` is
    ``COUNT:HASH`` of the chain's last record, to publish; ``notes`` are findings that are
    not tampering (e.g. the unsigned last samples of a killed process)."""

    location: str
    ok: bool
    records: int
    runs: int
    head: str = ""
    anchored: bool = False
    trusted_sources: list[str] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seals(self) -> int:
        """The number of records in the chain (the name of earlier versions)."""
        return self.records

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.location,
            "ok": self.ok,
            "records": self.records,
            "runs_checked": self.runs,
            "head": self.head,
            "anchored": self.anchored,
            "trusted_sources": self.trusted_sources,
            "signers": self.signers,
            "problems": [asdict(p) for p in self.problems],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class SealRow:
    """One row of the ``seals`` table (a record).

    A row holding a signed batch (``member_seq`` set) is checked as it is read and kept light:
    ``canonical`` empty, ``checked`` = (its record hash holds, the names it carries, its own
    signature holds)."""

    seq: int
    run_id: str
    kind: str
    prev_hash: str
    record_hash: str
    signature: str
    canonical: str
    member_id: str = ""
    signer: str = ""
    member_seq: int | None = None
    checked: tuple[bool, tuple[str, str], bool] | None = None

    def doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.canonical)
        except (ValueError, RecursionError):
            return {}
        return doc if isinstance(doc, dict) else {}


def batch_row(
    seq: int,
    run_id: str,
    kind: str,
    prev_hash: str,
    digest: str,
    signature: str,
    canonical: str,
    member_id: str,
    signer: str,
    member_seq: int,
    batch_hash: str,
) -> SealRow:
    """A light :class:`SealRow` of a row holding a signed batch, checked now."""
    from carbonledger.events import body_hash
    from carbonledger.ledger.state import KIND_EVENTS

    try:
        hash_ok = record_hash(prev_hash, canonical) == digest
    except ValueError:
        hash_ok = False
    names = ("", "")
    signed = False
    head = _batch_head(canonical)
    if head is not None:
        from carbonledger.ledger.ingest import kind_of_types

        b_run, b_member, b_seq, types = head
        names = (b_run, kind_of_types(types))
        if (b_member, b_seq) != (member_id, member_seq):
            names = (b_run, f"{KIND_EVENTS} of member {b_member!r} #{b_seq}")
        ok_body = body_hash(canonical) == batch_hash
        signed = ok_body and _batch_signed(signer, signature, batch_hash)
        if not ok_body:
            hash_ok = False
    return SealRow(
        seq, run_id, kind, prev_hash, digest, signature, "", member_id, signer, member_seq,
        (hash_ok, names, signed),
    )  # fmt: skip


def _batch_head(body: str) -> tuple[str, str, int, set[str]] | None:
    """A batch body's run, member, number and event types, read without checking the
    events (verify's content check decodes them whole): None when it is not a batch."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        return None
    run_id, member_id, seq = doc.get("run_id"), doc.get("member_id"), doc.get("seq")
    if not isinstance(run_id, str) or not isinstance(member_id, str) or type(seq) is not int:
        return None
    types = {str(e.get("type")) for e in doc["events"] if isinstance(e, dict)}
    return run_id, member_id, seq, types


def _batch_signed(signer: str, signature: str, batch_hash: str) -> bool:
    from carbonledger.events import batch_message

    try:
        message = batch_message(batch_hash)
    except ValueError:
        return False
    return verify_signature(signer, signature, message)


def ref_of(s: SealRow) -> str:
    return s.run_id or f"seq {s.seq}"


def _hash_ok(s: SealRow) -> bool:
    if s.checked is not None:
        return s.checked[0]
    try:
        return record_hash(s.prev_hash, s.canonical) == s.record_hash
    except ValueError:
        return False


def _signed(public_hex: str, signature: str, message_hex: str) -> bool:
    try:
        message = bytes.fromhex(message_hex)
    except ValueError:
        return False
    return verify_signature(public_hex, signature, message)


def _names(s: SealRow) -> tuple[str, str]:
    """(run id, kind) as written inside a record's canonical form."""
    if s.checked is not None:
        return s.checked[1]
    doc = s.doc()
    run = doc.get("run")
    run_id = run.get("run_id") if isinstance(run, dict) else doc.get("run_id")
    return (str(run_id or ""), str(doc.get("kind", "")))


def _key_ok(public_hex: str) -> bool:
    try:
        return is_acceptable_public_key(bytes.fromhex(public_hex))
    except ValueError:
        return False


def check_chain(
    seals: Sequence[SealRow],
    head: dict[str, Any] | None,
    legacy_public: str,
    trusted: set[str] | None,
) -> tuple[list[Problem], set[int]]:
    """Problems of the chain, and the seqs of the records that hold. ``trusted``: the public
    keys (hex) or fingerprints the user trusts, None when none were given."""
    signer_of = {s.seq: s.signer or legacy_public for s in seals}
    head_seq, head_hash = _head_fields(head)
    # 1. each record against its own hash and signature; copies; records that do not verify
    problems, signed, copies = _check_records(seals, signer_of)
    more, inserted = _check_unsigned(seals, signer_of, signed, copies, head_hash)
    problems += more
    chain = [s for s in sorted(seals, key=lambda s: s.seq) if s.seq not in inserted]
    # 2. the signed head: deleting the newest records shows here
    head_signer = str(head.get("signer") or legacy_public) if head else ""
    problems += _check_head(seals, chain, head, head_signer, head_seq, head_hash)
    # 3. gaps in the numbering
    top = max([s.seq for s in chain], default=0)
    present = {s.seq for s in seals}
    missing = [k for k in range(1, max(top, head_seq) + 1) if k not in present]
    problems += [Problem(f"seq {k}", "deleted", f"record seq {k} is missing") for k in missing]
    # 4. walk the hash links: segments, and seq numbers out of place within them
    problems += _walk(chain, bool(missing))
    # 5. keys the user does not trust
    good = {s.seq for s in chain if s.seq in signed}
    if trusted is not None:
        counts = Counter(signer_of[s.seq] for s in chain)
        if head is not None:
            counts.setdefault(head_signer, 0)
        problems += _check_trust(counts, trusted)
        good = {q for q in good if signer_of[q] in trusted or _fp(signer_of[q]) in trusted}
    return problems, good


def _head_fields(head: dict[str, Any] | None) -> tuple[int, str]:
    """(seq, hash) of the stored head; (0, '') when there is none or it cannot be read."""
    if head is None:
        return 0, ""
    try:
        return int(head.get("seq", 0)), str(head.get("hash", ""))
    except (TypeError, ValueError):
        return 0, ""


def _check_records(
    seals: Sequence[SealRow], signer_of: dict[int, str]
) -> tuple[list[Problem], set[int], set[int]]:
    problems: list[Problem] = []
    signed: set[int] = set()
    first_of: dict[str, int] = {}
    copies: set[int] = set()
    for s in seals:
        if not _hash_ok(s):
            problems.append(
                Problem(ref_of(s), "modified", f"record seq {s.seq} was edited: its hash differs")
            )
        elif _names(s) != (s.run_id, s.kind):
            problems.append(
                Problem(
                    ref_of(s),
                    "modified",
                    f"record seq {s.seq} was edited: it names run {s.run_id!r} ({s.kind}) but "
                    f"covers {_names(s)[0]!r} ({_names(s)[1]})",
                )
            )
        if s.record_hash in first_of:
            copies.add(s.seq)
            problems.append(
                Problem(
                    ref_of(s),
                    "inserted",
                    f"record seq {s.seq} copies seq {first_of[s.record_hash]}",
                )
            )
            continue
        first_of[s.record_hash] = s.seq
        if s.checked is not None:  # a signed batch: signed where it was measured
            if s.checked[2]:
                signed.add(s.seq)
        elif _signed(signer_of[s.seq], s.signature, s.record_hash):
            signed.add(s.seq)
    return problems, signed, copies


def _check_unsigned(
    seals: Sequence[SealRow],
    signer_of: dict[int, str],
    signed: set[int],
    copies: set[int],
    head_hash: str,
) -> tuple[list[Problem], set[int]]:
    """Records whose signature fails: a bad signature on a record the chain links to, an
    inserted record otherwise; and records naming a refused key."""
    problems: list[Problem] = []
    linked = {s.prev_hash for s in seals if s.seq in signed} | {head_hash}
    inserted: set[int] = set(copies)
    for s in seals:
        if s.seq in signed or s.seq in copies:
            continue
        if not signer_of[s.seq] and not s.signature:  # made where no key could be used
            detail = f"record seq {s.seq} is not signed (its writer had no usable key)"
            problems.append(Problem(ref_of(s), "unsigned", detail))
            continue  # it stays in the chain: its links and the head are checked as usual
        if not _key_ok(signer_of[s.seq]):
            inserted.add(s.seq)
            detail = (
                f"record seq {s.seq} names a refused key (small-order, non-canonical or "
                "malformed): its signature proves nothing"
            )
            problems.append(Problem(ref_of(s), "bad-signature", detail))
        elif s.record_hash in linked:
            problems.append(
                Problem(ref_of(s), "bad-signature", f"the signature of record seq {s.seq} is wrong")
            )
        else:
            inserted.add(s.seq)
            detail = (
                f"record seq {s.seq} does not verify (its signature is wrong) and no signed "
                "record follows it"
            )
            problems.append(Problem(ref_of(s), "inserted", detail))
    return problems, inserted


def _check_head(
    seals: Sequence[SealRow],
    chain: list[SealRow],
    head: dict[str, Any] | None,
    head_signer: str,
    head_seq: int,
    head_hash: str,
) -> list[Problem]:
    if head is None:
        return [Problem("ledger", "deleted", "the chain's head record is missing")] if seals else []
    problems = []
    if not _head_signed(head_signer, head, head_seq, head_hash):
        problems.append(Problem("ledger", "bad-signature", "the chain's head does not verify"))
    top = max([s.seq for s in chain], default=0)
    if head_seq > top:
        problems.append(
            Problem(
                f"seq {head_seq}",
                "deleted",
                f"the newest records are missing: the chain ends at seq {top}, its signed head "
                f"says seq {head_seq}",
            )
        )
    elif head_seq < top:
        problems.append(
            Problem(
                f"seq {head_seq + 1}",
                "inserted",
                f"records seq {head_seq + 1}-{top} follow the chain's signed head (seq "
                f"{head_seq}): they were added behind the ledger's back",
            )
        )
    elif head_seq in {s.seq for s in seals} and head_hash not in {s.record_hash for s in chain}:
        problems.append(
            Problem(f"seq {head_seq}", "deleted", "the record the chain's head names is missing")
        )
    return problems


def _check_trust(counts: Counter[str], trusted: set[str]) -> list[Problem]:
    problems = []
    for key, n in sorted(counts.items()):
        if key not in trusted and _fp(key) not in trusted:
            problems.append(
                Problem(
                    f"key {_fp(key)}",
                    "untrusted",
                    f"{n} record(s) (and/or the chain's head) are signed by key {_fp(key)}, "
                    "which is not among the keys you trust",
                )
            )
    return problems


def _fp(public_hex: str) -> str:
    try:
        return fingerprint(public_hex)
    except ValueError:
        return public_hex[:16]


def _head_signed(key: str, head: dict[str, Any], seq: int, digest: str) -> bool:
    try:
        message = head_message(seq, digest)
    except (ValueError, OverflowError):
        return False
    return verify_signature(key, str(head.get("signature", "")), message)


def _walk(chain: list[SealRow], numbering_gaps: bool) -> list[Problem]:
    problems: list[Problem] = []
    hashes = {s.record_hash for s in chain}
    successors: dict[str, list[SealRow]] = {}
    for s in chain:
        successors.setdefault(s.prev_hash, []).append(s)
    starts = [s for s in chain if s.prev_hash == GENESIS_HASH or s.prev_hash not in hashes]
    seen: set[int] = set()
    for start in starts:
        if start.prev_hash != GENESIS_HASH and not numbering_gaps:
            problems.append(
                Problem(
                    ref_of(start),
                    "deleted",
                    f"the record signed just before seq {start.seq} is missing",
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
        expected = 1 if start.prev_hash == GENESIS_HASH else Counter(offsets).most_common(1)[0][0]
        for i, s in enumerate(segment):
            if offsets[i] != expected:
                problems.append(
                    Problem(
                        ref_of(s),
                        "reordered",
                        f"record seq {s.seq} sits out of order: its hash chain places it at "
                        f"seq {i + expected}",
                    )
                )
    for s in chain:
        if s.seq not in seen:
            problems.append(Problem(ref_of(s), "reordered", f"record seq {s.seq} is off the chain"))
    return problems


def check_expected_head(expect: str, seals: Sequence[SealRow]) -> list[Problem]:
    """Compare the chain with a head published earlier (``COUNT:HASH``)."""
    count, digest = parse_head(expect)
    by_seq = {s.seq: s for s in seals}
    top = max(by_seq, default=0)
    if count > top:
        return [
            Problem(
                "ledger",
                "rolled-back",
                f"the chain holds {top} records but the published head names record {count}: "
                "this is an older copy, or its newest records were cut off",
            )
        ]
    if count not in by_seq:
        return [
            Problem(f"seq {count}", "deleted", f"record {count} of the published head is missing")
        ]
    if by_seq[count].record_hash != digest:
        return [
            Problem(
                f"seq {count}",
                "rolled-back",
                f"record {count} is not the one the published head names: the chain was rewritten",
            )
        ]
    return []


def parse_head(text: str) -> tuple[int, str]:
    """``COUNT:HASH`` -> (count, hash in lower-case hex); :class:`InputError` when malformed."""
    from carbonledger.errors import InputError

    count_text, _, digest = text.strip().partition(":")
    digest = digest.lower()
    if not count_text.isdigit() or int(count_text) < 1 or len(digest) != 64:
        raise InputError(
            f"--expect-head {text!r} is not COUNT:HASH (as 'carbonledger verify' prints it, "
            "e.g. 42:3fa9...)"
        )
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise InputError(f"--expect-head {text!r}: the hash is not hex") from None
    return int(count_text), digest
