"""Tamper evidence against a database writer without the signing key: one test per attack
class, each checked against a pinned key (``verify(keys=...)`` / ``verify --key``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carbonledger.ledger import MemberRecord, RunRecord, SqlLedger, open_ledger
from carbonledger.ledger.keys import public_key_pem
from carbonledger.ledger.records import GENESIS_HASH, head_message, record_hash
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

T0 = 1_700_000_000.0
CPU = SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True)


def record_run(led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord], k: int) -> None:
    rid = f"r{k}"
    led.open_run(make_run(rid, started=clock(), meta={"k": k}))
    led.join(MemberRecord(f"m{k}", rid, "h1", 10 + k, clock(), rank=0), 5)
    led.register_devices(rid, f"m{k}", [CPU])
    for i in range(1, 4):
        clock.advance(1)
        led.add_samples(rid, f"m{k}", [Sample(clock(), "cpu", "cpu:package-0", 10.0 * i * k)])
    cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 100.0 * k, 10.0)
    led.add_window(rid, f"m{k}", WindowSummary("epoch-1", "epoch-1", clock() - 3, 3.0, (cpu,)))
    clock.advance(1)
    led.finish_member(rid, f"m{k}", [cpu], "completed")


@pytest.fixture
def sealed(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord], tmp_path: Path
) -> Iterator[tuple[Any, SqlLedger, str]]:
    """Five finished runs r1..r5, and a file holding the writer's public key (the pin)."""
    led = backend.open(clock)
    for k in range(1, 6):
        record_run(led, clock, make_run, k)
    pin = tmp_path / "writer.pub"
    public = led.public_key()
    assert public is not None
    pin.write_text(public_key_pem(public))
    report = led.verify([str(pin)])
    assert report.ok and report.anchored, report.problems
    try:
        yield backend, led, str(pin)
    finally:
        led.close()


def problems(led: SqlLedger, pin: str, **kw: Any) -> set[tuple[str, str]]:
    report = led.verify([pin], **kw)
    assert not report.ok
    return {(p.ref, p.kind) for p in report.problems}


