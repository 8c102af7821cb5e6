"""``verify``: every record of the chain, then every run's rows against its records.

Reads only. The chain's records are read in order; a record holding a signed batch is checked
as it is read (its hash, the names it carries, its member's signature) and kept light, so a
long ledger does not sit in memory. Runs recorded as signed batches are checked by
:mod:`~carbonledger.ledger.audit_events` (streamed, member by member); runs of an older
carbonledger (schema 2 and before) by :mod:`~carbonledger.ledger.audit`, as they always were.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

from carbonledger.ledger import state
from carbonledger.ledger.audit import RunState, check_runs
from carbonledger.ledger.audit_events import check_signed_run, has_older_start, is_signed_run
from carbonledger.ledger.chain import (
    Problem,
    SealRow,
    VerifyReport,
    _fp,
    batch_row,
    check_chain,
    check_expected_head,
    parse_head,
)
from carbonledger.ledger.readback import DATA_ERRORS  # a check reports the row, goes on
from carbonledger.ledger.records import FINAL_STATUSES, window_doc
from carbonledger.ledger.rows import UNSEALED_MEMBER_COLS
from carbonledger.ledger.transports.base import Transport, Tx

__all__ = ["verify_ledger", "verify_one_run"]

_SEAL_SQL = (
    "SELECT seq, run_id, kind, prev_hash, record_hash, signature, canonical, member_id, signer, "
    "member_seq, batch_hash FROM seals"
)


def _unreadable(ref: str, exc: BaseException) -> Problem:
    return Problem(
        ref, "modified", f"its rows cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
    )


def _seal_rows(
    tx: Tx, where: str = "", params: tuple[Any, ...] = (), problems: list[Problem] | None = None
) -> list[SealRow]:
    """The chain's records in order; one that cannot be read is left out (a problem in
    ``problems``; the chain check then reports the gap)."""
    out = []
    for row in tx.stream(f"{_SEAL_SQL}{where} ORDER BY seq", params):
        try:
            out.append(_seal_row(row))
        except DATA_ERRORS as exc:
            if problems is not None:
                problems.append(_unreadable(f"record {row[0]!r:.40}", exc))
    return out


def _seal_row(row: Any) -> SealRow:
    seq, run_id, kind, prev, digest, sig, canonical, member_id, signer, mseq, bhash = row
    for value in (run_id, kind, prev, digest, sig, canonical, member_id, signer, bhash):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"a text column holds {type(value).__name__} {value!r:.40}")
    fields = (
        int(seq),
        str(run_id),
        str(kind),
        str(prev),
        str(digest),
        str(sig),
        str(canonical),
        str(member_id or ""),
        str(signer or ""),
    )
    if mseq is None:
        return SealRow(*fields)
    return batch_row(*fields, int(mseq), str(bhash or ""))


def _trusted(
    keys: Iterable[str] | None, use_trusted_file: bool
) -> tuple[set[str] | None, list[str]]:
    from carbonledger.ledger.keys import load_trusted_keys

    trusted_list, sources = load_trusted_keys(list(keys or ()), user_file=use_trusted_file)
    return (set(trusted_list) if trusted_list else None), sources


def _legacy_state(
    tx: Tx, location: str, run_id: str, only: Collection[str] | None = None
) -> RunState:
    """What the checks of an older run need (read whole: runs of schema 2 and before).
    ``only``: the members an older carbonledger recorded, in a run that members joined after
    the upgrade too; the run's status and end are then what those members' ends give, as
    the older records sealed them."""
    from carbonledger.ledger.records import seal_document

    run = state.need_run(tx, run_id, location)
    members = state.members(tx, run_id)
    if only is not None:
        members = [m for m in members if m["member_id"] in only]
        run["status"], run["finished_unix_s"] = state.status_of(members)
    final = run["status"] in FINAL_STATUSES
    canonical = None
    if final:
        sealed_run = {k: v for k, v in run.items() if k != "seal_seq"}
        sealed_members = []
        for m in members:
            d = {k: v for k, v in m.items() if k not in (*UNSEALED_MEMBER_COLS, "signed")}
            sealed_members.append(d)
        windows = []
        for w in state.windows_rows(tx, run_id):
            if only is not None and w["member_id"] not in only:
                continue
            w.pop("window_ref")
            w.pop("seg")
            w.pop("metrics")  # not a column when these runs were sealed
            windows.append(w)
        canonical = seal_document(sealed_run, sealed_members, windows)
    st = RunState(row=run, canonical=canonical)
    st.members = [{k: v for k, v in m.items() if k != "signed"} for m in members]
    st.devices = [d for d in state.devices(tx, run_id) if only is None or d["member_id"] in only]
    rows = tx.rows(
        "SELECT d.member_id, s.seg, d.device, s.time_unix_s, s.energy_j, s.power_w, "
        "s.low_j, s.high_j FROM samples s JOIN devices d ON d.device_ref = s.device_ref "
        "WHERE d.run_id = ? ORDER BY d.member_id, s.seg, s.time_unix_s, d.device",
        (run_id,),
    )
    for (member_id, seg), group in groupby(rows, key=itemgetter(0, 1)):
        if only is not None and member_id not in only:
            continue
        key = (str(member_id), _seg(seg))
        st.segments.setdefault(key, ([], []))[0].extend([r[2:] for r in group])
    for w in state.windows_rows(tx, run_id):
        if only is not None and w["member_id"] not in only:
            continue
        key = (str(w["member_id"]), _seg(w["seg"]))
        st.segments.setdefault(key, ([], []))[1].append(window_doc(w))
    return st


def _older_members(tx: Tx, run_id: str) -> dict[str, dict[str, Any]] | None:
    """For a run an older carbonledger started and members joined after the upgrade: the
    rows of the members that have no signed batch (the older ones). None for any other run."""
    if not has_older_start(tx, run_id):
        return None
    signed = {
        str(r[0])
        for r in tx.rows(
            "SELECT DISTINCT member_id FROM seals WHERE run_id = ? AND member_seq IS NOT NULL",
            (run_id,),
        )
    }
    return {
        str(m["member_id"]): m for m in state.members(tx, run_id) if m["member_id"] not in signed
    }


def _seg(value: Any) -> int:
    """A row's segment; 0 for none (rows of schema 1, or written behind the ledger's back)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def verify_ledger(
    transport: Transport,
    now: float,
    keys: Iterable[str] | None = None,
    *,
    expect_head: str | None = None,
    use_trusted_file: bool = True,
) -> VerifyReport:
    """Check the whole ledger (see :meth:`carbonledger.ledger.Ledger.verify`)."""
    from carbonledger.ledger.log import read_head

    trusted, sources = _trusted(keys, use_trusted_file)
    if expect_head is not None:
        parse_head(expect_head)
    notes: list[str] = []
    content: list[Problem] = []
    legacy_runs: list[RunState] = []
    with transport.transaction(write=False) as tx:
        seals = _seal_rows(tx, problems=content)
        head_text, head = read_head(tx)
        head_doc: dict[str, Any] | None = head if head_text is not None else None
        if (
            head_doc is not None
            and int(head_doc.get("seq", 0)) == 0
            and not head_doc.get("signature")
        ):
            head_doc = None  # the empty chain of a new ledger
        row = tx.one("SELECT value FROM carbonledger_meta WHERE key = 'public_key'")
        legacy = str(row[0]) if row else ""
        run_ids = []
        for (run_id,) in tx.rows("SELECT run_id FROM runs ORDER BY run_id"):
            if not isinstance(run_id, str):
                content.append(Problem(repr(run_id)[:60], "modified", "a run's id is not text"))
                continue
            run_ids.append(run_id)
            try:
                if is_signed_run(tx, run_id):
                    run = state.need_run(tx, run_id, transport.location)
                    older = _older_members(tx, run_id)
                    content += check_signed_run(tx, run, now, notes, older)
                    if older is not None:
                        legacy_runs.append(
                            _legacy_state(tx, transport.location, run_id, set(older))
                        )
                else:
                    legacy_runs.append(_legacy_state(tx, transport.location, run_id))
            except DATA_ERRORS as exc:
                content.append(_unreadable(run_id, exc))
    problems, good = check_chain(seals, head_doc, legacy, trusted)
    problems += untrusted_runs(seals, trusted)
    if legacy and not seals:
        problems.append(
            Problem("ledger", "deleted", "the ledger holds a public key but no records")
        )
    old_good = [s for s in seals if s.seq in good and s.member_seq is None]
    problems += check_runs(legacy_runs, old_good, notes)
    problems += content
    present = set(run_ids)
    opened = {s.run_id for s in seals if s.member_seq is not None and s.kind == state.KIND_OPENED}
    for run_id in sorted(opened - present):
        problems.append(Problem(run_id, "deleted", "run (opened in a signed batch) is missing"))
    if expect_head is not None:
        problems += check_expected_head(expect_head, seals)
    top = seals[-1] if seals else None
    signers = sorted({_fp(s.signer or legacy) for s in seals if (s.signer or legacy)})
    return VerifyReport(
        location=transport.location,
        ok=not problems,
        records=len(seals),
        runs=len(run_ids),
        head=f"{top.seq}:{top.record_hash}" if top else "",
        anchored=trusted is not None,
        trusted_sources=sources,
        signers=signers,
        problems=dedupe(problems),
        notes=notes,
    )


