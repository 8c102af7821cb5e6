"""One small HTTP call with a whole-call deadline (standard library only, loaded on first use).

Every network call of carbonledger (intensity providers, IP geolocation, cloud metadata, the
Pushgateway, the CodeCarbon endpoint) goes through :func:`fetch` (the serving sidecar's
scrape through a :class:`Poller`). Its ``timeout_s`` bounds the *whole* call: name lookup,
connecting, a proxy's ``CONNECT``, TLS, sending, the status line and headers, every read of
the body and the redirects share one deadline on the monotonic clock.

It is built on public standard-library API only: :class:`http.client.HTTPConnection` (and
:mod:`ssl` for HTTPS), whose socket gets the time left as its timeout before each step, and a
watchdog that shuts the connection's socket down when the deadline passes. A server that
sends one byte a second keeps every single read short, so per-read timeouts alone would
never fire; the shutdown ends whatever read or write is under way at the deadline.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import http.client
    import socket
    import ssl

__all__ = ["MAX_BYTES", "DeadlineError", "Poller", "Response", "fetch"]

#: the largest answer read (bytes); a bigger one is an error, never silently cut
MAX_BYTES = 8 << 20
_CHUNK_BYTES = 64 << 10
#: redirects followed (GET and HEAD only), as urllib did
_MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class DeadlineError(TimeoutError):
    """The whole call (lookup, connect, request, headers, body) did not finish within its
    deadline. A :class:`TimeoutError`, so an :class:`OSError`: callers that fall back on a
    network failure fall back on this too."""


class _CallError(OSError):
    """A failure :func:`fetch` words itself (an answer too large, a failed TLS handshake):
    passed on as it is."""


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

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def exceeded(self, what: str) -> DeadlineError:
        return DeadlineError(
            f"{self.url}: no complete answer within {self.timeout_s:g} s (ran out of time "
            f"{what}; the deadline covers the whole call)"
        )


class _Watchdog:
    """Shuts down the sockets of the call once the deadline has passed (and again every few
    milliseconds until stopped, so a socket made just then is caught too): the connection's
    current socket, and the one the answer is read from (kept by the answer after the
    connection lets go of it). ``shutdown`` wakes a thread blocked in ``recv`` or ``send`` on
    that socket at once. The watching is done by one thread for every call of the process
    (:class:`_Watchdogs`), so a call starts no thread of its own."""

    _RECHECK_S = 0.05

    def __init__(self, deadline: _Deadline, connection: http.client.HTTPConnection) -> None:
        self._deadline = deadline
        self.connection = connection
        self.sock: socket.socket | None = None
        self.fired = False
        self.stopped = False
        _WATCHDOGS.watch(self, deadline.at)

    def _shutdown(self) -> None:
        import contextlib
        import socket

        for sock in (self.connection.sock, self.sock):
            if sock is None:
                continue
            # the plain socket's shutdown (an SSL socket's would unwrap it under its reader);
            # a socket already closed raises, and is left alone
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def stop(self) -> None:
        self.stopped = True


class _Watchdogs:
    """The one thread that watches every call's deadline: a heap of (time, watchdog) on the
    monotonic clock. At a watchdog's time it fires (shuts its sockets down) and comes back
    every ``_RECHECK_S`` until stopped; a stopped watchdog is dropped when it comes up. The
    thread is started on first use (and again in a forked child) and sleeps while there is
    nothing to watch."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def watch(self, dog: _Watchdog, at: float) -> None:
        import heapq

        with self._cond:
            while self._heap and self._heap[0][2].stopped:  # keep the heap small
                heapq.heappop(self._heap)
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, dog))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="carbonledger-http", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is dog:  # earlier than what the thread waits for
                self._cond.notify()

    def _run(self) -> None:
        import heapq

        with self._cond:
            while True:
                while self._heap and self._heap[0][2].stopped:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, dog = self._heap[0]
                left_s = at - time.monotonic()
                if left_s > 0:  # a timed wait may end a little early: wait again
                    self._cond.wait(left_s)
                    continue
                heapq.heappop(self._heap)
                dog.fired = True
                dog._shutdown()
                self._seq += 1
                heapq.heappush(self._heap, (time.monotonic() + dog._RECHECK_S, self._seq, dog))


_WATCHDOGS = _Watchdogs()
if hasattr(os, "register_at_fork"):  # a child has the lock's state but not the thread
    os.register_at_fork(after_in_child=_WATCHDOGS._reset)


def _resolve(host: str, port: int, deadline: _Deadline) -> None:
    """Look ``host`` up in a helper thread and wait at most until the deadline:
    ``getaddrinfo`` itself takes no timeout. An IP address needs no lookup; the connection's
    own lookup that follows is answered by the resolver's cache in the common case."""
    import ipaddress
    import socket

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


