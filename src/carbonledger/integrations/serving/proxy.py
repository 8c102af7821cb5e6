"""An OpenAI-compatible proxy that puts each request's energy in its response's ``usage``
(``pip install 'carbonledger[serving]'``: Starlette, uvicorn, httpx).

``POST /v1/chat/completions`` and ``POST /v1/completions`` are forwarded to the upstream
engine, streaming or not; the response's ``usage`` (for a stream: the final usage chunk,
which clients ask for with ``"stream_options": {"include_usage": true}``) gains::

    "energy_j": 0.84, "co2e_g": 0.000093,
    "energy_details": {"low_j": ..., "high_j": ..., "co2e_low_g": ..., "co2e_high_g": ...,
                       "measured": true, "split": "phase-times", "rates_age_s": 4.2,
                       "method": "..."}

The request is charged its tokens at the sidecar's latest J per input and output token
(:meth:`ServingSidecar.charge`; the rule and its error bound are in docs/serving.md). Before
any interval closed there is nothing to charge at: ``energy_j`` and ``co2e_g`` are null and
``energy_details.reason`` says why. Other ``/v1/...`` paths are forwarded unchanged;
``/metrics`` serves the sidecar's Prometheus metrics; ``/healthz`` answers ``ok``.

Every upstream call has one whole-call deadline (``timeout_s``): a slow upstream is answered
``504`` (or, once a stream has begun, a final ``error`` event) when it passes, and never holds
up other requests. Request and response bodies pass through memory only: they are never
logged or stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError

if TYPE_CHECKING:
    import httpx
    import uvicorn
    from prometheus_client.registry import CollectorRegistry
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from carbonledger.integrations.serving.charges import Charge
    from carbonledger.integrations.serving.sidecar import ServingSidecar

__all__ = ["INSTALL_HINT", "ProxyServer", "create_app", "require_proxy_stack"]

log = logging.getLogger("carbonledger.serving")

INSTALL_HINT = "pip install 'carbonledger[serving]'"

#: the endpoints whose responses get energy
COMPLETION_PATHS = ("/v1/chat/completions", "/v1/completions")

#: headers that concern one connection only (RFC 9110 7.6.1), or that the proxy recomputes
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)


def require_proxy_stack() -> None:
    """InputError (saying what to install) when the proxy's packages are missing."""
    missing = []
    for module in ("httpx", "starlette", "uvicorn", "prometheus_client"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise InputError(f"the proxy needs {', '.join(missing)}: {INSTALL_HINT}")


def _forward_headers(items: Any) -> dict[str, str]:
    return {k: v for k, v in items if k.lower() not in _HOP}


def _error(status: int, message: str, kind: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status)


def _usage_fields(charge: Charge | None) -> dict[str, Any]:
    if charge is None:
        return {
            "energy_j": None,
            "co2e_g": None,
            "energy_details": {
                "reason": "no interval of the sidecar has closed yet: nothing to charge at"
            },
        }
    return charge.usage_fields()


class _Charger:
    """Charges one request: reads its usage, asks the sidecar, writes the fields in."""

    def __init__(self, sidecar: ServingSidecar | None, started_s: float) -> None:
        self.sidecar = sidecar
        self.started_s = started_s

    def add(self, usage: dict[str, Any]) -> None:
        if self.sidecar is None:
            return
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        if not isinstance(prompt, (int, float)) or not isinstance(completion, (int, float)):
            return
        ended_s = self.sidecar.clock()
        charge = self.sidecar.charge(float(prompt), float(completion), self.started_s, ended_s)
        usage.update(_usage_fields(charge))


def _rewrite_event(event: bytes, charger: _Charger) -> bytes:
    """An SSE event with its final usage chunk charged (other events unchanged)."""
    lines = event.split(b"\n")
    for i, line in enumerate(lines):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data.startswith(b"{"):
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        usage = chunk.get("usage") if isinstance(chunk, dict) else None
        # the final usage chunk has no choices left (vLLM's continuous usage puts a usage in
        # every chunk: only the last one is charged)
        if isinstance(usage, dict) and not chunk.get("choices"):
            charger.add(usage)
            lines[i] = b"data: " + json.dumps(chunk, separators=(",", ":")).encode()
    return b"\n".join(lines)


def _split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete SSE events (each with its blank line) and what is left over."""
    events: list[bytes] = []
    normal = buffer.replace(b"\r\n", b"\n")
    while True:
        at = normal.find(b"\n\n")
        if at == -1:
            return events, normal
        events.append(normal[: at + 2])
        normal = normal[at + 2 :]


def create_app(
    upstream: str,
    sidecar: ServingSidecar | None = None,
    *,
    timeout_s: float = 300.0,
    registry: CollectorRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The proxy as an ASGI app: forwards to ``upstream`` (``http://host:port``, the engine's
    OpenAI-compatible server) and charges through ``sidecar``; each upstream call ends
    within ``timeout_s`` seconds in all; ``registry`` is served on ``/metrics``."""
    import httpx
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    base = upstream.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise InputError(f"the upstream must look like http://127.0.0.1:8000, got {upstream!r}")
    if not timeout_s > 0:
        raise InputError(f"the upstream timeout must be > 0 seconds, got {timeout_s!r}")
    state: dict[str, httpx.AsyncClient] = {}

    def client() -> httpx.AsyncClient:
        found = state.get("client")
        if found is None:
            found = state["client"] = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout_s),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                trust_env=False,
                transport=transport,
            )
        return found

    async def send(request: Request, body: bytes, deadline: float) -> httpx.Response | Response:
        """The upstream's response (headers read, body not yet), or an error response."""
        url = base + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = _forward_headers(request.headers.items())
        headers["accept-encoding"] = "identity"
        outgoing = client().build_request(request.method, url, content=body, headers=headers)
        try:
            return await asyncio.wait_for(
                client().send(outgoing, stream=True), max(deadline - monotonic(), 0.0)
            )
        except (asyncio.TimeoutError, httpx.TimeoutException):
            return _error(504, f"the upstream did not answer within {timeout_s:g} s", "timeout")
        except httpx.HTTPError as exc:
            return _error(502, f"the upstream failed: {type(exc).__name__}", "upstream_error")

    async def read_all(resp: httpx.Response, deadline: float) -> bytes | None:
        try:
            return await asyncio.wait_for(resp.aread(), max(deadline - monotonic(), 0.0))
        except (asyncio.TimeoutError, httpx.HTTPError):
            return None
        finally:
            await resp.aclose()

    async def relay(
        resp: httpx.Response, deadline: float, charger: _Charger | None
    ) -> AsyncIterator[bytes]:
        """The upstream's stream, event by event (the final usage chunk charged)."""
        chunks = resp.aiter_bytes()
        buffer = b""
        try:
            while True:
                left = deadline - monotonic()
                if left <= 0:
                    raise asyncio.TimeoutError
                try:
                    chunk = await asyncio.wait_for(chunks.__anext__(), left)
                except StopAsyncIteration:
                    break
                if charger is None:
                    yield chunk
                    continue
                events, buffer = _split_events(buffer + chunk)
                if events:  # what one upstream chunk completed goes on as one piece
                    yield b"".join(
                        _rewrite_event(e, charger) if b'"usage"' in e else e for e in events
                    )
            if buffer:
                yield buffer
        except (asyncio.TimeoutError, httpx.TimeoutException):
            message = f"the upstream did not finish within {timeout_s:g} s"
            error = {"error": {"message": message, "type": "timeout", "code": 504}}
            yield b"data: " + json.dumps(error).encode() + b"\n\n"
        except httpx.HTTPError as exc:
            error = {"error": {"message": f"the upstream failed: {type(exc).__name__}"}}
            yield b"data: " + json.dumps(error).encode() + b"\n\n"

    async def forward(request: Request) -> Response:
        deadline = monotonic() + timeout_s
        started_s = sidecar.clock() if sidecar is not None else 0.0
        body = await request.body()
        charged = request.method == "POST" and request.url.path in COMPLETION_PATHS
        streaming = wants_usage = False
        if charged:
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                payload = {}
            if isinstance(payload, dict):
                streaming = payload.get("stream") is True
                options = payload.get("stream_options")
                wants_usage = not streaming or (
                    isinstance(options, dict) and options.get("include_usage") is True
                )
        resp = await send(request, body, deadline)
        if not isinstance(resp, httpx.Response):
            return resp
        headers = _forward_headers(resp.headers.items())
        charger = _Charger(sidecar, started_s) if charged and wants_usage else None
        is_stream = resp.headers.get("content-type", "").startswith("text/event-stream")
        if is_stream or streaming:
            return StreamingResponse(
                relay(resp, deadline, charger),
                status_code=resp.status_code,
                headers=headers,
                background=BackgroundTask(resp.aclose),
            )
        content = await read_all(resp, deadline)
        if content is None:
            return _error(504, f"the upstream did not finish within {timeout_s:g} s", "timeout")
        if charger is not None and resp.status_code == 200:
            content = _charge_body(content, charger)
        return Response(content, status_code=resp.status_code, headers=headers)

    async def metrics(request: Request) -> Response:
        if registry is None:
            return PlainTextResponse("no metrics here\n", 404)
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        found = state.pop("client", None)  # the connections to the upstream
        if found is not None:
            await found.aclose()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/{path:path}", forward, methods=methods),
        ],
        lifespan=lifespan,
    )


