"""Tamper evidence against a database writer without the signing key: one test per attack
class, each checked against a pinned key (``verify(keys=...)`` / ``verify --key``).

Runs are recorded as a tracker records them: signed batches of events, one chain per member,
each batch a record of the ledger's chain (whose head is signed)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carbonledger.events import (
    MemberChain,
    MemberFinished,
    MetaUpdated,
    Settled,
    WindowEnded,
    batch_message,
    body_hash,
)
from carbonledger.ledger import Ledger, MemberRecord, RunRecord, open_ledger
from carbonledger.ledger.keys import fingerprint, public_key_pem
from carbonledger.ledger.records import GENESIS_HASH, head_message, record_hash
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

from .conftest import Backend, Clock, Writer

T0 = 1_700_000_000.0
CPU = SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True)
#: records (batches) of one run of :func:`record_run`: open, 3 ticks, a window, the end
RECORDS_PER_RUN = 6


def record_run(write: Writer, clock: Clock, make_run: Callable[..., RunRecord], k: int) -> None:
    """Run ``rk`` by member ``mk``, as a tracker records it, finished."""
    rid, mid = f"r{k}", f"m{k}"
    member = MemberRecord(mid, rid, "h1", 10 + k, clock(), rank=0)
    write.open(make_run(rid, started=clock(), meta={"k": k}), member, 5, CPU)
    for i in range(1, 4):
        clock.advance(1)
        write.samples(rid, mid, Sample(clock(), "cpu", "cpu:package-0", 10.0 * i * k))
    cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 100.0 * k, 10.0)
    write(rid, mid, WindowEnded(WindowSummary("epoch-1", "epoch-1", clock() - 3, 3.0, (cpu,))))
    clock.advance(1)
    write.finish(rid, mid, [cpu], "completed")


@pytest.fixture
def sealed(
    backend: Backend,
    led: Ledger,
    write: Writer,
    clock: Clock,
    make_run: Callable[..., RunRecord],
    tmp_path: Path,
) -> Iterator[tuple[Backend, Ledger, str]]:
    """Five finished runs r1..r5, and a file holding the writer's public key (the pin)."""
    for k in range(1, 6):
        record_run(write, clock, make_run, k)
    pin = tmp_path / "writer.pub"
    public = led.public_key()
    assert public is not None
    pin.write_text(public_key_pem(public))
    report = led.verify([str(pin)])
    assert report.ok and report.anchored and not report.notes, report.problems
    yield backend, led, str(pin)


def problems(led: Ledger, pin: str, **kw: Any) -> set[tuple[str, str]]:
    report = led.verify([pin], **kw)
    assert not report.ok
    return {(p.ref, p.kind) for p in report.problems}


