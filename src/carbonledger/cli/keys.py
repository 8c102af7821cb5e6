"""``carbonledger keys``: your signing key (made when missing), its public key and fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carbonledger.cli._common import JsonOpt, emit_json


def register(app: typer.Typer) -> None:
    @app.command("keys")
    def keys_command(
        path: Annotated[
            Path | None,
            typer.Option(
                "--path",
                help="The signing key file (default: $CARBONLEDGER_SIGNING_KEY, else "
                "signing_key.pem in your carbonledger config folder).",
            ),
        ] = None,
        no_create: Annotated[
            bool, typer.Option("--no-create", help="Fail instead of making a missing key.")
        ] = False,
        trust: Annotated[
            bool,
            typer.Option(
                "--trust", help="Also add the public key to your trusted-keys file (for verify)."
            ),
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Show your signing key's public key (PEM) and fingerprint; make the key if missing.

        The private key stays in its file (mode 0600); ledgers store public keys only. Give
        the public key or its fingerprint to whoever verifies your runs (verify --key)."""
        from carbonledger.ledger.keys import (
            load_or_create_signing_key,
            public_key_pem,
            trusted_keys_path,
        )

        signer = load_or_create_signing_key(
            None if path is None else str(path), create=not no_create
        )
        pem = public_key_pem(signer.public_hex)
        trusted = ""
        if trust:
            trusted = _add_trusted(trusted_keys_path(), signer.fingerprint, pem)
        if json_out:
            emit_json(
                {
                    "path": signer.path,
                    "fingerprint": signer.fingerprint,
                    "public_key_hex": signer.public_hex,
                    "public_key_pem": pem,
                    "trusted_keys_file": trusted or None,
                }
            )
            return
        typer.echo(f"signing key: {signer.path}")
        typer.echo(f"fingerprint: {signer.fingerprint}")
        typer.echo(pem.rstrip())
        if trusted:
            typer.echo(f"trusted by verify from now on (listed in {trusted})")


def _add_trusted(path: str, fingerprint: str, pem: str) -> str:
    """Add the key to the trusted-keys file (created with its folder) unless listed; the
    file is rewritten whole (atomically), and refused when others may write it."""
    import os

    from carbonledger._files import atomic_write, read_input_text
    from carbonledger.ledger.keys import KEY_MAX_BYTES, KEYS_FILE_FORBIDDEN_MODE

    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = ""
    if os.path.lexists(path):
        text = read_input_text(
            path, "trusted-keys file", max_bytes=KEY_MAX_BYTES * 16,
            forbid_mode=KEYS_FILE_FORBIDDEN_MODE,
        )  # fmt: skip
    if fingerprint not in text and pem.strip() not in text:
        if text and not text.endswith("\n"):
            text += "\n"
        atomic_write(
            path, f"{text}# added by carbonledger keys --trust\n{fingerprint}\n", mode=0o644
        )
    return path