def _charge_body(content: bytes, charger: _Charger) -> bytes:
    """A completion's JSON body with its ``usage`` charged (unchanged when it has none)."""
    try:
        doc = json.loads(content)
    except ValueError:
        return content
    usage = doc.get("usage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return content
    charger.add(usage)
    return json.dumps(doc, separators=(",", ":")).encode()


class ProxyServer:
    """Run an ASGI ``app`` with uvicorn in a thread of its own (its own event loop; signals
    stay with the main thread) on ``host:port`` (port 0: a free one, see :attr:`port`)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise InputError(f"port must be 0-65535, got {port}")
        self._app, self._host, self._port = app, host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port = 0

    def start(self, timeout_s: float = 10.0) -> ProxyServer:
        """Bind, start serving, and return once the server accepts connections."""
        import socket

        import uvicorn

        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # IPPROTO_TCP named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
        # sockets that say so, and with it on each answer waits ~40 ms for a delayed ACK
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise InputError(
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}; "
                "choose another --listen address (port 0 picks a free one)"
            ) from None
        self._bound_port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="carbonledger-proxy",
            daemon=True,
        )
        self._thread.start()
        end = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise InputError(f"the proxy did not start on {self._host}:{self._bound_port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (5 s at most), and return."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def port(self) -> int:
        return self._bound_port

    @property
    def url(self) -> str:
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self._bound_port}"