def canonical(doc: dict[str, Any]) -> str:
    """A batch body as the codec writes it."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def resign(
    backend: Backend, sign: Callable[[bytes], bytes], signer_hex: str, edit: Any = None
) -> None:
    """Rewrite the whole chain as a writer of the database can: each batch's body (``edit``
    may change it; the ``prev`` of the member's next batch follows), its hash and its
    signature (over ``batch_message(sha256(body))``), each record's hash
    (``record_hash(prev, body)``) and the signed head, all with ``sign``, naming
    ``signer_hex`` as the signer."""
    prev = GENESIS_HASH
    seq = 0
    renamed: dict[str, str] = {}  # a batch's hash -> its hash once rewritten
    rows = backend.execute("SELECT seq, canonical, batch_hash FROM seals ORDER BY seq")
    for seq, body, old_hash in rows:
        if edit is not None:
            body = edit(body)
        doc = json.loads(body)
        if doc["prev"] in renamed:
            doc["prev"] = renamed[doc["prev"]]
            body = canonical(doc)
        digest = record_hash(prev, body)
        batch = body_hash(body)
        renamed[old_hash] = batch
        backend.execute(
            "UPDATE seals SET canonical = ?, prev_hash = ?, record_hash = ?, batch_hash = ?, "
            "signature = ?, signer = ? WHERE seq = ?",
            (body, prev, digest, batch, sign(batch_message(batch)).hex(), signer_hex, seq),
        )
        prev = digest
    head = {
        "seq": seq,
        "hash": prev,
        "signer": signer_hex,
        "signature": sign(head_message(seq, prev)).hex(),
    }
    backend.execute(
        "UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (json.dumps(head),)
    )


def attacker_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def test_intact_ledger_verifies_against_the_pinned_key(sealed: Any) -> None:
    backend, led, pin = sealed
    report = led.verify([pin])
    assert report.ok and report.anchored and report.problems == [] and report.notes == []
    assert report.runs == 5 and len(report.signers) == 1 and report.signers[0].startswith("SHA256:")
    count, digest = report.head.split(":")
    assert int(count) == report.records == 5 * RECORDS_PER_RUN and len(digest) == 64
    plain = led.verify(use_trusted_file=False)
    assert plain.ok and not plain.anchored
    for rid in ("r1", "r5"):
        one = led.verify_run(rid, [pin])
        assert one.ok and one.records == RECORDS_PER_RUN, one.problems
    # every batch is signed where it is made, by its member's key; no per-run seal
    kinds = {k for (k,) in backend.execute("SELECT DISTINCT kind FROM seals")}
    assert kinds == {"events:opened", "events", "events:finished"}


def test_every_sample_is_signed_as_soon_as_it_is_written(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord], tmp_path: Path
) -> None:
    """No checkpoint, no unsigned tail: right after the last tick of a running run, every
    sample verifies against the pinned key, and an edit of the newest one shows."""
    write.open(make_run(), MemberRecord("m", "run-1", "h1", 1, clock()), 5, CPU)
    for i in range(1, 4):
        clock.advance(1)
        write.samples("run-1", "m", Sample(clock(), "cpu", "cpu:package-0", float(i)))
    pin = tmp_path / "writer.pub"
    pin.write_text(public_key_pem(str(led.public_key())))
    report = led.verify([str(pin)])
    assert report.ok and report.anchored and report.notes == [], (report.problems, report.notes)
    assert led.verify_run("run-1", [str(pin)]).ok
    with led.transport.transaction(write=True) as tx:
        tx.run("UPDATE samples SET energy_j = 0.5 WHERE energy_j = 3.0")
    assert problems(led, str(pin)) == {("run-1", "modified")}
    assert not led.verify_run("run-1", [str(pin)]).ok


def test_edited_run_row(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE runs SET intensity_g_per_kwh = 5.0 WHERE run_id = 'r2'")
    (p,) = led.verify([pin]).problems
    assert (p.ref, p.kind) == ("r2", "modified")
    assert "intensity_g_per_kwh: sealed 50.0, now 5.0" in p.detail
    assert not led.verify_run("r2", [pin]).ok and led.verify_run("r1", [pin]).ok


def test_edited_member_energy(sealed: Any) -> None:
    backend, led, pin = sealed
    (row,) = backend.execute("SELECT components FROM members WHERE run_id = 'r3'")
    comps = json.loads(row[0])
    comps[0]["energy_j"] = 1.0
    backend.execute("UPDATE members SET components = ? WHERE run_id = 'r3'", (json.dumps(comps),))
    assert led.summary("r3").energy_j == pytest.approx(300.0)  # readers go by the signed end
    assert problems(led, pin) == {("r3", "modified")}


def test_status_columns_set_back_are_ignored_by_readers_and_flagged(sealed: Any) -> None:
    """The status columns are a cache: set back to running (the run's, a member's, with its
    end and energy removed), readers still say what the members signed; verify flags it."""
    backend, led, pin = sealed
    backend.execute(
        "UPDATE runs SET status = 'running', finished_unix_s = NULL WHERE run_id = 'r5'"
    )
    backend.execute(
        "UPDATE members SET status = 'running', finished_unix_s = NULL, components = NULL "
        "WHERE run_id = 'r4'"
    )
    for rid, energy in (("r5", 500.0), ("r4", 400.0)):
        s = led.summary(rid)
        assert s.status == "completed" and s.energy_j == pytest.approx(energy)
    assert {s.run_id: s.status for s in led.list_runs()}["r4"] == "completed"
    assert problems(led, pin) == {("r5", "modified"), ("r4", "modified")}
    assert led.settle() == []  # nothing to settle: the members signed their ends


def test_edited_device_claim(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE devices SET measured = 0, method = 'guess' WHERE run_id = 'r2'")
    found = led.verify([pin]).problems
    assert [(p.ref, p.kind) for p in found] == [("r2", "modified")]
    assert "device cpu:package-0" in found[0].detail


def test_deleted_finished_run(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("DELETE FROM members WHERE run_id = 'r3'")
    backend.execute("DELETE FROM runs WHERE run_id = 'r3'")
    assert problems(led, pin) == {("r3", "deleted")}


def test_deleted_member(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("DELETE FROM members WHERE run_id = 'r2'")
    assert problems(led, pin) == {("r2", "deleted")}


def test_deleted_batch_in_the_middle(sealed: Any) -> None:
    """A member's batch (a tick of r2) removed: a hole in the ledger's chain and in the
    member's own chain; its samples are now in no batch."""
    backend, led, pin = sealed
    ((seq,),) = backend.execute("SELECT seq FROM seals WHERE run_id = 'r2' AND member_seq = 3")
    backend.execute("DELETE FROM seals WHERE seq = ?", (seq,))
    found = problems(led, pin)
    assert {(f"seq {seq}", "deleted"), ("r2", "deleted")} <= found
    assert {ref for ref, _ in found} <= {f"seq {seq}", "r2"}


