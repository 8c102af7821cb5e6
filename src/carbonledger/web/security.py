"""Who may talk to the dashboard: loopback binds, and a token for anything else."""

from __future__ import annotations

import hmac
import ipaddress

from carbonledger.errors import InputError

__all__ = ["COOKIE", "TOKEN_ENV", "check_bind", "is_loopback", "token_matches"]

#: environment variable holding the dashboard's token
TOKEN_ENV = "CARBONLEDGER_WEB_TOKEN"
#: the cookie a browser keeps the token in after opening ``/?token=...`` once
COOKIE = "carbonledger_token"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token.

    :raises InputError: naming the host and how to give a token.
    """
    if not is_loopback(host) and not token:
        raise InputError(
            f"refusing to serve on {host} (not loopback) without a token: give --token T or "
            f"set {TOKEN_ENV}; every request must then carry it (Authorization: Bearer T, "
            "or ?token=T once in a browser)"
        )


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the token a request carries with the expected one."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
