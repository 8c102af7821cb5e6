"""Signing keys: a per-user Ed25519 key outside the ledger, public keys, trusted keys.

* The **signing key** is an unencrypted PKCS#8 PEM file, ``$CARBONLEDGER_SIGNING_KEY`` when
  set, else ``$XDG_CONFIG_HOME/carbonledger/signing_key.pem`` (``~/.config`` when unset).
  Like ssh, a key readable by group or others is refused (with the ``chmod`` that fixes it).
  A missing key is created with mode 0600, exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``:
  never over an existing file, never through a symbolic link).
* The ledger stores **public keys only** (each record names its signer).
* A **fingerprint** is ``SHA256:`` + unpadded base64 of SHA-256 over the 32-byte raw public
  key (the form ``ssh-keygen -l`` prints for its keys).
* **Trusted keys** are what ``verify`` checks signers against: ``--key`` arguments and the
  file ``$XDG_CONFIG_HOME/carbonledger/trusted_keys`` (one public key PEM block or one
  fingerprint per entry; ``#`` comments).
* A public key is **refused** when its encoding is non-canonical (``y >= p``) or when it is
  one of the eight points of small order: with such a key a constant signature verifies for
  every message (OpenSSL accepts it), so it proves nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from carbonledger import _dirs
from carbonledger.errors import InputError, LedgerError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "KEYS_FILE_FORBIDDEN_MODE",
    "KEY_ENV_VAR",
    "KEY_MAX_BYTES",
    "Signer",
    "config_dir",
    "fingerprint",
    "is_acceptable_public_key",
    "load_or_create_signing_key",
    "load_trusted_keys",
    "parse_public_key",
    "public_key_pem",
    "signing_key_path",
    "trusted_keys_path",
    "verify_signature",
]

#: environment variable naming the signing key file
KEY_ENV_VAR = "CARBONLEDGER_SIGNING_KEY"
#: the largest key file read (bytes): a PEM key is a few hundred
KEY_MAX_BYTES = 64 << 10

_P = 2**255 - 19
#: y-coordinates of the eight small-order points of edwards25519: the identity (1), the point
#: of order 2 (p - 1), the two of order 4 (0) and the four of order 8 (these two and p - y).
#: Each y with either sign bit is refused (for y = 0 or 1 or p - 1, x = 0 and the set sign
#: bit is itself non-canonical).
_ORDER8_Y = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
)
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _ORDER8_Y, _P - _ORDER8_Y})


def config_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/carbonledger`` (``~/.config/carbonledger`` when unset)."""
    return _dirs.config_dir(env)


def signing_key_path(env: Mapping[str, str] | None = None) -> str:
    """``$CARBONLEDGER_SIGNING_KEY``, else ``<config dir>/signing_key.pem``."""
    env = os.environ if env is None else env
    return env.get(KEY_ENV_VAR) or os.path.join(config_dir(env), "signing_key.pem")


def trusted_keys_path(env: Mapping[str, str] | None = None) -> str:
    """``<config dir>/trusted_keys``: the keys ``verify`` trusts without ``--key``."""
    return os.path.join(config_dir(env), "trusted_keys")


# --- public keys ---------------------------------------------------------------------------


def is_acceptable_public_key(raw: bytes) -> bool:
    """True for a 32-byte Ed25519 public key that is canonical and not of small order."""
    if len(raw) != 32:
        return False
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    return y < _P and y not in _SMALL_ORDER_Y