@dataclass(frozen=True)
class _Target:
    """Where one request goes: the server, and the proxy in between when there is one."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent (the whole URL when sent to an HTTP proxy)
    proxy: tuple[str, int] | None = None
    proxy_headers: tuple[tuple[str, str], ...] = ()


#: a space (any kind) or a control character, which a URL never holds
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x1f\s]")


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an http(s) URL; OSError when it is not one."""
    from urllib.parse import urlsplit

    if not url.lower().startswith(("http://", "https://")):
        raise OSError(f"bad URL {url!r}: only http:// and https:// URLs are fetched")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a malformed URL or port
        raise OSError(f"bad URL {url!r}: {exc}") from None
    host = parts.hostname
    if not host:
        raise OSError(f"bad URL {url!r}: no host")
    if _SPACE_OR_CONTROL.search(url):
        raise OSError(f"bad URL {url!r}: it holds spaces or control characters")
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


#: the environment variables that decide a request's proxy (urllib reads these for http(s))
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy",
                    "NO_PROXY", "REQUEST_METHOD")  # fmt: skip


def _target(url: str, use_proxies: bool) -> _Target:
    """The request's target, through the proxy the ``*_proxy`` variables name (unless
    ``no_proxy`` exempts the host, or ``use_proxies`` is False). Remembered per URL and
    values of those variables: a poller (the serving sidecar, every second) asks the same."""
    environ = os.environ
    return _target_for(url, use_proxies, tuple(environ.get(v) for v in _PROXY_VARIABLES))