def test_deleted_end_of_a_member(sealed: Any) -> None:
    """The member's signed end removed (to make a finished run look interrupted): its own
    chain cannot show a missing last batch, the ledger's chain does, and the rows still
    holding the end no longer match what it signed."""
    backend, led, pin = sealed
    ((seq,),) = backend.execute(
        "SELECT seq FROM seals WHERE run_id = 'r4' AND kind = 'events:finished'"
    )
    backend.execute("DELETE FROM seals WHERE seq = ?", (seq,))
    found = problems(led, pin)
    assert {(f"seq {seq}", "deleted"), ("r4", "modified")} <= found


def test_inserted_run_signed_by_another_key(
    sealed: Any, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """An attacker records a plausible run with a key of their own: consistent, but the
    pinned key does not vouch for it, and the run is named."""
    backend, led, pin = sealed
    forger = open_ledger(backend.target, clock=clock, signing_key=_key_file(pin, "forger"))
    try:
        record_run(Writer(forger, clock), clock, make_run, 9)
        forged_key = fingerprint(str(forger.public_key()))
    finally:
        forger.close()
    assert led.verify(use_trusted_file=False).ok  # consistency alone cannot tell
    assert problems(led, pin) == {("r9", "untrusted"), (f"key {forged_key}", "untrusted")}
    assert not led.verify_run("r9", [pin]).ok and led.verify_run("r1", [pin]).ok


def test_inserted_batch_signed_by_another_key(sealed: Any, clock: Clock) -> None:
    """An attacker adds batches to a finished run with a key of their own, through the
    ledger: a lower end for its member (continuing the member's chain) and a settlement."""
    backend, led, pin = sealed
    ((last, top),) = backend.execute(
        "SELECT member_seq, batch_hash FROM seals WHERE run_id = 'r2' "
        "ORDER BY member_seq DESC LIMIT 1"
    )
    forger = open_ledger(backend.target, clock=clock, signing_key=_key_file(pin, "forger"))
    try:
        chain = MemberChain("r2", "m2", forger.signer(), seq=int(last), prev=str(top), clock=clock)
        cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 1.0, 10.0)
        forger.append([chain.make([MemberFinished("completed", (cpu,), clock())])])
        forger.record("r3", [Settled("m3", 1, "0" * 64, (cpu,), clock(), "forged")])
    finally:
        forger.close()
    found = problems(led, pin)
    assert {("r2", "untrusted"), ("r2", "modified"), ("r3", "untrusted")} <= found
    assert ("r3", "modified") in found  # the settlement names a batch m3 never signed


