"""One small HTTP call with a whole-call deadline (standard library only, loaded on first use).

Every network call of carbonledger (hourly intensity providers, IP geolocation, cloud
metadata probes) goes through :func:`fetch`. Its ``timeout_s`` bounds the *whole* call, not
each socket operation: name resolution, connecting, the TLS handshake, sending, the status
line and headers, every read of the body, redirects and a proxy's ``CONNECT`` answer all share
one deadline on the monotonic clock. Before each read from the socket the time left is
computed and set as the socket's timeout, so a server that sends one byte a second cannot
stretch the call past the deadline by keeping each read short.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import http.client
    import socket
    import urllib.request

__all__ = ["MAX_BYTES", "DeadlineError", "Response", "fetch"]

#: the largest answer read (bytes); a bigger one is an error, never silently cut
MAX_BYTES = 8 << 20
_CHUNK_BYTES = 64 << 10


class DeadlineError(TimeoutError):
    """The whole call (lookup, connect, request, headers, body) did not finish within its
    deadline. A :class:`TimeoutError`, so an :class:`OSError`: callers that fall back on a
    network failure fall back on this too."""


@dataclass(frozen=True)
class Response:
    """A complete answer: status, headers (lower-case names) and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Deadline:
    """A point on the monotonic clock and the call it bounds (for messages)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.at = time.monotonic() + timeout_s

    def left_s(self, what: str) -> float:
        """Seconds left, or :class:`DeadlineError` naming the step that ran out of time."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.exceeded(what)
        return left

    def exceeded(self, what: str) -> DeadlineError:
        return DeadlineError(
            f"{self.url}: no complete answer within {self.timeout_s:g} s (ran out of time "
            f"{what}; the deadline covers the whole call)"
        )


def _resolve(host: str, port: int, deadline: _Deadline) -> None:
    """Look ``host`` up in a helper thread and wait at most until the deadline:
    ``getaddrinfo`` itself takes no timeout. An IP address needs no lookup; the connection's
    own lookup that follows is answered by the resolver's cache in the common case."""
    import ipaddress
    import socket
    import threading

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            failure.append(exc)

    worker = threading.Thread(target=lookup, name="carbonledger-resolve", daemon=True)
    worker.start()
    worker.join(deadline.left_s(f"before looking up {host}"))
    if worker.is_alive():
        raise deadline.exceeded(f"looking up {host}")
    if failure:
        raise failure[0]


def _bounded_handlers(deadline: _Deadline, context: Any) -> list[urllib.request.BaseHandler]:
    """urllib handlers whose connections obey ``deadline`` (made per call: the deadline is
    the call's own)."""
    import http.client
    import io
    import urllib.request

    class Reader(io.RawIOBase):
        """The socket's reader, with the time left set as the timeout of every read."""

        def __init__(self, raw: io.RawIOBase, sock: socket.socket) -> None:
            self._raw = raw
            self._sock = sock

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int | None:
            self._sock.settimeout(deadline.left_s("while reading the answer"))
            try:
                return self._raw.readinto(buffer)
            except TimeoutError:
                raise deadline.exceeded("while reading the answer") from None

        def close(self) -> None:
            if not self.closed:
                self._raw.close()  # lets the socket close once the connection has let go
            super().close()

    class BoundedResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            raw = self.fp.detach()  # the socket's own reader, kept, behind the deadline
            self.fp = io.BufferedReader(Reader(raw, sock))

    class BoundedHTTP(http.client.HTTPConnection):
        response_class = BoundedResponse

        def connect(self) -> None:
            _resolve(self.host, self.port, deadline)
            self.timeout = deadline.left_s(f"before connecting to {self.host}")
            try:
                super().connect()
            except TimeoutError:
                raise deadline.exceeded(f"connecting to {self.host}") from None

    class BoundedHTTPS(http.client.HTTPSConnection):
        response_class = BoundedResponse

        def connect(self) -> None:
            _resolve(self.host, self.port, deadline)
            self.timeout = deadline.left_s(f"before connecting to {self.host}")
            try:
                super().connect()  # connect, then the TLS handshake, both under the timeout
            except TimeoutError:
                raise deadline.exceeded(f"connecting to {self.host}") from None

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(BoundedHTTP, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(BoundedHTTPS, req, context=context)

    return [HTTPHandler(), HTTPSHandler(context=context)]


def _read_all(resp: Any, deadline: _Deadline) -> bytes:
    """The whole body, in chunks, checking the deadline between them."""
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.left_s("while reading the answer")
        chunk = resp.read(_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BYTES:
            raise OSError(f"{deadline.url}: the answer is larger than {MAX_BYTES} bytes")
        chunks.append(chunk)


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    use_proxies: bool = True,
    data: bytes | None = None,
) -> Response:
    """Send one request (with ``data`` as its body, when given) and read the whole answer
    within ``timeout_s`` seconds in all.

    HTTP error statuses come back as a :class:`Response`. Network failures raise
    :class:`OSError`; running out of time raises :class:`DeadlineError` (an ``OSError``
    too). ``use_proxies=False`` goes direct (link-local metadata services must never go
    through a proxy); otherwise the usual ``*_proxy`` environment variables apply.
    """
    import http.client
    import ssl
    import urllib.error
    import urllib.request

    deadline = _Deadline(url, max(float(timeout_s), 0.001))
    if not url.lower().startswith(("http://", "https://")):
        raise OSError(f"bad URL {url!r}: only http:// and https:// URLs are fetched")
    try:
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    except ValueError as exc:  # a malformed URL
        raise OSError(f"bad URL {url!r}: {exc}") from None
    handlers = _bounded_handlers(deadline, ssl.create_default_context())
    if not use_proxies:
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    try:
        try:
            with opener.open(request, timeout=deadline.left_s("before sending")) as resp:
                body = _read_all(resp, deadline)
                status = int(resp.status)
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:  # an error status: its answer, read in full
            with exc:
                body = _read_all(exc, deadline)
                resp_headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
                status = int(exc.code)
    except urllib.error.URLError as exc:  # urllib wraps what failed in the connection
        reason = exc.reason
        if isinstance(reason, DeadlineError):
            raise reason from None
        if isinstance(reason, TimeoutError):
            raise deadline.exceeded("connecting") from None
        raise OSError(f"{url}: {reason}") from None
    except http.client.HTTPException as exc:  # a malformed or cut answer
        if time.monotonic() >= deadline.at:
            raise deadline.exceeded("while reading the answer") from None
        raise OSError(f"{url}: bad HTTP answer ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:  # e.g. an unknown URL scheme
        raise OSError(f"bad URL {url!r}: {exc}") from None
    return Response(status, resp_headers, body)