@functools.lru_cache(maxsize=64)
def _target_for(url: str, use_proxies: bool, _proxy_env: tuple[str | None, ...]) -> _Target:
    scheme, host, port, path = _split(url)
    if not use_proxies:
        return _Target(scheme, host, port, path)
    import urllib.request

    proxy_url = urllib.request.getproxies().get(scheme)
    if not proxy_url or urllib.request.proxy_bypass(host):
        return _Target(scheme, host, port, path)
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    from urllib.parse import unquote, urlsplit

    proxy = urlsplit(proxy_url)
    if proxy.scheme.lower() != "http" or not proxy.hostname:
        raise OSError(f"unusable proxy {proxy_url!r} for {url}: only http:// proxies are used")
    headers: tuple[tuple[str, str], ...] = ()
    if proxy.username is not None:
        import base64

        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        headers = (("Proxy-Authorization", "Basic " + base64.b64encode(pair.encode()).decode()),)
    via = (proxy.hostname, proxy.port or 80)
    if scheme == "http":  # a plain request to the proxy, naming the whole URL
        return _Target(scheme, host, port, url.split("#", 1)[0], via, headers)
    return _Target(scheme, host, port, path, via, headers)  # HTTPS: a CONNECT tunnel


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The default TLS context (system CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made
    once per pair of those variables' values: loading the CAs takes tens of milliseconds."""
    import ssl

    return ssl.create_default_context()


def _connection(target: _Target, deadline: _Deadline) -> http.client.HTTPConnection:
    """An unconnected connection for ``target`` whose ``connect`` keeps to ``deadline``."""
    import http.client

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            _resolve(self.host, self.port, deadline)
            self.timeout = deadline.left_s(f"before connecting to {self.host}")
            super().connect()  # TCP, and a proxy's CONNECT tunnel when one is set
            if target.scheme != "https":
                return
            import os
            import ssl

            context = _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
            self.sock.settimeout(deadline.left_s(f"before the TLS handshake with {target.host}"))
            tls = context.wrap_socket(
                self.sock, server_hostname=target.host, do_handshake_on_connect=False
            )
            self.sock = tls  # watched from here on: the watchdog can end the handshake
            try:
                tls.do_handshake()
            except ssl.SSLError as exc:
                if deadline.passed():
                    raise deadline.exceeded(f"in the TLS handshake with {target.host}") from None
                raise _CallError(f"{deadline.url}: TLS with {target.host} failed: {exc}") from None

    if target.proxy is None:
        return Connection(target.host, target.port)
    conn = Connection(*target.proxy)
    if target.scheme == "https":
        conn.set_tunnel(target.host, target.port, headers=dict(target.proxy_headers))
    return conn


def _read_all(resp: http.client.HTTPResponse, deadline: _Deadline) -> bytes:
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
            raise _CallError(f"{deadline.url}: the answer is larger than {MAX_BYTES} bytes")
        chunks.append(chunk)


def _exchange(
    target: _Target,
    method: str,
    headers: Mapping[str, str],
    data: bytes | None,
    deadline: _Deadline,
    kept: http.client.HTTPConnection | None = None,
    keep_alive: bool = False,
) -> tuple[Response, http.client.HTTPConnection | None]:
    """One request and its whole answer on ``kept`` (a connection kept alive from an earlier
    call) or a new connection, closed after it unless ``keep_alive``: then the connection
    comes back too, when the server lets it be kept (any failure closes it)."""
    import http.client

    conn = kept if kept is not None else _connection(target, deadline)
    watchdog = _Watchdog(deadline, conn)
    step = f"connecting to {target.host}"
    keep = False
    try:
        try:
            if kept is None:
                conn.connect()
            watchdog.sock = conn.sock  # the answer keeps reading it after conn lets go
            step = "sending the request"
            conn.sock.settimeout(deadline.left_s(step))
            sent = {"Connection": "keep-alive" if keep_alive else "close"}
            sent.update(dict(target.proxy_headers))
            sent.update(headers)
            if target.scheme == "https":
                for name, _ in target.proxy_headers:
                    sent.pop(name, None)  # said to the proxy in CONNECT, not to the server
            conn.request(method, target.path, body=data, headers=sent)
            step = "while reading the answer"
            conn.sock.settimeout(deadline.left_s(step))
            resp = conn.getresponse()
            body = _read_all(resp, deadline)
            if watchdog.fired:  # the shutdown ended the body early, which reads as its end
                raise deadline.exceeded(step)
            keep = keep_alive and not resp.will_close
            answer = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
            return answer, (conn if keep else None)
        except (DeadlineError, _CallError):
            raise
        except TimeoutError:
            raise deadline.exceeded(step) from None
        except http.client.HTTPException as exc:  # a malformed or cut answer
            if watchdog.fired or deadline.passed():
                raise deadline.exceeded(step) from None
            raise OSError(
                f"{deadline.url}: bad HTTP answer ({type(exc).__name__}: {exc})"
            ) from None
        except (OSError, ValueError) as exc:  # refused, reset, unreachable; a closed file
            if watchdog.fired or deadline.passed():
                raise deadline.exceeded(step) from None
            raise OSError(f"{deadline.url}: {exc}") from None
    finally:
        watchdog.stop()
        if not keep:
            conn.close()


class Poller:
    """GETs over one kept-alive connection (the serving sidecar scrapes its engine every
    second), each within its own whole-call deadline as :func:`fetch`'s; a kept connection
    the server closed since is replaced once within it, and any failure closes it. Direct (no
    proxy), redirects not followed, one call at a time."""

    def __init__(self) -> None:
        self._conn: http.client.HTTPConnection | None = None
        self._server: tuple[str, str, int] | None = None
        self._lock = threading.Lock()

    def get(
        self, url: str, *, timeout_s: float, headers: Mapping[str, str] | None = None
    ) -> Response:
        """GET ``url`` within ``timeout_s`` seconds in all; errors as :func:`fetch`'s."""
        from carbonledger._version import __version__

        deadline = _Deadline(url, max(float(timeout_s), 0.001))
        sent = {"User-Agent": f"carbonledger/{__version__}", **(headers or {})}
        target = _target(url, False)
        server = (target.scheme, target.host, target.port)
        with self._lock:
            kept, self._conn = self._conn, None
            if kept is not None and server != self._server:  # another server: not that one
                kept.close()
                kept = None
            self._server = server
            if kept is not None:
                try:
                    answer, self._conn = _exchange(target, "GET", sent, None, deadline, kept, True)
                    return answer
                except DeadlineError:
                    raise
                except OSError:  # closed by the server while idle, most likely: once more
                    pass
            answer, self._conn = _exchange(target, "GET", sent, None, deadline, None, True)
            return answer

    def close(self) -> None:
        """Close the kept connection (a later call opens a new one)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


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

    HTTP error statuses come back as a :class:`Response`. Redirects of a GET or HEAD are
    followed (within the same deadline). Network failures raise :class:`OSError`; running
    out of time raises :class:`DeadlineError` (an ``OSError`` too). ``use_proxies=False``
    goes direct (link-local metadata services must never go through a proxy); otherwise
    the usual ``*_proxy`` and ``no_proxy`` environment variables apply.
    """
    from urllib.parse import urljoin

    from carbonledger._version import __version__

    deadline = _Deadline(url, max(float(timeout_s), 0.001))
    sent = {"User-Agent": f"carbonledger/{__version__}", **dict(headers or {})}
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        target = _target(current, use_proxies)
        response, _ = _exchange(target, method.upper(), sent, data, deadline)
        location = response.header("location")
        if (
            response.status not in _REDIRECTS
            or method.upper() not in ("GET", "HEAD")
            or not location
        ):
            return response
        current = urljoin(current, location)
    raise OSError(f"{url}: more than {_MAX_REDIRECTS} redirects")
