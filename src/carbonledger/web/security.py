"""Who may talk to the dashboard, and what its pages may load.

* **Binds.** Loopback by default; any other address needs a token (one is generated and
  printed by ``serve`` when none is given).
* **Tokens.** At least :data:`MIN_TOKEN_CHARS` characters of at least
  :data:`MIN_TOKEN_DISTINCT` different ones (:func:`check_token`); compared in constant time.
* **Host names.** A request is answered only when its ``Host`` header names the address the
  server is bound to (or a name allowed with ``--allow-host``): a page of another site whose
  name was re-pointed at 127.0.0.1 (DNS rebinding) gets 400, not the ledger
  (:func:`allowed_hosts`).
* **Content-Security-Policy.** Pages load scripts, styles, images and data from the
  dashboard itself only: no remote source, no inline script, no ``eval``
  (:data:`CSP`). Styles may be inline because plotly.js sets them on the charts it draws.
  Downloads (the HTML report) are served with a sandboxing policy (:data:`DOWNLOAD_CSP`).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from carbonledger.errors import InputError

__all__ = [
    "COOKIE",
    "CSP",
    "DOWNLOAD_CSP",
    "LOOPBACK_HOSTS",
    "MIN_TOKEN_CHARS",
    "MIN_TOKEN_DISTINCT",
    "TOKEN_ENV",
    "allowed_hosts",
    "check_bind",
    "check_token",
    "generate_token",
    "is_loopback",
    "is_wildcard",
    "token_matches",
]

#: environment variable holding the dashboard's token
TOKEN_ENV = "CARBONLEDGER_WEB_TOKEN"
#: the cookie a browser keeps the token in after opening ``/?token=...`` once
COOKIE = "carbonledger_token"
#: the shortest token accepted
MIN_TOKEN_CHARS = 16
#: the fewest different characters a token must hold (``aaaa...`` or ``abab...`` is refused)
MIN_TOKEN_DISTINCT = 8
#: the names a loopback dashboard answers to when no other is given
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

#: the policy of every page: nothing from elsewhere, scripts only from the dashboard's own
#: files (no inline script, no eval), inline styles for plotly.js's charts
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: the policy of a download (the self-contained HTML report): were a browser to show it
#: instead of saving it, it would run nothing and load nothing
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for an address that binds every interface (``0.0.0.0``, ``::``, '')."""
    text = host.strip().strip("[]")
    if not text:
        return True
    try:
        return ipaddress.ip_address(text).is_unspecified
    except ValueError:
        return False


def check_token(token: str) -> None:
    """Refuse a token that is easy to guess: shorter than :data:`MIN_TOKEN_CHARS`
    characters, or of fewer than :data:`MIN_TOKEN_DISTINCT` different characters.

    :raises InputError: saying which rule failed and how to make a good token.
    """
    how = (
        "give a random one, e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))', "
        "or give none to have one generated"
    )
    if len(token) < MIN_TOKEN_CHARS:
        raise InputError(
            f"the token is too short ({len(token)} characters; at least {MIN_TOKEN_CHARS}): " + how
        )
    distinct = len(set(token))
    if distinct < MIN_TOKEN_DISTINCT:
        raise InputError(
            f"the token is too easy to guess ({distinct} different characters; at least "
            f"{MIN_TOKEN_DISTINCT}): " + how
        )


def generate_token() -> str:
    """A random token (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token, and any weak token.

    :raises InputError: naming the host and how to give a token.
    """
    if token is not None:
        check_token(token)
    if not is_loopback(host) and not token:
        raise InputError(
            f"refusing to serve on {host} (not loopback) without a token: give --token T or "
            f"set {TOKEN_ENV}; every request must then carry it (Authorization: Bearer T, "
            "or ?token=T once in a browser)"
        )


def _host_name(host: str) -> str:
    """``host`` as a ``Host`` header writes it: IPv6 addresses in brackets, lower case."""
    text = host.strip().lower()
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def allowed_hosts(bind: str, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The ``Host`` names a dashboard bound to ``bind`` answers to (ports aside): a loopback
    bind, its address and ``localhost`` (``localhost``: the loopback addresses too); another
    address, that address; every interface (``0.0.0.0``, ``::``), any name (``["*"]``: the
    token, mandatory there, guards it) unless ``extra`` names some. ``extra`` are the names
    given with ``--allow-host`` (a DNS name of the machine, a proxy's name), always added."""
    names = [_host_name(h) for h in extra if h.strip()]
    if is_wildcard(bind):
        return [*LOOPBACK_HOSTS, *names] if names else ["*"]
    own = _host_name(bind)
    if own == "localhost":
        base = list(LOOPBACK_HOSTS)
    elif is_loopback(bind):
        base = [own, "localhost"]
    else:
        base = [own]
    return list(dict.fromkeys([*base, *names]))


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the token a request carries with the expected one."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
