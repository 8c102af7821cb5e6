"""One small, time-bounded HTTP call (standard library only, imported on first use)."""

from __future__ import annotations

from carbonledger._lite import record

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = ["Response", "fetch"]

MAX_BYTES = 8 << 20


@record
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    use_proxies: bool = True,
) -> Response:
    """Send one request; HTTP error statuses come back as a :class:`Response`, network
    failures and timeouts raise :class:`OSError`. ``use_proxies=False`` goes direct
    (link-local metadata services must never go through a proxy)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    handlers = [] if use_proxies else [urllib.request.ProxyHandler({})]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=max(timeout_s, 0.001)) as resp:
            body = resp.read(MAX_BYTES)
            status = int(resp.status)
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_BYTES)
        except OSError:
            body = b""
        resp_headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        status = int(exc.code)
        exc.close()
    except ValueError as exc:  # a malformed URL
        raise OSError(f"bad URL {url!r}: {exc}") from None
    return Response(status, resp_headers, body)
