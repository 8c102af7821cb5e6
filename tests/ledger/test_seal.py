"""Sealed records: every kind of tampering with raw SQL is detected and named."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from carbonledger.ledger import MemberRecord, RunRecord, SqlLedger
from carbonledger.ledger.seal import GENESIS_HASH, canonical_json, record_hash
from carbonledger.models import ComponentEnergy, WindowSummary

T0 = 1_700_000_000.0


@pytest.fixture(params=["cryptography", "pure-python"])
def verifier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Signatures are checked by ``cryptography`` where installed, else by our own Ed25519:
    every tampering test runs with both (None in sys.modules makes the import fail)."""
    if request.param == "pure-python":
        for name in (
            "cryptography.exceptions",
            "cryptography.hazmat.primitives.asymmetric.ed25519",
        ):
            monkeypatch.setitem(sys.modules, name, None)
    else:
        pytest.importorskip("cryptography")
    return str(request.param)


@pytest.fixture
def sealed(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord], verifier: str
) -> Iterator[tuple[Any, SqlLedger]]:
    """Five finished runs r1..r5, sealed as seq 1..5."""
    led = backend.open(clock)
    for k in range(1, 6):
        rid = f"r{k}"
        led.open_run(make_run(rid, started=T0 + k, meta={"k": k}))
        led.join(MemberRecord(f"m{k}", rid, "h1", 10 + k, T0 + k, rank=0), 5)
        cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 100.0 * k, 10.0)
        led.add_window(rid, f"m{k}", WindowSummary("epoch-1", "epoch-1", T0 + k, 5.0, (cpu,)))
        clock.advance(1)
        led.finish_member(rid, f"m{k}", [cpu], "completed")
    assert led.verify().ok
    try:
        yield backend, led
    finally:
        led.close()


def kinds(led: SqlLedger) -> set[tuple[str, str]]:
    report = led.verify()
    assert not report.ok
    return {(p.ref, p.kind) for p in report.problems}


def test_intact_ledger_verifies(sealed: tuple[Any, SqlLedger]) -> None:
    _, led = sealed
    report = led.verify()
    assert report.ok and report.problems == []
    assert report.seals == 5 and report.runs == 5 and len(report.public_key) == 64
    assert report.to_dict()["ok"] is True