def verify_one_run(
    transport: Transport,
    now: float,
    run_id: str,
    keys: Iterable[str] | None = None,
    *,
    use_trusted_file: bool = True,
) -> VerifyReport:
    """Check one run: each of its records (hash, signature, a trusted signer) and its rows
    against them. The chain's links to other runs' records are the whole verify's part."""
    from carbonledger.ledger.chain import _check_trust, _hash_ok, _names, _signed

    trusted, sources = _trusted(keys, use_trusted_file)
    notes: list[str] = []
    problems: list[Problem] = []
    with transport.transaction(write=False) as tx:
        run = state.need_run(tx, run_id, transport.location)
        seals = _seal_rows(tx, " WHERE run_id = ?", (run_id,), problems)
        row = tx.one("SELECT value FROM carbonledger_meta WHERE key = 'public_key'")
        legacy = str(row[0]) if row else ""
        signed_run = is_signed_run(tx, run_id)
        legacy_state = None
        try:
            if signed_run:
                older = _older_members(tx, run_id)
                problems += check_signed_run(tx, run, now, notes, older)
                if older is not None:
                    legacy_state = _legacy_state(tx, transport.location, run_id, set(older))
            else:
                legacy_state = _legacy_state(tx, transport.location, run_id)
        except DATA_ERRORS as exc:
            problems.append(_unreadable(run_id, exc))
    good = set()
    from collections import Counter

    counts: Counter[str] = Counter()
    for s in seals:
        signer = s.signer or legacy
        counts[signer] += 1
        if not _hash_ok(s) or _names(s) != (s.run_id, s.kind):
            problems.append(Problem(run_id, "modified", f"record seq {s.seq} was edited"))
            continue
        ok = s.checked[2] if s.checked is not None else _signed(signer, s.signature, s.record_hash)
        if not ok:
            problems.append(
                Problem(run_id, "bad-signature", f"the signature of record seq {s.seq} is wrong")
            )
            continue
        if trusted is not None and signer not in trusted and _fp(signer) not in trusted:
            continue
        good.add(s.seq)
    if trusted is not None:
        problems += _check_trust(counts, trusted)
    problems += untrusted_runs(seals, trusted)
    if legacy_state is not None:
        problems += check_runs(
            [legacy_state], [s for s in seals if s.seq in good and s.member_seq is None], notes
        )
    signers = sorted({_fp(s.signer or legacy) for s in seals if (s.signer or legacy)})
    return VerifyReport(
        location=transport.location,
        ok=not problems,
        records=len(seals),
        runs=1,
        head="",
        anchored=trusted is not None,
        trusted_sources=sources,
        signers=signers,
        problems=dedupe(problems),
        notes=notes,
    )