def test_batch_appended_after_the_signed_head(sealed: Any) -> None:
    """A batch signed with another key, slipped into the chain without touching the signed
    head."""
    backend, led, pin = sealed
    attacker, raw = attacker_key()
    ((seq, prev),) = backend.execute("SELECT seq, record_hash FROM seals ORDER BY seq DESC LIMIT 1")
    chain = MemberChain("r1", "intruder", None, clock=lambda: T0)
    body = chain.make([MetaUpdated({})]).body
    bhash = body_hash(body)
    backend.execute(
        "INSERT INTO seals (seq, run_id, member_id, kind, prev_hash, record_hash, signer, "
        "signature, sealed_unix_s, canonical, member_seq, batch_hash, claimed_unix_s) "
        "VALUES (?, 'r1', 'intruder', 'events', ?, ?, ?, ?, 0, ?, 1, ?, ?)",
        (
            seq + 1,
            prev,
            record_hash(prev, body),
            raw,
            attacker.sign(batch_message(bhash)).hex(),
            body,
            bhash,
            T0,
        ),
    )
    report = led.verify(use_trusted_file=False)  # even without a pinned key
    assert [(p.ref, p.kind) for p in report.problems] == [(f"seq {seq + 1}", "inserted")]
    found = problems(led, pin)
    assert {(f"seq {seq + 1}", "inserted"), ("r1", "untrusted")} <= found