def test_modified_run_field(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("UPDATE runs SET intensity_g_per_kwh = 5.0 WHERE run_id = 'r2'")
    report = led.verify()
    assert [(p.ref, p.kind) for p in report.problems] == [("r2", "modified")]
    assert "run.intensity_g_per_kwh: sealed 50.0, now 5.0" in report.problems[0].detail


def test_modified_member_energy(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    (row,) = backend.execute("SELECT components FROM members WHERE run_id = 'r3'")
    comps = json.loads(row[0])
    comps[0]["energy_j"] = 1.0
    backend.execute("UPDATE members SET components = ? WHERE run_id = 'r3'", (json.dumps(comps),))
    report = led.verify()
    assert [(p.ref, p.kind) for p in report.problems] == [("r3", "modified")]
    assert "energy_j: sealed 300.0, now 1.0" in report.problems[0].detail


def test_modified_window_and_status(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("UPDATE windows SET duration_s = 1.0 WHERE run_id = 'r1'")
    backend.execute("UPDATE runs SET status = 'failed' WHERE run_id = 'r4'")
    backend.execute("UPDATE runs SET status = 'running' WHERE run_id = 'r5'")
    assert kinds(led) == {("r1", "modified"), ("r4", "modified"), ("r5", "modified")}


def test_deleted_run(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("DELETE FROM members WHERE run_id = 'r3'")
    backend.execute("DELETE FROM runs WHERE run_id = 'r3'")
    assert kinds(led) == {("r3", "deleted")}


def test_deleted_seal_in_the_middle(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("DELETE FROM seals WHERE seq = 3")
    found = kinds(led)
    assert ("seq 3", "deleted") in found and ("r3", "deleted") in found
    assert {k for _, k in found} == {"deleted"}


def test_deleted_newest_record(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("DELETE FROM seals WHERE seq = 5")
    backend.execute("DELETE FROM members WHERE run_id = 'r5'")
    backend.execute("DELETE FROM runs WHERE run_id = 'r5'")
    assert kinds(led) == {("seq 5", "deleted")}


def test_inserted_forged_run(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    # the forger writes a plausible run, and a seal signed with a key of their own
    backend.execute(
        "INSERT INTO runs SELECT 'r9', project, experiment, tags, started_unix_s, "
        "finished_unix_s, scope, location, location_source, intensity_g_per_kwh, "
        "intensity_source, pue, pue_source, meta, status, 6 FROM runs WHERE run_id = 'r1'"
    )
    (head,) = backend.execute("SELECT value FROM carbonledger_meta WHERE key = 'seal_head'")
    prev = json.loads(head[0])["hash"]
    canonical = canonical_json({"kind": "seal", "run": {"run_id": "r9"}})
    digest = record_hash(prev, canonical)
    from carbonledger.ledger import _ed25519

    forged_sig = _ed25519.sign(_ed25519.new_seed(), bytes.fromhex(digest)).hex()
    backend.execute(
        "INSERT INTO seals (seq, run_id, kind, prev_hash, record_hash, signature, "
        "sealed_unix_s, canonical) VALUES (6, 'r9', 'seal', ?, ?, ?, 0, ?)",
        (prev, digest, forged_sig, canonical),
    )
    found = kinds(led)
    assert ("r9", "inserted") in found
    assert {k for _, k in found} <= {"inserted", "bad-signature"}


def test_inserted_unsealed_finished_run(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute(
        "INSERT INTO runs SELECT 'r0', project, experiment, tags, started_unix_s, "
        "finished_unix_s, scope, location, location_source, intensity_g_per_kwh, "
        "intensity_source, pue, pue_source, meta, status, NULL FROM runs WHERE run_id = 'r1'"
    )
    assert kinds(led) == {("r0", "inserted")}


def test_inserted_copy_of_a_real_seal(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute(
        "INSERT INTO seals SELECT 6, run_id, kind, prev_hash, record_hash, signature, "
        "sealed_unix_s, canonical FROM seals WHERE seq = 2"
    )
    assert ("r2", "inserted") in kinds(led)


def test_reordered_seals(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("UPDATE seals SET seq = -seq WHERE seq IN (2, 4)")
    backend.execute("UPDATE seals SET seq = 4 WHERE seq = -2")
    backend.execute("UPDATE seals SET seq = 2 WHERE seq = -4")
    assert kinds(led) == {("r2", "reordered"), ("r4", "reordered")}


def test_reordered_seals_with_run_pointers_fixed(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    backend.execute("UPDATE seals SET seq = -seq WHERE seq IN (1, 2)")
    backend.execute("UPDATE seals SET seq = 2 WHERE seq = -1")
    backend.execute("UPDATE seals SET seq = 1 WHERE seq = -2")
    backend.execute("UPDATE runs SET seal_seq = 3 - seal_seq WHERE run_id IN ('r1', 'r2')")
    assert kinds(led) == {("r1", "reordered"), ("r2", "reordered")}


def test_altered_signature(sealed: tuple[Any, SqlLedger]) -> None:
    backend, led = sealed
    (sig,) = backend.execute("SELECT signature FROM seals WHERE seq = 2")
    flipped = ("0" if sig[0][0] != "0" else "1") + sig[0][1:]
    backend.execute("UPDATE seals SET signature = ? WHERE seq = 2", (flipped,))
    assert kinds(led) == {("r2", "bad-signature")}


def test_edited_seal_row(sealed: tuple[Any, SqlLedger]) -> None:
    """Editing the stored canonical form to match a modified run breaks the seal's hash."""
    backend, led = sealed
    backend.execute("UPDATE runs SET project = 'x' WHERE run_id = 'r2'")
    (canonical,) = backend.execute("SELECT canonical FROM seals WHERE seq = 2")
    backend.execute(
        "UPDATE seals SET canonical = ? WHERE seq = 2",
        (canonical[0].replace('"project":"proj"', '"project":"x"'),),
    )
    assert kinds(led) == {("r2", "modified")}


def test_rehashing_without_the_key_is_caught(sealed: tuple[Any, SqlLedger]) -> None:
    """A tamperer who recomputes the whole chain's hashes still cannot sign it."""
    backend, led = sealed
    backend.execute("UPDATE runs SET project = 'x' WHERE run_id = 'r5'")
    rows = backend.execute("SELECT seq, canonical FROM seals ORDER BY seq")
    prev = GENESIS_HASH
    for seq, canonical in rows:
        if seq == 5:
            canonical = canonical.replace('"project":"proj"', '"project":"x"')
        digest = hashlib.sha256(bytes.fromhex(prev) + canonical.encode()).hexdigest()
        backend.execute(
            "UPDATE seals SET canonical = ?, prev_hash = ?, record_hash = ? WHERE seq = ?",
            (canonical, prev, digest, seq),
        )
        prev = digest
    found = kinds(led)
    assert ("r5", "inserted") in found or ("r5", "bad-signature") in found
    assert ("ledger", "bad-signature") in found or ("seq 5", "deleted") in found
