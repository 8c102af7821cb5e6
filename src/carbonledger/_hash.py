"""SHA-256 and SHA-512 without ``hashlib``'s OpenSSL start-up.

``import hashlib`` loads ``_hashlib`` (OpenSSL's libcrypto): ~3 ms and ~2 MB in a fresh
process, paid at ``Tracker.stop()`` for two hashes. CPython's own implementations
(``_sha2`` from 3.12, ``_sha256``/``_sha512`` before) give the same digests; ``hashlib`` is the
fallback where a build lacks them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from hashlib import sha256, sha512
else:
    try:
        from _sha2 import sha256, sha512  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.10, 3.11
            from _sha512 import sha512
        except ImportError:  # pragma: no cover - a build without the builtin modules
            from hashlib import sha256, sha512

__all__ = ["sha256", "sha512"]
