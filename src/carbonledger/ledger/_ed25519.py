"""Ed25519 signatures (RFC 8032, "pure" Ed25519) in plain Python, standard library only.

The ledger signs each seal with Ed25519. Importing ``cryptography`` for that costs about
15 ms and 9.5 MiB of memory in a fresh process (and 15 MiB on disk), so signing at
``Tracker.stop()`` uses this module instead. Signatures are byte-identical to RFC 8032
Ed25519 (and so to OpenSSL / ``cryptography``); keys are the 32-byte RFC 8032 private key
("seed"), stored as the same unencrypted PKCS#8 PEM that ``cryptography`` writes.
SHA-512 comes from ``carbonledger._hash`` (CPython's builtin ``_sha512``/``_sha2``, so no
``hashlib``/OpenSSL start-up); nothing else beyond ``os`` and, for PEM, ``binascii``.

On the 2-vCPU development VM (CPython 3.11), in a fresh process: import 0.2 ms; the first
``sign`` 1.6 ms (1.2 ms with the public key passed), of which about 0.9 ms builds the
base-point table; each later ``sign`` 0.6 ms (0.3 ms with the public key passed);
``public_key`` 0.3 ms; ``verify`` 1.4 ms.

How it is computed
------------------
* Points live in extended twisted Edwards coordinates ``(X, Y, Z, T)`` with
  ``x = X/Z``, ``y = Y/Z``, ``x*y = T/Z`` on ``-x^2 + y^2 = 1 + d*x^2*y^2`` (a = -1).
  Addition is "add-2008-hwcd-3" and doubling "dbl-2008-hwcd" (Hisil, Wong, Carter and
  Dawson 2008; both spelled out in RFC 8032 section 5.1.4). These formulas are complete
  on this curve, so there are no special cases. The one field inversion
  (``pow(z, -1, p)``) happens when a point is encoded.
* ``n*B`` for the base point ``B`` (key derivation and signing) uses a table of
  ``16^i * B`` for ``i = 0..63``, built on first use (252 doublings, the cost of one plain
  scalar multiplication, held for the life of the process) and never at import. The
  scalar is written in signed radix-16 digits ``e_i`` in ``[-8, 8]``, and each ``+-16^i*B``
  is added into bucket ``|e_i|``; then ``sum(j * bucket_j)`` needs about 16 more
  additions. That is about 80 additions and no doublings per multiplication.
* Verification computes ``[S]B - [k]A`` with one shared chain of doublings (Straus's
  method, signed radix-16 digits, small tables of ``1..8`` times each point), encodes the
  result and compares it with the signature's ``R`` bytes. An encoding is always canonical,
  so an ``R`` that is not a canonical encoding of a curve point never matches. This is the
  cofactorless check ``[S]B == R + [k]A`` that OpenSSL (and so ``cryptography``) uses,
  so both give the same answer for any public key that a key pair can have. ``S >= L``
  and public keys that do not decode are rejected, including (as RFC 8032 says) the
  non-canonical encodings ``y >= p`` and ``x = 0`` with the sign bit set; OpenSSL accepts
  those few encodings of small-order points, which no seed ever produces.

Not constant-time
-----------------
Python integers are neither constant-time nor cleanable, and the table look-ups depend
on the secret scalar, so timing (and memory) may leak information about the key to an
attacker who can measure this process closely. That is acceptable here: the signing key
sits in a file beside the ledger (mode 0600), readable by the same user whose process
signs, so anyone able to mount such a side-channel attack on that process can read the
key file itself. The signature proves that the sealed records were not changed after
sealing; this is not a service that protects a secret from other users. Verifying a big
ledger (thousands of seals) uses ``cryptography`` when it is installed, which is both
constant-time and much faster; this module's ``verify`` is the fallback.
"""

from __future__ import annotations

import os

from carbonledger._hash import sha512

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SEED_BYTES",
    "SIGNATURE_BYTES",
    "new_seed",
    "public_key",
    "seed_from_pem",
    "seed_to_pem",
    "sign",
    "verify",
]

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

# Field prime, group order, curve constant d = -121665/121666, 2*d, sqrt(-1) and the base
# point B = (x, 4/5) with x even. They are written out (not computed) to keep the import
# free of modular exponentiations; the tests derive each one from its definition.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
_D2 = 16295367250680780974490674513165176452449235426866156013048779062215315747161
_SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960

_MASK_255 = (1 << 255) - 1

