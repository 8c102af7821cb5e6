"""Signing keys outside the ledger, public keys that prove something, and the commands
``keys``, ``verify --key``, ``settle``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.ledger.keys import (
    fingerprint,
    is_acceptable_public_key,
    load_or_create_signing_key,
    parse_public_key,
    public_key_pem,
    verify_signature,
)
from carbonledger.models import ComponentEnergy, Sample

from .conftest import Clock, Writer, run_cli

P = 2**255 - 19
#: the eight small-order points' encodings (libsodium's list, with both sign bits)
SMALL_ORDER_Y = [
    0,
    1,
    P - 1,
    int.from_bytes(
        bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
    ),
    int.from_bytes(
        bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little"
    ),
]


def enc(y: int, sign: int = 0) -> bytes:
    return (y | (sign << 255)).to_bytes(32, "little")


def test_key_is_made_private_exclusively_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "k.pem"
    first = load_or_create_signing_key(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_signing_key(str(path))
    assert again.public_hex == first.public_hex and "PRIVATE" not in repr(again)
    assert [p.name for p in path.parent.iterdir()] == ["k.pem"]  # no temporary file left


def test_a_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    load_or_create_signing_key(str(path))
    path.chmod(0o640)
    with pytest.raises(LedgerError, match=f"chmod 600 {path}"):
        load_or_create_signing_key(str(path))


def test_a_link_is_never_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    load_or_create_signing_key(str(real))
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    with pytest.raises(LedgerError, match="symbolic link"):
        load_or_create_signing_key(str(link))
    dangling = tmp_path / "dangling.pem"
    dangling.symlink_to(tmp_path / "elsewhere.pem")
    with pytest.raises(LedgerError):
        load_or_create_signing_key(str(dangling))
    assert not (tmp_path / "elsewhere.pem").exists()


def test_small_order_and_non_canonical_keys_are_refused() -> None:
    for y in SMALL_ORDER_Y:
        for sign in (0, 1):
            assert not is_acceptable_public_key(enc(y, sign)), (y, sign)
    for y in (P, P + 1, 2**255 - 1):  # y >= p: non-canonical
        assert not is_acceptable_public_key(enc(y))
    identity = enc(1).hex()
    assert not verify_signature(identity, (enc(1) + bytes(32)).hex(), b"any message")
    with pytest.raises(InputError, match="small-order"):
        parse_public_key(identity, "--key")


def test_public_key_forms(tmp_path: Path) -> None:
    signer = load_or_create_signing_key(str(tmp_path / "k.pem"))
    pem = public_key_pem(signer.public_hex)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert parse_public_key(pem, "x") == signer.public_hex
    assert parse_public_key(signer.public_hex, "x") == signer.public_hex
    raw = bytes.fromhex(signer.public_hex)
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    assert fingerprint(signer.public_hex) == expected == signer.fingerprint
    assert parse_public_key(expected, "x") == expected
    with pytest.raises(InputError, match="expected a public key"):
        parse_public_key("hunter2", "x")
    assert verify_signature(signer.public_hex, signer.sign(b"m"), b"m")
    assert not verify_signature(signer.public_hex, signer.sign(b"m"), b"n")


@pytest.fixture
def finished(tmp_path: Path, make_run: Callable[..., RunRecord]) -> str:
    path = str(tmp_path / "l.sqlite")
    led = open_ledger(path)
    write = Writer(led, time.time)
    try:
        rid = "a1\x1b[31m-evil\r"
        write.open(make_run(rid), MemberRecord("m", rid, "h", 1, 0.0), 5)
        cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 3600.0, 10.0)
        write.finish(rid, "m", [cpu], "completed")
    finally:
        led.close()
    return path


def test_keys_command_and_trusting_it(
    finished: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "keys", "--json")
    info = json.loads(out)
    assert code == 0 and info["fingerprint"].startswith("SHA256:")
    assert info["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert info["path"] == os.environ["CARBONLEDGER_SIGNING_KEY"]
    code, out, _ = run_cli(capsys, "verify", finished)
    assert code == 0 and "NOT ANCHORED" in out and "chain head: " in out
    code, out, _ = run_cli(capsys, "keys", "--trust")
    assert code == 0 and info["fingerprint"] in out
    code, out, _ = run_cli(capsys, "verify", finished)
    assert code == 0 and "NOT ANCHORED" not in out and "keys you trust" in out


def test_verify_with_a_pinned_key_file_or_fingerprint(
    finished: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signer = load_or_create_signing_key()
    pin = tmp_path / "alice.pub"
    pin.write_text(public_key_pem(signer.public_hex))
    code, out, _ = run_cli(capsys, "verify", finished, "--key", str(pin), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["anchored"]
    head = report["head"]
    code, _, _ = run_cli(
        capsys, "verify", finished, "-k", signer.fingerprint, "--expect-head", head
    )
    assert code == 0
    other = load_or_create_signing_key(str(tmp_path / "bob.pem"))
    code, out, _ = run_cli(capsys, "verify", finished, "--key", other.fingerprint)
    assert code == 1 and "untrusted" in out
    code, _, err = run_cli(capsys, "verify", finished, "--expect-head", "nonsense")
    assert code == 2 and "COUNT:HASH" in err


def test_printed_names_are_escaped(finished: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "--ledger", finished)
    assert code == 0 and "\x1b" not in out and "\r" not in out
    assert "a1\\x1b[31m-evil" in out
    code, out, _ = run_cli(capsys, "show", "a1", "--ledger", finished)
    assert code == 0 and "\x1b" not in out and "\\x1b" in out


def test_settle_command(
    tmp_path: Path, make_run: Callable[..., RunRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "l.sqlite")
    clock = Clock(1_000.0)  # long ago: dead for the commands below
    led = open_ledger(path, clock=clock)
    try:
        write = Writer(led, clock)
        write.open(make_run("gone", started=1_000.0), MemberRecord("m", "gone", "h", 1, 1_000.0), 5)
        write.samples("gone", "m", Sample(1_001.0, "cpu", "cpu:package-0", 7.0), at=1_001.0)
    finally:
        led.close()
    code, out, _ = run_cli(capsys, "runs", "--ledger", path, "--json")
    assert json.loads(out)[0]["status"] == "interrupted"
    code, out, _ = run_cli(capsys, "verify", path)
    assert code == 0  # reading wrote nothing: still running in the file, and consistent
    code, out, _ = run_cli(capsys, "settle", "--ledger", path, "--json")
    assert code == 0 and json.loads(out)["settled"] == ["gone"]
    code, out, _ = run_cli(capsys, "settle", "--ledger", path)
    assert code == 0 and "no run to settle" in out
    code, out, _ = run_cli(capsys, "verify", path)
    assert code == 0, out
    code, out, _ = run_cli(capsys, "show", "gone", "--ledger", path, "--json")
    shown = json.loads(out)
    assert shown["status"] == "interrupted" and shown["energy_j"] == pytest.approx(7.0)