def test_inserted_unsigned_finished_run(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute(
        "INSERT INTO runs SELECT 'r0', project, experiment, tags, started_unix_s, "
        "finished_unix_s, scope, location, location_source, intensity_g_per_kwh, "
        "intensity_source, pue, pue_source, meta, status, NULL FROM runs WHERE run_id = 'r1'"
    )
    assert problems(led, pin) == {("r0", "unsigned")}


def test_reordered_records(sealed: Any) -> None:
    backend, led, pin = sealed
    seqs = [
        r[0]
        for r in backend.execute(
            "SELECT seq FROM seals WHERE kind = 'events:finished' ORDER BY seq"
        )
    ]
    a, b = seqs[1], seqs[3]
    backend.execute("UPDATE seals SET seq = -seq WHERE seq IN (?, ?)", (a, b))
    backend.execute("UPDATE seals SET seq = ? WHERE seq = ?", (b, -a))
    backend.execute("UPDATE seals SET seq = ? WHERE seq = ?", (a, -b))
    assert {k for _, k in problems(led, pin)} >= {"reordered"}


def test_edited_samples(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute(
        "UPDATE samples SET energy_j = energy_j / 10 WHERE device_ref IN "
        "(SELECT device_ref FROM devices WHERE run_id = 'r4')"
    )
    found = led.verify([pin]).problems
    assert [(p.ref, p.kind) for p in found] == [("r4", "modified")]
    assert "the samples of batch" in found[0].detail and "differ from what it signed" in (
        found[0].detail
    )


def test_deleted_and_inserted_samples(sealed: Any) -> None:
    backend, led, pin = sealed
    (ref,) = backend.execute("SELECT device_ref FROM devices WHERE run_id = 'r1'")
    backend.execute("DELETE FROM samples WHERE device_ref = ? AND energy_j = 20.0", ref)
    backend.execute(
        "INSERT INTO samples (device_ref, time_unix_s, energy_j, seg) VALUES (?, 0, 1, 99)", ref
    )
    found = problems(led, pin)
    assert found == {("r1", "modified"), ("r1", "inserted")}


def test_samples_and_windows_slipped_into_a_running_run(
    sealed: Any, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    backend, led, pin = sealed
    write.open(make_run("live", started=clock()), MemberRecord("m-live", "live", "h1", 1, clock()),
               1e9, CPU)  # fmt: skip
    write.samples("live", "m-live", Sample(clock(), "cpu", "cpu:package-0", 1.0))
    assert led.verify([pin]).ok
    (ref,) = backend.execute("SELECT device_ref FROM devices WHERE run_id = 'live'")
    backend.execute(
        "INSERT INTO samples (device_ref, time_unix_s, energy_j) VALUES (?, 1, 9e9)", ref
    )
    backend.execute(
        "INSERT INTO windows (run_id, member_id, name, path, started_unix_s, duration_s, "
        "components) VALUES ('live', 'm-live', 'w', 'w', 0, 1, '[]')"
    )
    assert problems(led, pin) == {("live", "inserted")}
    # rows tagged with the number of a signed batch that holds none: edited into it
    backend.execute("DELETE FROM samples WHERE seg IS NULL")
    backend.execute("DELETE FROM windows WHERE run_id = 'live'")
    backend.execute(
        "INSERT INTO samples (device_ref, time_unix_s, energy_j, seg) VALUES (?, 1, 9e9, 1)", ref
    )
    assert problems(led, pin) == {("live", "modified")}


def test_edited_windows(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE windows SET duration_s = 1.0 WHERE run_id = 'r1'")
    assert problems(led, pin) == {("r1", "modified")}


def test_edited_batch_time_that_readers_judge_liveness_by(
    sealed: Any, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """The time a batch claims is kept beside it for liveness: set ahead to keep a dead member
    alive, it shows."""
    backend, led, pin = sealed
    write.open(make_run("live", started=clock()), MemberRecord("m-live", "live", "h1", 1, clock()),
               5, CPU)  # fmt: skip
    clock.advance(60)
    assert led.summary("live").status == "interrupted"
    backend.execute("UPDATE seals SET claimed_unix_s = ? WHERE run_id = 'live'", (clock(),))
    assert led.summary("live").status == "running"  # what a reader sees...
    assert problems(led, pin) == {("live", "modified")}  # ...verify shows


def test_wiped_chain_and_reset_runs_then_used_normally(
    sealed: Any, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """Wipe every record, set the finished runs back to running with cut figures, and let an
    honest writer use the ledger: it must not launder them into its signed chain."""
    backend, led, pin = sealed
    backend.execute("DELETE FROM seals")
    genesis = json.dumps({"seq": 0, "hash": GENESIS_HASH})
    backend.execute("UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (genesis,))
    backend.execute(
        "UPDATE runs SET status = 'running', finished_unix_s = NULL, seal_seq = NULL, "
        "intensity_g_per_kwh = 5.0"
    )
    backend.execute(
        "UPDATE members SET status = 'running', finished_unix_s = NULL, components = NULL"
    )
    clock.advance(3600)
    assert led.settle() == []  # what a tracker's start does: nothing it can sign for
    record_run(write, clock, make_run, 7)
    assert [s.run_id for s in led.list_runs(limit=1)] == ["r7"]
    for rid in ("r1", "r2", "r3", "r4", "r5"):
        kinds = backend.execute("SELECT kind FROM seals WHERE run_id = ?", (rid,))
        assert kinds == []  # never signed by the honest writer
    found = problems(led, pin)
    assert {("r1", "unsigned"), ("r5", "unsigned")} <= found
    assert not any(ref == "r7" for ref, _ in found)


def test_forged_running_run_then_used_normally(
    sealed: Any, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    backend, led, pin = sealed
    backend.execute(
        "INSERT INTO runs SELECT 'forged', project, experiment, tags, started_unix_s, NULL, "
        "scope, location, location_source, intensity_g_per_kwh, intensity_source, pue, "
        "pue_source, meta, 'running', NULL FROM runs WHERE run_id = 'r1'"
    )
    backend.execute(
        "INSERT INTO members SELECT 'forged', member_id, host, pid, rank, local_rank, "
        "started_unix_s, started_unix_s, 1.0, NULL, 'running', NULL, '[]' FROM members "
        "WHERE run_id = 'r1'"
    )
    clock.advance(3600)
    assert led.settle() == []  # a tracker's start settles dead runs: not the forged one
    record_run(write, clock, make_run, 8)
    assert backend.execute("SELECT kind FROM seals WHERE run_id = 'forged'") == []
    assert led.summary("forged").status == "interrupted"  # reported, not recorded
    assert ("forged", "unsigned") in problems(led, pin)


def test_replaced_key_and_chain_resigned(sealed: Any) -> None:
    """The attacker cuts r5's intensity, rewrites its opening batch and signs every batch and
    the chain's head with a key of their own: consistent, and caught only by the pinned key,
    which names every run."""
    backend, led, pin = sealed
    attacker, raw = attacker_key()
    backend.execute("UPDATE runs SET intensity_g_per_kwh = 5.0 WHERE run_id = 'r5'")

    def cut(body: str) -> str:
        doc = json.loads(body)
        if doc.get("run_id") != "r5":
            return body
        for event in doc["events"]:
            if event["type"] == "run_opened":
                event["run"]["intensity_g_per_kwh"] = 5.0
        return canonical(doc)

    resign(backend, attacker.sign, raw, cut)
    plain = led.verify(use_trusted_file=False)
    assert plain.ok and not plain.anchored, plain.problems  # what an unanchored check can't see
    found = problems(led, pin)
    assert {(f"r{k}", "untrusted") for k in range(1, 6)} <= found
    assert {kind for _, kind in found} == {"untrusted"}


def test_small_order_key_with_a_constant_signature(sealed: Any) -> None:
    """With the identity point as public key, R = identity and S = 0 verify for every message
    (OpenSSL accepts it): such keys are refused, pinned or not."""
    backend, led, pin = sealed
    identity = "01" + "00" * 31
    resign(backend, lambda _m: bytes.fromhex(identity) + bytes(32), identity)
    plain = led.verify(use_trusted_file=False)
    assert not plain.ok and {p.kind for p in plain.problems} >= {"bad-signature"}
    assert {p.ref for p in plain.problems if p.kind == "bad-signature"} >= {"r1", "r5", "ledger"}
    assert not led.verify([pin]).ok


def test_rolled_back_to_an_older_copy(
    backend: Backend, clock: Clock, make_run: Callable[..., RunRecord], tmp_path: Path
) -> None:
    if backend.name != "sqlite":
        pytest.skip("a file copy: the SQLite case")
    led = backend.open(clock)
    record_run(Writer(led, clock), clock, make_run, 1)
    led.close()
    old = tmp_path / "old.sqlite"
    shutil.copy(backend.target, old)
    led = backend.open(clock)
    record_run(Writer(led, clock), clock, make_run, 2)
    published = led.verify().head
    led.close()
    shutil.copy(old, backend.target)
    led = backend.open(clock)
    try:
        assert led.verify().ok  # the old copy is consistent on its own
        report = led.verify(expect_head=published)
        assert [(p.ref, p.kind) for p in report.problems] == [("ledger", "rolled-back")]
    finally:
        led.close()


def test_truncated_tail(
    backend: Backend, led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """The newest run and its records cut off, the head set back to the older signed head an
    older copy holds: consistent, and caught by the published head."""
    for k in (1, 2):
        record_run(write, clock, make_run, k)
    (old_head,) = backend.execute("SELECT value FROM carbonledger_meta WHERE key = 'seal_head'")
    record_run(write, clock, make_run, 3)
    published = led.verify().head
    (first,) = backend.execute("SELECT min(seq) FROM seals WHERE run_id = 'r3'")
    backend.execute("DELETE FROM seals WHERE seq >= ?", (first[0],))
    for table in ("windows", "members", "runs"):
        backend.execute(f"DELETE FROM {table} WHERE run_id = 'r3'")
    backend.execute(
        "UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (old_head[0],)
    )
    assert led.verify().ok  # nothing inside the ledger shows it
    report = led.verify(expect_head=published)
    assert [(p.ref, p.kind) for p in report.problems] == [("ledger", "rolled-back")]
    assert "cut off" in report.problems[0].detail


def _key_file(pin: str, name: str) -> str:
    return str(Path(pin).with_name(f"{name}.pem"))