def resign(backend: Any, sign: Callable[[bytes], bytes], signer_hex: str, edit: Any = None) -> None:
    """Rewrite the whole chain as a writer of the database can: recompute every hash, sign
    with ``sign`` and name ``signer_hex`` as the signer (``edit`` may change canonical forms)."""
    prev = GENESIS_HASH
    seq = 0
    for seq, canonical in backend.execute("SELECT seq, canonical FROM seals ORDER BY seq"):
        if edit is not None:
            canonical = edit(canonical)
        digest = record_hash(prev, canonical)
        backend.execute(
            "UPDATE seals SET canonical = ?, prev_hash = ?, record_hash = ?, signature = ?, "
            "signer = ? WHERE seq = ?",
            (canonical, prev, digest, sign(bytes.fromhex(digest)).hex(), signer_hex, seq),
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


def test_intact_ledger_verifies_against_the_pinned_key(sealed: Any) -> None:
    _, led, pin = sealed
    report = led.verify([pin])
    assert report.ok and report.anchored and report.problems == []
    assert report.runs == 5 and len(report.signers) == 1 and report.signers[0].startswith("SHA256:")
    count, digest = report.head.split(":")
    assert int(count) == report.records and len(digest) == 64
    plain = led.verify(use_trusted_file=False)
    assert plain.ok and not plain.anchored


def test_edited_finished_record(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE runs SET intensity_g_per_kwh = 5.0 WHERE run_id = 'r2'")
    (p,) = led.verify([pin]).problems
    assert (p.ref, p.kind) == ("r2", "modified")
    assert "intensity_g_per_kwh: sealed 50.0, now 5.0" in p.detail


def test_edited_member_energy(sealed: Any) -> None:
    backend, led, pin = sealed
    (row,) = backend.execute("SELECT components FROM members WHERE run_id = 'r3'")
    comps = json.loads(row[0])
    comps[0]["energy_j"] = 1.0
    backend.execute("UPDATE members SET components = ? WHERE run_id = 'r3'", (json.dumps(comps),))
    assert problems(led, pin) == {("r3", "modified")}


def test_deleted_finished_run(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("DELETE FROM members WHERE run_id = 'r3'")
    backend.execute("DELETE FROM runs WHERE run_id = 'r3'")
    assert problems(led, pin) == {("r3", "deleted")}


def test_deleted_record_in_the_middle(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("DELETE FROM seals WHERE run_id = 'r2' AND kind = 'seal'")
    found = problems(led, pin)
    assert {k for _, k in found} >= {"deleted"}


def test_inserted_run_signed_by_another_key(sealed: Any, clock: Any, make_run: Any) -> None:
    """An attacker records a plausible run with a key of their own: consistent, but the
    pinned key does not vouch for it."""
    backend, led, pin = sealed
    forger = open_ledger(backend.target, clock=clock, signing_key=_key_file(pin, "forger"))
    try:
        record_run(forger, clock, make_run, 9)
    finally:
        forger.close()
    assert led.verify(use_trusted_file=False).ok  # consistency alone cannot tell
    found = problems(led, pin)
    assert any(kind == "untrusted" for _, kind in found)
    assert ("r9", "unsigned") in found


def test_records_appended_after_the_signed_head(sealed: Any) -> None:
    """A record signed with another key, appended without touching the signed head."""
    backend, led, pin = sealed
    attacker = Ed25519PrivateKey.generate()
    raw = attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    ((seq, prev),) = backend.execute("SELECT seq, record_hash FROM seals ORDER BY seq DESC LIMIT 1")
    canonical = json.dumps({"kind": "meta", "meta": {}, "run_id": "r1", "member_id": ""})
    digest = record_hash(prev, canonical)
    backend.execute(
        "INSERT INTO seals (seq, run_id, member_id, kind, prev_hash, record_hash, signer, "
        "signature, sealed_unix_s, canonical) VALUES (?, 'r1', '', 'meta', ?, ?, ?, ?, 0, ?)",
        (seq + 1, prev, digest, raw, attacker.sign(bytes.fromhex(digest)).hex(), canonical),
    )
    report = led.verify(use_trusted_file=False)  # even without a pinned key
    assert [(p.ref, p.kind) for p in report.problems] == [(f"seq {seq + 1}", "inserted")]
    assert ("seq " + str(seq + 1), "inserted") in problems(led, pin)


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
    seqs = [r[0] for r in backend.execute("SELECT seq FROM seals WHERE kind = 'seal' ORDER BY seq")]
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
    assert "segment" in found[0].detail


def test_deleted_and_inserted_samples(sealed: Any) -> None:
    backend, led, pin = sealed
    (ref,) = backend.execute("SELECT device_ref FROM devices WHERE run_id = 'r1'")
    backend.execute("DELETE FROM samples WHERE device_ref = ? AND energy_j = 20.0", ref)
    backend.execute(
        "INSERT INTO samples (device_ref, time_unix_s, energy_j, seg) VALUES (?, 0, 1, 99)", ref
    )
    found = problems(led, pin)
    assert ("r1", "modified") in found and ("r1", "unsigned") in found


def test_samples_and_windows_slipped_into_a_running_run(
    sealed: Any, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    backend, led, pin = sealed
    led.open_run(make_run("live", started=clock()))
    led.join(MemberRecord("m-live", "live", "h1", 1, clock()), 1e9)
    led.register_devices("live", "m-live", [CPU])
    assert led.verify([pin]).ok
    (ref,) = backend.execute("SELECT device_ref FROM devices WHERE run_id = 'live'")
    backend.execute(
        "INSERT INTO samples (device_ref, time_unix_s, energy_j) VALUES (?, 1, 9e9)", ref
    )
    backend.execute(
        "INSERT INTO windows (run_id, member_id, name, path, started_unix_s, duration_s, "
        "components) VALUES ('live', 'm-live', 'w', 'w', 0, 1, '[]')"
    )
    assert problems(led, pin) == {("live", "unsigned")}


def test_edited_windows(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE windows SET duration_s = 1.0 WHERE run_id = 'r1'")
    assert problems(led, pin) == {("r1", "modified")}


def test_status_set_back_to_running_after_the_seal(sealed: Any) -> None:
    backend, led, pin = sealed
    backend.execute("UPDATE runs SET status = 'running' WHERE run_id = 'r5'")
    assert ("r5", "modified") in problems(led, pin)


def test_wiped_chain_and_reset_runs_then_used_normally(
    sealed: Any, clock: Any, make_run: Callable[..., RunRecord]
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
    record_run(led, clock, make_run, 7)  # the honest writer opens, settles, seals its run
    assert [s.run_id for s in led.list_runs(limit=1)] == ["r7"]
    for rid in ("r1", "r2", "r3", "r4", "r5"):
        kinds = backend.execute("SELECT kind FROM seals WHERE run_id = ?", (rid,))
        assert kinds == []  # never sealed by the honest writer
    found = problems(led, pin)
    assert {("r1", "unsigned"), ("r5", "unsigned")} <= found
    assert not any(ref == "r7" for ref, _ in found)


def test_forged_running_run_then_used_normally(
    sealed: Any, clock: Any, make_run: Callable[..., RunRecord]
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
    record_run(led, clock, make_run, 8)  # settles dead runs on join: not the forged one
    assert led.settle() == []
    assert backend.execute("SELECT kind FROM seals WHERE run_id = 'forged'") == []
    assert led.summary("forged").status == "interrupted"  # reported, not recorded
    assert ("forged", "unsigned") in problems(led, pin)


def test_replaced_key_and_chain_resigned(sealed: Any) -> None:
    """The attacker cuts r5's intensity, rewrites its records and signs the whole chain with
    a key of their own: consistent, and caught only by the pinned key."""
    backend, led, pin = sealed
    attacker = Ed25519PrivateKey.generate()
    raw = attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    backend.execute("UPDATE runs SET intensity_g_per_kwh = 5.0 WHERE run_id = 'r5'")

    def cut(canonical: str) -> str:
        doc = json.loads(canonical)
        if doc.get("run_id") == "r5" and isinstance(doc.get("run"), dict):
            doc["run"]["intensity_g_per_kwh"] = 5.0
            return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return canonical

    resign(backend, attacker.sign, raw, cut)
    plain = led.verify(use_trusted_file=False)
    assert plain.ok and not plain.anchored  # what an unanchored check can and cannot see
    assert {k for _, k in problems(led, pin)} >= {"untrusted"}


def test_small_order_key_with_a_constant_signature(sealed: Any) -> None:
    """With the identity point as public key, R = identity and S = 0 verify for every message
    (OpenSSL accepts it): such keys are refused, pinned or not."""
    backend, led, pin = sealed
    identity = "01" + "00" * 31
    resign(backend, lambda _m: bytes.fromhex(identity) + bytes(32), identity)
    plain = led.verify(use_trusted_file=False)
    assert not plain.ok and {p.kind for p in plain.problems} >= {"bad-signature"}
    assert not led.verify([pin]).ok


def test_rolled_back_to_an_older_copy(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord], tmp_path: Path
) -> None:
    if backend.name != "sqlite":
        pytest.skip("a file copy: the SQLite case")
    led = backend.open(clock)
    record_run(led, clock, make_run, 1)
    led.close()
    old = tmp_path / "old.sqlite"
    shutil.copy(backend.target, old)
    led = backend.open(clock)
    record_run(led, clock, make_run, 2)
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


def test_truncated_tail(backend: Any, clock: Any, make_run: Callable[..., RunRecord]) -> None:
    """The newest run and its records cut off, the head set back to the older signed head an
    older copy holds: consistent, and caught by the published head."""
    led = backend.open(clock)
    try:
        for k in (1, 2):
            record_run(led, clock, make_run, k)
        (old_head,) = backend.execute("SELECT value FROM carbonledger_meta WHERE key = 'seal_head'")
        record_run(led, clock, make_run, 3)
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
    finally:
        led.close()


def _key_file(pin: str, name: str) -> str:
    return str(Path(pin).with_name(f"{name}.pem"))