def fingerprint(public_hex: str) -> str:
    """``SHA256:<base64>`` of a raw public key given in hex."""
    digest = hashlib.sha256(bytes.fromhex(public_hex)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def public_key_pem(public_hex: str) -> str:
    """The public key as a ``-----BEGIN PUBLIC KEY-----`` block (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def parse_public_key(text: str, where: str) -> str:
    """A trusted key given as text: a PEM public key (returns its hex), a fingerprint
    ``SHA256:...`` (returned as is), or 64 hex digits. :class:`InputError` otherwise, and for
    small-order or non-canonical keys."""
    text = text.strip()
    if text.startswith("SHA256:"):
        if not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", text):
            raise InputError(f"{where}: {text!r:.60} is not a SHA256 key fingerprint")
        return text
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raw = bytes.fromhex(text)
    elif "-----BEGIN PUBLIC KEY-----" in text:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise InputError(f"{where}: not a readable public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{where}: not an Ed25519 public key")
        raw = _raw_public(key)
    else:
        raise InputError(
            f"{where}: expected a public key PEM block, a fingerprint SHA256:... or 64 hex "
            "digits (print yours with 'carbonledger keys')"
        )
    if not is_acceptable_public_key(raw):
        raise InputError(f"{where}: a small-order or non-canonical Ed25519 key proves nothing")
    return raw.hex()


def _entries(text: str) -> list[str]:
    """PEM blocks and single-line entries of a keys file (comments dropped)."""
    out: list[str] = []
    block: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if block is not None:
            block.append(stripped)
            if stripped.startswith("-----END"):
                out.append("\n".join(block))
                block = None
        elif stripped.startswith("-----BEGIN"):
            block = [stripped]
        elif stripped and not stripped.startswith("#"):
            out.append(stripped.split()[0])
    return out


#: permission bits a keys file must not have: nobody but its owner may write a trust anchor
KEYS_FILE_FORBIDDEN_MODE = 0o022


def _read_keys_file(path: str) -> list[str]:
    """The public keys a keys file holds (not writable by group or others: whoever could
    write it could make verify trust their key)."""
    from carbonledger._files import read_input_text

    text = read_input_text(
        path, "key file", max_bytes=KEY_MAX_BYTES * 16, forbid_mode=KEYS_FILE_FORBIDDEN_MODE
    )
    return [parse_public_key(e, path) for e in _entries(text)]


def load_trusted_keys(
    args: Iterable[str] = (), env: Mapping[str, str] | None = None, *, user_file: bool = True
) -> tuple[list[str], list[str]]:
    """The trusted keys (hex or fingerprints) from ``args`` (each a file holding keys, a
    fingerprint or hex) and the user's trusted-keys file; and where they came from. A keys
    file writable by group or others is refused (:class:`InputError` with the ``chmod``)."""
    keys: list[str] = []
    sources: list[str] = []
    for arg in args:
        if not isinstance(arg, str) or "\x00" in arg:
            raise InputError(f"--key: {arg!r:.60} is not a key file or a fingerprint")
        if os.path.isfile(arg):
            found = _read_keys_file(arg)
            if not found:
                raise InputError(f"key file {arg} holds no public key")
            keys += found
            sources.append(arg)
        else:
            keys.append(parse_public_key(arg, "--key"))
            sources.append("--key")
    path = trusted_keys_path(env)
    if user_file and os.path.lexists(path):
        keys += _read_keys_file(path)
        sources.append(path)
    return keys, sources


def verify_signature(public_hex: str, signature_hex: str, message: bytes) -> bool:
    """Whether ``signature_hex`` is ``public_hex``'s Ed25519 signature of ``message``; False
    for malformed input and for refused keys (never raises)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = bytes.fromhex(public_hex)
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if not is_acceptable_public_key(raw):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- the signing key -----------------------------------------------------------------------


class Signer:
    """A loaded signing key: :meth:`sign` and its public key in hex (never the private key)."""

    __slots__ = ("_key", "path", "public_hex")

    def __init__(self, key: Ed25519PrivateKey, path: str = "") -> None:
        self._key = key
        self.path = path
        self.public_hex = _raw_public(key.public_key()).hex()

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of ``message``, as hex."""
        return self._key.sign(message).hex()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_hex)

    def __repr__(self) -> str:
        return f"Signer({self.fingerprint})"


def _read_key(path: str) -> Signer:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # never blocks: a FIFO is refused below, not waited on
    except OSError as exc:
        raise LedgerError(
            f"cannot read the signing key {path}: {exc.strerror} (a symbolic link is refused); "
            f"point {KEY_ENV_VAR} at a readable key file"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise LedgerError(
                f"the signing key {path} is {kind}; point {KEY_ENV_VAR} at a key file (or at "
                "a path where one can be made)"
            )
        if info.st_mode & 0o077:
            raise LedgerError(
                f"the signing key {path} is readable by others (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); it is refused, as ssh refuses such keys. "
                f"Fix: chmod 600 {path}"
            )
        pem = os.read(fd, KEY_MAX_BYTES + 1)
    except OSError as exc:
        raise LedgerError(f"cannot read the signing key {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(pem) > KEY_MAX_BYTES:
        raise LedgerError(
            f"the signing key {path} is larger than a key file ({KEY_MAX_BYTES} bytes)"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise LedgerError(
            f"the signing key {path} cannot be read ({exc}); move it away and a new key is made "
            "(runs it signed still verify against its public key)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(f"the signing key {path} is not an Ed25519 key")
    return Signer(key, path)


def load_or_create_signing_key(path: str | None = None, *, create: bool = True) -> Signer:
    """The user's signing key (see the module); created when missing unless ``create=False``.
    :class:`LedgerError` naming the file and the fix when it cannot be used."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = os.path.abspath(os.path.expanduser(path or signing_key_path()))
    if os.path.lexists(path) or not create:
        if not os.path.lexists(path):
            raise LedgerError(f"no signing key at {path}; create one with 'carbonledger keys'")
        return _read_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    from carbonledger._files import write_new

    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_new(path, pem, mode=0o600)  # published whole, never over a file or a link
    except FileExistsError:  # another process made it first: use theirs
        return _read_key(path)
    except OSError as exc:
        raise LedgerError(
            f"cannot create the signing key {path}: {exc.strerror}; set {KEY_ENV_VAR} to a "
            "writable place"
        ) from None
    return Signer(key, path)