# An extended point (X, Y, Z, T), and the "cached" form of one used as the second operand
# of an addition: (Y + X, Y - X, 2*Z, 2*d*T), all mod p.
_Point = tuple[int, int, int, int]
_Cached = tuple[int, int, int, int]

_IDENTITY: _Point = (0, 1, 1, 0)
_BASE: _Point = (_BX, _BY, 1, _BX * _BY % _P)

# Built on first use by _base_table() from _ed25519_table: for i = 0..63 the point
# 16^i * B in extended and cached form, and the cached form of its negative.
_base_rows: list[tuple[_Point, _Cached, _Cached]] | None = None
# Built on first use by _base_multiples(): the cached forms of 0*B .. 8*B.
_base_small: tuple[_Cached, ...] | None = None

_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"
_ED25519_OID = "1.3.101.112"
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_OID_NAMES = {
    "1.2.840.113549.1.1.1": "an RSA key",
    "1.2.840.10045.2.1": "an elliptic-curve (ECDSA) key",
    "1.3.101.110": "an X25519 key",
    "1.3.101.111": "an X448 key",
    "1.3.101.113": "an Ed448 key",
    "1.2.840.10040.4.1": "a DSA key",
}


# --------------------------------------------------------------------------------------
# Point arithmetic. Coordinates of points are reduced mod p. Inside a formula, a product
# whose result is only multiplied again is "folded" instead: v = lo + 19*hi for
# v = hi*2^255 + lo, which is congruent mod p (2^255 = 19) and about 260 bits, and costs a
# third less than ``% p``; every product that becomes a coordinate is reduced with ``% p``.


def _cached(pt: _Point) -> _Cached:
    """The cached form ``(Y+X, Y-X, 2Z, 2dT)`` of an extended point."""
    p = _P
    x, y, z, t = pt
    return ((y + x) % p, (y - x) % p, 2 * z % p, _D2 * t % p)


def _neg_cached(c: _Cached) -> _Cached:
    """The cached form of the negative of the point whose cached form is ``c``."""
    return (c[1], c[0], c[2], _P - c[3] if c[3] else 0)


def _add(pt: _Point, c: _Cached) -> _Point:
    """``pt + q`` where ``c`` is the cached form of ``q`` (add-2008-hwcd-3, a = -1)."""
    p = _P
    m = _MASK_255
    x1, y1, z1, t1 = pt
    a = (y1 - x1) * c[1]
    a = (a & m) + 19 * (a >> 255)
    b = (y1 + x1) * c[0]
    b = (b & m) + 19 * (b >> 255)
    cc = t1 * c[3]
    cc = (cc & m) + 19 * (cc >> 255)
    d = z1 * c[2]
    d = (d & m) + 19 * (d >> 255)
    e = b - a
    f = d - cc
    g = d + cc
    h = b + a
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def _double(pt: _Point) -> _Point:
    """``2 * pt`` (dbl-2008-hwcd, a = -1)."""
    p = _P
    m = _MASK_255
    x1, y1, z1, _ = pt
    a = x1 * x1
    a = (a & m) + 19 * (a >> 255)
    b = y1 * y1
    b = (b & m) + 19 * (b >> 255)
    c = z1 * z1 << 1
    c = (c & m) + 19 * (c >> 255)
    s = x1 + y1
    s *= s
    h = a + b
    e = h - (s & m) - 19 * (s >> 255)
    g = a - b
    f = c + g
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def _times16(pt: _Point) -> _Point:
    """``16 * pt``: four doublings."""
    return _double(_double(_double(_double(pt))))


