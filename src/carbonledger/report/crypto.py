"""Encrypted exports: AES-256-GCM (``cryptography``'s AESGCM) with a 32-byte key.

File format (version 1)::

    magic   8 bytes   b"CLEDGENC"
    version 1 byte    1
    nonce   12 bytes  random, never reused with a key
    body    rest      AES-GCM ciphertext followed by its 16-byte tag

The magic and version are authenticated as associated data, so any changed byte — header,
nonce, ciphertext or tag — makes decryption fail with a clear error; a wrong key fails
the same way. Nothing is ever returned from a file that does not authenticate.

A key is 32 bytes: a file (readable by its owner only, as ssh wants of its keys: a key
file that group or others can read is refused) holding them raw, or as 64 hex digits, or as base64 (e.g.
``(umask 077; head -c32 /dev/urandom > export.key)`` or ``openssl rand -hex 32``); or an
environment variable holding hex or base64. A text password is refused: it is not a key
(32 printable characters are taken for a password, not for 32 random bytes).

Output files (exports, decrypted plaintext) are written through a temporary file created
exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``: never an existing file, never through a
link) and renamed into place; decrypted plaintext gets mode 0600. Only a regular file or a
new path is replaced: a FIFO, a device, a socket or a directory there is refused.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from carbonledger.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "MAGIC",
    "decrypt",
    "decrypt_file",
    "encrypt",
    "generate_key",
    "is_encrypted",
    "load_key",
    "write_atomic",
]

MAGIC = b"CLEDGENC"
VERSION = 1
_NONCE = 12
_TAG = 16
KEY_BYTES = 32
#: the largest key file read (bytes)
KEY_FILE_MAX_BYTES = 4096
#: the largest encrypted export decrypted (bytes)
DECRYPT_MAX_BYTES = 1 << 30


def generate_key() -> bytes:
    """32 random bytes, for ``AES-256-GCM``."""
    return os.urandom(KEY_BYTES)


_HINT = (
    "make one with '(umask 077; head -c32 /dev/urandom > export.key)' (or 'openssl rand -hex "
    "32'), readable by you only"
)


def _looks_like_text(data: bytes) -> bool:
    return all(32 <= b < 127 or b in b"\t\n\r" for b in data)


def _parse_key(data: bytes, where: str) -> bytes:
    if len(data) == KEY_BYTES and not _looks_like_text(data):
        return data
    text = data.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return binascii.unhexlify(text)
        except binascii.Error:
            pass
    for altchars in (None, b"-_"):
        try:
            decoded = base64.b64decode(text, altchars=altchars, validate=True)
        except binascii.Error:
            continue
        if len(decoded) == KEY_BYTES:
            return decoded
    if _looks_like_text(text):
        raise InputError(
            f"the key in {where} looks like a text password, not a 32-byte key (raw, 64 hex "
            f"digits or base64); a password is not a key: {_HINT}"
        )
    raise InputError(f"the key in {where} is not 32 bytes (raw, 64 hex digits or base64); {_HINT}")


def load_key(
    *,
    key_file: str | os.PathLike[str] | None = None,
    key_env: str | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """The 32-byte key from ``key_file`` or from the environment variable ``key_env``."""
    if (key_file is None) == (key_env is None):
        raise InputError("give exactly one of a key file (--key-file) or a variable (--key-env)")
    if key_file is not None:
        from carbonledger._files import read_input

        path = Path(key_file)
        data = read_input(path, "key file", max_bytes=KEY_FILE_MAX_BYTES, forbid_mode=0o077)
        return _parse_key(data, f"key file {path}")
    assert key_env is not None
    env = os.environ if env is None else env
    value = env.get(key_env)
    if not value:
        raise InputError(f"environment variable {key_env} is not set (it should hold the key)")
    return _parse_key(value.encode(), f"environment variable {key_env}")


_NEEDS = (
    "encrypted exports need the 'cryptography' package (AES-256-GCM), a dependency of "
    "carbonledger: reinstall it (pip install --force-reinstall carbonledger)"
)


def _aesgcm(key: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise InputError(_NEEDS) from None

    if len(key) != KEY_BYTES:
        raise InputError(f"an AES-256-GCM key is {KEY_BYTES} bytes, got {len(key)}")
    return AESGCM(key)


def encrypt(data: bytes, key: bytes) -> bytes:
    """``data`` encrypted and authenticated with ``key`` (see the module's format)."""
    header = MAGIC + bytes([VERSION])
    nonce = os.urandom(_NONCE)
    return header + nonce + _aesgcm(key).encrypt(nonce, data, header)


def is_encrypted(blob: bytes) -> bool:
    """True when ``blob`` starts like an encrypted carbonledger export."""
    return blob.startswith(MAGIC)


def decrypt(blob: bytes, key: bytes, where: str = "the input") -> bytes:
    """The plaintext of an encrypted export; :class:`InputError` when the key is wrong or
    any byte was changed (never partial or garbage output)."""
    try:
        from cryptography.exceptions import InvalidTag
    except ImportError:
        raise InputError(_NEEDS) from None

    if not is_encrypted(blob):
        raise InputError(f"{where} is not an encrypted carbonledger export (no {MAGIC!r} header)")
    head = len(MAGIC) + 1
    if len(blob) < head + _NONCE + _TAG:
        raise InputError(f"{where} is truncated: too short for an encrypted export")
    version = blob[len(MAGIC)]
    if version != VERSION:
        raise InputError(
            f"{where} uses encryption format version {version}; this carbonledger reads "
            f"version {VERSION} (upgrade carbonledger)"
        )
    nonce = blob[head : head + _NONCE]
    try:
        return bytes(_aesgcm(key).decrypt(nonce, blob[head + _NONCE :], blob[:head]))
    except InvalidTag:
        raise InputError(
            f"cannot decrypt {where}: wrong key, or the file was changed or truncated "
            "(authentication failed)"
        ) from None


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file, created exclusively in the same
    folder (no link followed, nothing overwritten) with ``mode``, then renamed into place
    (:func:`carbonledger._files.atomic_write`). Only a regular file or a new path is written:
    a FIFO, a device, a socket or a directory there is an :class:`InputError`; a link there is
    replaced, never followed."""
    from carbonledger._files import atomic_write

    try:
        atomic_write(path, data, mode=mode)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        raise InputError(
            f"cannot write {Path(path)}: its folder {folder} does not exist; create it first"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {Path(path)}: {exc.strerror or exc}") from None


def decrypt_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], key: bytes) -> int:
    """Decrypt ``src`` into ``dst`` (written only when the whole file authenticates);
    returns the number of plaintext bytes."""
    from carbonledger._files import read_input

    path = Path(src)
    blob = read_input(path, "encrypted export", max_bytes=DECRYPT_MAX_BYTES)
    plain = decrypt(blob, key, str(path))
    write_atomic(dst, plain, mode=0o600)
    return len(plain)
