"""The pure-Python Ed25519 (carbonledger.ledger._ed25519): RFC 8032 vectors, byte-for-byte
agreement with ``cryptography`` (OpenSSL), rejection of malformed input, and PKCS#8 PEM."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.ledger import _ed25519 as ed

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493

# RFC 8032 section 7.1 (Ed25519): secret key, public key, message, signature.
RFC_TEST_1024_MESSAGE = (
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0"
)

RFC_VECTORS = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="TEST 1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="TEST 2",
    ),
    pytest.param(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        id="TEST 3",
    ),
    pytest.param(
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        RFC_TEST_1024_MESSAGE,
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
        "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
        id="TEST 1024",
    ),
    pytest.param(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        hashlib.sha512(b"abc").hexdigest(),
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        id="TEST SHA(abc)",
    ),
]


# --------------------------------------------------------------------------------------
# The constants and the arithmetic underneath


def test_constants_match_their_definitions() -> None:
    assert ed._P == P
    assert ed._L == L
    assert -121665 * pow(121666, -1, P) % P == ed._D
    assert ed._D2 == 2 * ed._D % P
    assert pow(2, (P - 1) // 4, P) == ed._SQRT_M1
    assert ed._SQRT_M1**2 % P == P - 1
    # B = (x, 4/5) with x even, on -x^2 + y^2 = 1 + d x^2 y^2, of order L.
    x, y = ed._BX, ed._BY
    assert y == 4 * pow(5, -1, P) % P
    assert x % 2 == 0
    assert (-x * x + y * y - 1 - ed._D * x * x * y * y) % P == 0
    assert ed._decode(ed._encode(ed._BASE)) is not None
    assert ed._encode(ed._base_mul(L - 1)) == ed._encode(ed._double_mul(0, L - 1, ed._BASE))
    identity = ed._encode(ed._IDENTITY)
    assert ed._encode(ed._double_mul(L, 0, ed._BASE)) == identity
    assert ed._encode(ed._double_mul(0, L, ed._BASE)) == identity


@pytest.mark.parametrize(
    "n", [0, 1, 7, 8, 9, 15, 16, 0x88, L - 1, L, 2**252, 2**254 + 8, 2**255 - 1, 2**255 - 9]
)
def test_signed_digits_reconstruct_the_number(n: int) -> None:
    digits = ed._signed_digits(n)
    assert len(digits) == 64
    assert all(-8 <= d <= 8 for d in digits)
    assert sum(d * 16**i for i, d in enumerate(digits)) == n


def _naive_mul(n: int) -> bytes:
    """``n * B`` by plain double-and-add, as an independent reference."""
    acc = ed._IDENTITY
    addend = ed._BASE
    while n:
        if n & 1:
            acc = ed._add(acc, ed._cached(addend))
        addend = ed._double(addend)
        n >>= 1
    return ed._encode(acc)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 8, 9, 16, 17, 255, 2**200 + 12345, L - 1, 2**255 - 1])
def test_scalar_multiplications_agree_with_double_and_add(n: int) -> None:
    expected = _naive_mul(n)
    assert ed._encode(ed._base_mul(n)) == expected
    assert ed._encode(ed._double_mul(n, 0, ed._BASE)) == expected
    assert ed._encode(ed._double_mul(0, n, ed._BASE)) == expected
    assert ed._encode(ed._double_mul(n // 3, n - n // 3, ed._BASE)) == expected


def test_decoding_rejects_what_rfc_8032_rejects() -> None:
    base = ed._encode(ed._BASE)
    assert ed._encode(ed._decode(base) or ed._IDENTITY) == base
    # y >= p is non-canonical, even where y - p would be a point (y = 0 and y = 1 are).
    assert ed._decode(P.to_bytes(32, "little")) is None
    assert ed._decode((P + 1).to_bytes(32, "little")) is None
    assert ed._decode(b"\x00" * 32) is not None
    assert ed._decode((1).to_bytes(32, "little")) is not None
    # x = 0 with the sign bit set ("-0").
    assert ed._decode((1 | 1 << 255).to_bytes(32, "little")) is None
    assert ed._decode(((P - 1) | 1 << 255).to_bytes(32, "little")) is None
    # y = 2 has no x on the curve.
    assert ed._decode((2).to_bytes(32, "little")) is None


# --------------------------------------------------------------------------------------
# RFC 8032 test vectors


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC_VECTORS)
def test_rfc_8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    seed = bytes.fromhex(secret)
    msg = bytes.fromhex(message)
    pub = bytes.fromhex(public)
    sig = bytes.fromhex(signature)
    assert ed.public_key(seed) == pub
    assert ed.sign(seed, msg) == sig
    assert ed.sign(seed, msg, pub) == sig
    assert ed.verify(pub, sig, msg)
    assert not ed.verify(pub, sig, msg + b"\x00")


def test_rfc_test_1024_message_is_1023_bytes() -> None:
    assert len(bytes.fromhex(RFC_TEST_1024_MESSAGE)) == 1023


# --------------------------------------------------------------------------------------
# Agreement with cryptography (OpenSSL)


def _cases() -> list[tuple[bytes, bytes]]:
    rng = random.Random(8032)
    lengths = [0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 1000, 4096]
    lengths += [rng.randrange(0, 300) for _ in range(50 - len(lengths))]
    return [(rng.randbytes(32), rng.randbytes(n)) for n in lengths]


CASES = _cases()


@pytest.fixture(scope="module")
def crypto() -> Any:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization


def _their_verify(crypto: Any, public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    ed25519, _ = crypto
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_fifty_keys_and_messages_agree_with_cryptography(crypto: Any) -> None:
    ed25519, serialization = crypto
    rng = random.Random(25519)
    other_pub = ed.public_key(b"\x07" * 32)
    for seed, msg in CASES:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        pub = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        sig = key.sign(msg)
        assert ed.public_key(seed) == pub
        assert ed.sign(seed, msg) == sig
        assert ed.sign(seed, msg, pub) == sig
        assert ed.verify(pub, sig, msg) is True

        bad_r = _flip(sig, rng.randrange(0, 256))
        bad_s = _flip(sig, rng.randrange(256, 512))
        bad_msg = _flip(msg, rng.randrange(0, 8 * len(msg))) if msg else b"\x00"
        tampered = [
            (pub, bad_r, msg),
            (pub, bad_s, msg),
            (pub, sig, bad_msg),
            (other_pub, sig, msg),
        ]
        for public, signature, message in tampered:
            assert ed.verify(public, signature, message) is False
            assert _their_verify(crypto, public, signature, message) is False

        # S + L is the same scalar, but non-canonical: both reject it.
        s = int.from_bytes(sig[32:], "little")
        malleated = sig[:32] + (s + L).to_bytes(32, "little")
        assert ed.verify(pub, malleated, msg) is False
        assert _their_verify(crypto, pub, malleated, msg) is False


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=200))
def test_property_signatures_match_cryptography(seed: bytes, message: bytes) -> None:
    cryptography = pytest.importorskip("cryptography")
    assert cryptography
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    sig = ed.sign(seed, message)
    assert sig == Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    assert ed.verify(ed.public_key(seed), sig, message)


def _small_order_signature(y: int, encoding: bytes, message: bytes) -> bytes:
    """A signature of ``message`` that passes ``[S]B == R + [k]A`` for the small-order point
    ``A`` with (canonical) coordinate ``y``, with ``k`` hashed over ``encoding``."""
    point = ed._decode(y.to_bytes(32, "little"))
    assert point is not None
    identity = ed._encode(ed._IDENTITY)
    for s in range(1, 200):
        r_bytes = ed._encode(ed._base_mul(s))
        k = ed._hash_mod_l(r_bytes, encoding, message)
        if ed._encode(ed._double_mul(0, k, point)) == identity:
            return r_bytes + s.to_bytes(32, "little")
    raise AssertionError("no signature found")  # pragma: no cover - 1 in 4 per try


@pytest.mark.parametrize(
    ("y", "encoding"),
    [
        pytest.param(0, P, id="y=p (order 4)"),
        pytest.param(1, P + 1, id="y=p+1 (identity)"),
        pytest.param(1, 1 | 1 << 255, id="x=-0, y=1 (identity)"),
        pytest.param(P - 1, (P - 1) | 1 << 255, id="x=-0, y=-1 (order 2)"),
    ],
)
def test_non_canonical_public_keys_are_rejected(y: int, encoding: int) -> None:
    """Non-canonical encodings of small-order points: RFC 8032 decoding rejects them, and
    so do we, though OpenSSL accepts them. No key pair ever has such a public key."""
    msg = b"seal"
    canonical = y.to_bytes(32, "little")
    assert ed.verify(canonical, _small_order_signature(y, canonical, msg), msg)
    odd = encoding.to_bytes(32, "little")
    assert ed.verify(odd, _small_order_signature(y, odd, msg), msg) is False


def test_non_canonical_r_is_rejected_by_both(crypto: Any) -> None:
    # A = identity, S = 0: the equation holds for R = identity, in any encoding of it.
    identity = (1).to_bytes(32, "little")
    assert ed.verify(identity, identity + bytes(32), b"m")
    assert _their_verify(crypto, identity, identity + bytes(32), b"m")
    for r_bytes in ((P + 1).to_bytes(32, "little"), (1 | 1 << 255).to_bytes(32, "little")):
        assert ed.verify(identity, r_bytes + bytes(32), b"m") is False
        assert _their_verify(crypto, identity, r_bytes + bytes(32), b"m") is False


# --------------------------------------------------------------------------------------
# Malformed input


def test_verify_never_raises_on_malformed_input() -> None:
    seed = bytes(range(32))
    pub = ed.public_key(seed)
    sig = ed.sign(seed, b"m")
    assert ed.verify(pub, sig, b"m")
    s = int.from_bytes(sig[32:], "little")
    bad: list[tuple[Any, Any, Any]] = [
        (pub[:31], sig, b"m"),
        (pub + b"\x00", sig, b"m"),
        (pub, sig[:63], b"m"),
        (pub, sig + b"\x00", b"m"),
        (b"", b"", b""),
        (pub, sig[:32] + L.to_bytes(32, "little"), b"m"),
        (pub, sig[:32] + b"\xff" * 32, b"m"),
        (pub, bytes(64), b"m"),
        (bytes(32), sig, b"m"),  # y = 0: a point of order 4
        ((2).to_bytes(32, "little"), sig, b"m"),  # not on the curve
        (b"\xff" * 32, sig, b"m"),  # y >= p
        (pub.hex(), sig, b"m"),
        (pub, sig.hex(), b"m"),
        (pub, sig, "m"),
        (None, sig, b"m"),
        (pub, None, b"m"),
        (32, 64, b"m"),
    ]
    for public, signature, message in bad:
        assert ed.verify(public, signature, message) is False
    # Other bytes-like objects are read like bytes.
    loose: list[Any] = [bytearray(pub), memoryview(sig), bytearray(b"m")]
    assert ed.verify(*loose) is True
    assert s < L


def test_sign_and_public_key_reject_wrong_lengths() -> None:
    for seed in (b"", b"\x01" * 31, b"\x01" * 33):
        with pytest.raises(ValueError, match="32 bytes"):
            ed.public_key(seed)
        with pytest.raises(ValueError, match="32 bytes"):
            ed.sign(seed, b"m")
    with pytest.raises(ValueError, match="public key is 32 bytes"):
        ed.sign(b"\x01" * 32, b"m", b"\x02" * 31)


def test_new_seed_is_random_and_usable() -> None:
    a, b = ed.new_seed(), ed.new_seed()
    assert len(a) == 32 and len(b) == 32 and a != b
    assert ed.verify(ed.public_key(a), ed.sign(a, b"x"), b"x")


# --------------------------------------------------------------------------------------
# PKCS#8 PEM


def test_pem_is_byte_identical_both_ways(crypto: Any) -> None:
    ed25519, serialization = crypto
    for seed, msg in CASES[:10]:
        theirs = ed25519.Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        ours = ed.seed_to_pem(seed)
        assert ours == theirs
        assert ed.seed_from_pem(theirs) == seed
        loaded = serialization.load_pem_private_key(ours, password=None)
        assert isinstance(loaded, ed25519.Ed25519PrivateKey)
        assert loaded.sign(msg) == ed.sign(seed, msg)


def test_pem_shape() -> None:
    seed = bytes(range(32))
    pem = ed.seed_to_pem(seed)
    lines = pem.split(b"\n")
    assert lines[0] == b"-----BEGIN PRIVATE KEY-----"
    assert lines[-2:] == [b"-----END PRIVATE KEY-----", b""]
    assert all(len(line) <= 64 for line in lines)
    assert ed.seed_from_pem(pem) == seed
    # Tolerated: CRLF line ends, surrounding whitespace, bytearray.
    assert ed.seed_from_pem(b"\n  " + pem.replace(b"\n", b"\r\n") + b"\n\n") == seed
    loose: Any = bytearray(pem)
    assert ed.seed_from_pem(loose) == seed
    with pytest.raises(ValueError, match="32 bytes"):
        ed.seed_to_pem(seed[:31])


def _pem(label: str, der: bytes) -> bytes:
    import base64

    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([f"-----BEGIN {label}-----".encode(), *lines]) + (
        f"\n-----END {label}-----\n".encode()
    )


def test_seed_from_pem_errors_without_cryptography() -> None:
    good = ed.seed_to_pem(bytes(32))
    der = bytes.fromhex("302e020100300506032b657004220420") + bytes(32)
    cases: list[tuple[Any, str]] = [
        (b"", "not a PEM private key"),
        (b"hello", "not a PEM private key"),
        (bytes(32), "not a PEM private key"),
        (good.decode(), "must be given as bytes"),
        (good[:-10], "does not end with"),
        (good.replace(b"MC4C", b"MC4*"), "base64 is damaged"),
        (good.replace(b"MC4C", b"MC4"), "base64 is damaged"),
        (good + good, "more than one block"),
        (
            good.replace(b"KEY-----\n", b"KEY-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
            "headers",
        ),
        (_pem("PRIVATE KEY", der[:-1]), "not PKCS#8 DER"),
        (_pem("PRIVATE KEY", b"\x04\x20" + bytes(32)), "not PKCS#8 DER"),
        (_pem("PRIVATE KEY", der + b"\x00"), "48-byte PKCS#8 form"),
        (_pem("PRIVATE KEY", der.replace(b"\x2b\x65\x70", b"\x2b\x65\x71")), "Ed448"),
        (_pem("PRIVATE KEY", der.replace(b"\x2b\x65\x70", b"\x2b\x65\x6e")), "X25519"),
        (_pem("ENCRYPTED PRIVATE KEY", der), "encrypted"),
        (_pem("PUBLIC KEY", der), "found 'PUBLIC KEY'"),
        (_pem("RSA PRIVATE KEY", der), "found 'RSA PRIVATE KEY'"),
        (_pem("OPENSSH PRIVATE KEY", der), "found 'OPENSSH PRIVATE KEY'"),
    ]
    for pem, message in cases:
        with pytest.raises(ValueError, match=message):
            ed.seed_from_pem(pem)


def test_seed_from_pem_errors_on_keys_cryptography_writes(crypto: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, x25519

    ed25519, serialization = crypto
    pkcs8 = serialization.PrivateFormat.PKCS8
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    cases = [
        (
            key.private_bytes(pem, pkcs8, serialization.BestAvailableEncryption(b"pw")),
            "encrypted",
        ),
        (key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none), "OPENSSH"),
        (
            key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
            "PUBLIC",
        ),
        (ed448.Ed448PrivateKey.generate().private_bytes(pem, pkcs8, none), "an Ed448 key"),
        (x25519.X25519PrivateKey.generate().private_bytes(pem, pkcs8, none), "an X25519 key"),
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(pem, pkcs8, none),
            "an elliptic-curve",
        ),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            ed.seed_from_pem(data)


# --------------------------------------------------------------------------------------
# Import cost


def test_import_is_light_and_builds_no_table() -> None:
    code = (
        "import sys\n"
        "import carbonledger.ledger\n"
        "before = set(sys.modules)\n"
        "import carbonledger.ledger._ed25519 as ed\n"
        "allowed = {'carbonledger.ledger._ed25519', 'carbonledger._hash', '_sha2', '_sha256',"
        " '_sha512'}\n"
        "assert set(sys.modules) - before <= allowed, set(sys.modules) - before - allowed\n"
        "assert ed._base_rows is None and ed._base_small is None\n"
        "ed.verify(ed.public_key(bytes(32)), ed.sign(bytes(32), b'x'), b'x')\n"
        "assert ed._base_rows is not None and len(ed._base_rows) == 64\n"
        "allowed.add('carbonledger.ledger._ed25519_table')  # loaded by the first signature\n"
        "assert set(sys.modules) - before <= allowed, set(sys.modules) - before - allowed\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_written_out_base_table_is_the_computed_one() -> None:
    """_ed25519_table holds 16^i * B for i = 0..63 (affine), as doubling B gives them."""
    from carbonledger.ledger._ed25519_table import BASE_POWERS

    computed = ed.base_powers_affine()
    assert len(BASE_POWERS) == 64
    assert list(BASE_POWERS) == computed
    p = ed._P
    for x, y in BASE_POWERS:  # each is on the curve: -x^2 + y^2 = 1 + d x^2 y^2
        assert (-x * x + y * y - 1 - ed._D * x * x % p * y * y) % p == 0


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 31, 32, 47, 48, 49, 64, 100])
def test_hand_written_base64_matches_binascii(size: int) -> None:
    import binascii

    for _ in range(20):
        data = os.urandom(size)
        text = binascii.b2a_base64(data, newline=False)
        assert ed._b64encode(data) == text
        assert ed._b64decode(text.rstrip(b"=")) == data
    # bits past the last whole byte are dropped, as binascii's non-strict decoder does
    assert ed._b64decode(b"QR") == binascii.a2b_base64(b"QR==") == b"A"