def _encode(pt: _Point) -> bytes:
    """The 32-byte RFC 8032 encoding of a point: ``y`` little-endian, sign of ``x`` on top."""
    p = _P
    x, y, z, _ = pt
    zi = pow(z, -1, p)
    x = x * zi % p
    y = y * zi % p
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(data: bytes) -> _Point | None:
    """The point a 32-byte encoding names, or None where it names none (RFC 8032 5.1.3).

    Rejects a non-canonical ``y >= p``, a ``y`` with no ``x`` on the curve, and
    ``x = 0`` with the sign bit set.
    """
    p = _P
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= _MASK_255
    if y >= p:
        return None
    yy = y * y % p
    u = yy - 1
    v = _D * yy + 1
    v3 = v * v % p * v % p
    x = u * v3 % p * pow(u * v3 % p * v3 % p * v % p, (p - 5) // 8, p) % p
    vxx = v * x % p * x % p
    if vxx == u % p:
        pass
    elif vxx == -u % p:
        x = x * _SQRT_M1 % p
    else:
        return None
    if x == 0 and sign:
        return None
    if (x & 1) != sign:
        x = p - x
    return (x, y, 1, x * y % p)


def _signed_digits(n: int) -> list[int]:
    """``n`` (``0 <= n < 2^255``) as 64 radix-16 digits in ``[-8, 8]``, lowest first."""
    digits = []
    carry = 0
    for byte in n.to_bytes(32, "little"):
        for nibble in (byte & 15, byte >> 4):
            d = nibble + carry
            if d > 8:
                digits.append(d - 16)
                carry = 1
            else:
                digits.append(d)
                carry = 0
    # carry is 0 here: the top nibble of n < 2^255 is at most 7.
    return digits


def _base_table() -> list[tuple[_Point, _Cached, _Cached]]:
    """``16^i * B`` for ``i = 0..63`` (extended, cached, cached negative); built once, from
    the affine points written out in :mod:`._ed25519_table`."""
    global _base_rows
    rows = _base_rows
    if rows is None:
        from carbonledger.ledger._ed25519_table import BASE_POWERS

        p = _P
        rows = []
        for x, y in BASE_POWERS:
            pt = (x, y, 1, x * y % p)
            c = _cached(pt)
            rows.append((pt, c, _neg_cached(c)))
        _base_rows = rows
    return rows


def base_powers_affine() -> list[tuple[int, int]]:
    """``16^i * B`` for ``i = 0..63`` in affine ``(x, y)``, by repeated doubling: what
    :mod:`._ed25519_table` holds (the tests compare the two)."""
    out = []
    pt = _BASE
    for i in range(64):
        x, y, z, _ = pt
        zi = pow(z, -1, _P)
        out.append((x * zi % _P, y * zi % _P))
        if i < 63:
            pt = _times16(pt)
    return out


def _multiples(pt: _Point) -> tuple[_Cached, ...]:
    """The cached forms of ``0*pt, 1*pt, .., 8*pt``."""
    out = [_cached(_IDENTITY), _cached(pt)]
    c1 = out[1]
    acc = pt
    for _ in range(7):
        acc = _add(acc, c1)
        out.append(_cached(acc))
    return tuple(out)


def _base_multiples() -> tuple[_Cached, ...]:
    """The cached forms of ``0*B .. 8*B``; built once."""
    global _base_small
    small = _base_small
    if small is None:
        small = _base_small = _multiples(_BASE)
    return small


def _base_mul(n: int) -> _Point:
    """``n * B`` for ``0 <= n < 2^255``, by bucketing the signed radix-16 digits of ``n``."""
    rows = _base_table()
    buckets: list[_Point | None] = [None] * 9
    for i, e in enumerate(_signed_digits(n)):
        if e == 0:
            continue
        pt, pos, neg = rows[i]
        if e > 0:
            bucket = buckets[e]
            buckets[e] = pt if bucket is None else _add(bucket, pos)
        else:
            bucket = buckets[-e]
            if bucket is None:
                x, y, z, t = pt
                buckets[-e] = (-x % _P, y, z, -t % _P)
            else:
                buckets[-e] = _add(bucket, neg)
    # sum(j * bucket_j) = bucket_8 + (bucket_8 + bucket_7) + ... + (bucket_8 + .. + bucket_1)
    running: _Point | None = None
    total: _Point | None = None
    for j in range(8, 0, -1):
        bucket = buckets[j]
        if bucket is not None:
            running = bucket if running is None else _add(running, _cached(bucket))
        if running is not None:
            total = running if total is None else _add(total, _cached(running))
    return _IDENTITY if total is None else total


def _double_mul(n: int, m: int, pt: _Point) -> _Point:
    """``n * B + m * pt`` for ``0 <= n, m < 2^255`` (Straus: one chain of doublings)."""
    base = _base_multiples()
    other = _multiples(pt)
    dn = _signed_digits(n)
    dm = _signed_digits(m)
    acc = _IDENTITY
    for i in range(63, -1, -1):
        if i != 63:
            acc = _times16(acc)
        e = dn[i]
        if e > 0:
            acc = _add(acc, base[e])
        elif e < 0:
            acc = _add(acc, _neg_cached(base[-e]))
        e = dm[i]
        if e > 0:
            acc = _add(acc, other[e])
        elif e < 0:
            acc = _add(acc, _neg_cached(other[-e]))
    return acc


# --------------------------------------------------------------------------------------
# Ed25519


def _expand(seed: bytes) -> tuple[int, bytes]:
    """The secret scalar ``s`` (clamped) and the nonce prefix of a 32-byte seed."""
    if not isinstance(seed, (bytes, bytearray, memoryview)) or len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 private key (seed) is {SEED_BYTES} bytes")
    h = sha512(seed).digest()
    s = int.from_bytes(h[:32], "little")
    s &= (1 << 254) - 8  # clear the 3 low bits and bit 255
    s |= 1 << 254
    return s, h[32:]


def _hash_mod_l(*parts: bytes) -> int:
    """SHA-512 of the concatenated parts, read little-endian, mod L."""
    h = sha512()
    for part in parts:
        h.update(part)
    return int.from_bytes(h.digest(), "little") % _L


def new_seed() -> bytes:
    """A new random 32-byte Ed25519 private key (seed) from ``os.urandom``."""
    return os.urandom(SEED_BYTES)


def public_key(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a 32-byte seed (RFC 8032 5.1.5).

    Raises ValueError when ``seed`` is not 32 bytes.
    """
    s, _ = _expand(seed)
    return _encode(_base_mul(s))


def sign(seed: bytes, message: bytes, public: bytes | None = None) -> bytes:
    """The 64-byte Ed25519 signature ``R || S`` of ``message`` (RFC 8032 5.1.6).

    ``public`` is the seed's public key where the caller has it already, which saves
    computing it again (half of the work); it must be the right one, or the
    signature will not verify. Raises ValueError when ``seed`` (or ``public``) is not 32
    bytes.
    """
    s, prefix = _expand(seed)
    if public is None:
        public = _encode(_base_mul(s))
    elif len(public) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes")
    r = _hash_mod_l(prefix, message)
    r_bytes = _encode(_base_mul(r))
    k = _hash_mod_l(r_bytes, public, message)
    return r_bytes + ((r + k * s) % _L).to_bytes(32, "little")


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` under ``public``.

    Cofactorless, as OpenSSL checks it: ``[S]B == R + [k]A``. False (never an exception)
    for wrong lengths or types, ``S >= L``, a public key that does not decode to a curve
    point, an ``R`` that is not the canonical encoding of one, or a wrong signature.
    """
    kinds = (bytes, bytearray, memoryview)
    if not (
        isinstance(public, kinds) and isinstance(signature, kinds) and isinstance(message, kinds)
    ):
        return False
    public = bytes(public)
    signature = bytes(signature)
    if len(public) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    a = _decode(public)
    if a is None:
        return False
    r_bytes = signature[:32]
    k = _hash_mod_l(r_bytes, public, message)
    x, y, z, t = a
    minus_a = (-x % _P, y, z, -t % _P)
    return _encode(_double_mul(s, k, minus_a)) == r_bytes


# --------------------------------------------------------------------------------------
# PKCS#8 PEM, as cryptography writes it


# base64 by hand: binascii is an extension module (~0.6 ms to load in a fresh process, on
# the first run's stop()) and ``base64`` imports ``re``; a key is 48 bytes.
_B64_VALUES = {c: i for i, c in enumerate(_B64_ALPHABET)}


def _b64encode(data: bytes) -> bytes:
    """Standard base64 with ``=`` padding, as ``binascii.b2a_base64(data, newline=False)``."""
    pad = -len(data) % 3
    n = int.from_bytes(data + b"\0" * pad, "big")
    chars = (len(data) + pad) // 3 * 4
    text = bytes(_B64_ALPHABET[(n >> (6 * (chars - 1 - i))) & 63] for i in range(chars))
    return text[: chars - pad] + b"=" * pad


def _b64decode(data: bytes) -> bytes:
    """The bytes of unpadded base64 ``data`` (alphabet characters only, checked by the
    caller), as ``binascii.a2b_base64`` reads it: the bits past the last whole byte dropped."""
    n = 0
    values = _B64_VALUES
    for ch in data:
        n = (n << 6) | values[ch]
    bits = 6 * len(data)
    return (n >> (bits % 8)).to_bytes(bits // 8, "big")


def seed_to_pem(seed: bytes) -> bytes:
    """The unencrypted PKCS#8 PEM of a 32-byte seed, byte-identical to ``cryptography``'s.

    That is ``Ed25519PrivateKey.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
    NoEncryption())``: the 48-byte DER (a fixed 16-byte prefix, then the seed) in base64
    between ``-----BEGIN/END PRIVATE KEY-----`` lines. Raises ValueError when ``seed`` is
    not 32 bytes.
    """
    if not isinstance(seed, (bytes, bytearray, memoryview)) or len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 private key (seed) is {SEED_BYTES} bytes")
    body = _b64encode(_PKCS8_PREFIX + bytes(seed))
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([_PEM_BEGIN, *lines, _PEM_END]) + b"\n"


def _read_tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """DER tag, start and end of the value of the element at ``pos``; ValueError if cut."""
    if pos + 2 > len(der):
        raise ValueError("truncated")
    tag = der[pos]
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(der):
            raise ValueError("bad length")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > len(der):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _oid_text(raw: bytes) -> str:
    """Dotted text of a DER-encoded OBJECT IDENTIFIER value."""
    if not raw:
        raise ValueError("empty OID")
    arcs = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def _pkcs8_algorithm(der: bytes) -> str | None:
    """The algorithm OID of a PKCS#8 PrivateKeyInfo, or None where ``der`` is not one."""
    try:
        tag, start, _ = _read_tlv(der, 0)
        if tag != 0x30:
            return None
        tag, _, pos = _read_tlv(der, start)  # version
        if tag != 0x02:
            return None
        tag, alg_start, _ = _read_tlv(der, pos)  # AlgorithmIdentifier
        if tag != 0x30:
            return None
        tag, oid_start, oid_end = _read_tlv(der, alg_start)
        if tag != 0x06:
            return None
        return _oid_text(der[oid_start:oid_end])
    except (ValueError, IndexError):
        return None


def seed_from_pem(pem: bytes) -> bytes:
    """The 32-byte seed of an unencrypted PKCS#8 Ed25519 private key in PEM.

    Reads what ``seed_to_pem`` and ``cryptography`` (and ``openssl genpkey -algorithm
    ed25519``) write. Raises ValueError, saying what is wrong, for anything else: text that
    is not PEM, an encrypted key, a key of another algorithm, or DER that is not the
    48-byte PKCS#8 form of an Ed25519 key.
    """
    if not isinstance(pem, (bytes, bytearray, memoryview)):
        raise ValueError("an Ed25519 PEM private key must be given as bytes")
    text = bytes(pem).strip()
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in text:
        raise ValueError(
            "the Ed25519 private key is encrypted; only unencrypted PKCS#8 keys can be read"
        )
    if not text.startswith(_PEM_BEGIN) or not text.endswith(_PEM_END):
        if text.startswith(_PEM_BEGIN):
            raise ValueError(
                "the PEM private key does not end with '-----END PRIVATE KEY-----' (truncated?)"
            )
        if text.startswith(b"-----BEGIN "):
            label = text[11 : text.find(b"-----", 11)].decode("ascii", "replace")
            raise ValueError(
                f"expected a PEM 'PRIVATE KEY' (PKCS#8 Ed25519) block, found '{label}'"
            )
        raise ValueError(
            "not a PEM private key (expected '-----BEGIN PRIVATE KEY-----', PKCS#8 Ed25519)"
        )
    body = text[len(_PEM_BEGIN) : len(text) - len(_PEM_END)]
    if b"-----" in body:
        raise ValueError("the PEM holds more than one block; expected one Ed25519 private key")
    if b":" in body:
        raise ValueError(
            "the PEM private key has headers (encrypted?); only unencrypted PKCS#8 keys can be read"
        )
    b64 = b"".join(body.split())
    data = b64.rstrip(b"=")
    if len(b64) % 4 or len(b64) - len(data) > 2 or data.translate(None, _B64_ALPHABET):
        raise ValueError("the PEM private key's base64 is damaged")
    der = _b64decode(data)
    if len(der) == len(_PKCS8_PREFIX) + SEED_BYTES and der.startswith(_PKCS8_PREFIX):
        return der[len(_PKCS8_PREFIX) :]
    oid = _pkcs8_algorithm(der)
    if oid is None:
        raise ValueError("the PEM private key is not PKCS#8 DER")
    if oid != _ED25519_OID:
        name = _OID_NAMES.get(oid, f"a key of algorithm {oid}")
        raise ValueError(f"the PEM private key is {name}, not Ed25519")
    raise ValueError(
        "the PEM Ed25519 private key is not in the 48-byte PKCS#8 form this reader supports "
        f"({len(der)} bytes of DER)"
    )