def untrusted_runs(seals: list[SealRow], trusted: set[str] | None) -> list[Problem]:
    """The runs holding signed batches whose signature holds but by a key the user does not
    trust (a run recorded, or a batch added, with another key), each named: the chain check
    names the key only."""
    from carbonledger.ledger.chain import _fp

    if trusted is None:
        return []
    found: dict[str, dict[str, int]] = {}
    for s in seals:
        if s.member_seq is None or s.checked is None or not s.checked[2]:
            continue  # an older record, or one that does not verify (reported as such)
        if s.signer in trusted or _fp(s.signer) in trusted:
            continue
        keys = found.setdefault(s.run_id or f"seq {s.seq}", {})
        keys[_fp(s.signer)] = keys.get(_fp(s.signer), 0) + 1
    return [
        Problem(
            ref,
            "untrusted",
            "; ".join(
                f"{n} of its batches are signed by key {fp}, which is not among the keys you trust"
                for fp, n in sorted(keys.items())
            ),
        )
        for ref, keys in sorted(found.items())
    ]


def dedupe(problems: list[Problem]) -> list[Problem]:
    """One problem per (record, kind); their details joined."""
    merged: dict[tuple[str, str], list[str]] = {}
    kinds: dict[tuple[str, str], Any] = {}
    for p in problems:
        details = merged.setdefault((p.ref, p.kind), [])
        kinds[(p.ref, p.kind)] = p.kind
        if p.detail not in details:
            details.append(p.detail)
    return [Problem(ref, kinds[(ref, k)], "; ".join(d)) for (ref, k), d in merged.items()]
