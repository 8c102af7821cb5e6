"""The dashboard's security: only the host names it is bound to (DNS rebinding), a
Content-Security-Policy on every page that allows no remote source, control characters
escaped in every HTML output, strong tokens (or a generated one), and the token out of the
address bar after ``/?token=``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main
from carbonledger.errors import InputError
from carbonledger.web.security import CSP, allowed_hosts, check_token

from .conftest import TOKEN, client_for
from .dashdata import (
    HOSTILE_EXPERIMENT,
    HOSTILE_PROJECT,
    HOSTILE_RUN,
    build_hostile_ledger,
)

RUN = "aaaa1111base0001"
HTML_PAGES = [
    "/", "/?status=completed&sort=co2e", "/projects", "/project?name=vision",
    "/experiment?project=vision&name=gelu", "/months", "/verify", f"/runs/{RUN}",
    f"/runs/{RUN}?countries=1",
]  # fmt: skip
#: characters no HTML output may hold raw: C0 controls but tab, newline and carriage
#: return; DEL; C1 controls; bidirectional overrides and isolates
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


# --- Host header ------------------------------------------------------------------------


def test_a_foreign_host_header_is_refused(ledger_path: Path) -> None:
    client = client_for(str(ledger_path))
    for host in ("127.0.0.1:8787", "localhost:8787", "LOCALHOST", "[::1]:8787"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8787", "127.0.0.1.evil.example", "0.0.0.0:8787"):
        refused = client.get("/api/runs", headers={"Host": host})
        assert refused.status_code == 400, host
        assert "vision" not in refused.text  # nothing of the ledger


def test_the_names_a_bind_answers_to(ledger_path: Path) -> None:
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert allowed_hosts("::1") == ["[::1]", "localhost"]
    assert allowed_hosts("192.168.1.4", ["dash.example.org"]) == ["192.168.1.4", "dash.example.org"]
    assert allowed_hosts("0.0.0.0") == ["*"]  # every interface: the mandatory token guards it
    lan = client_for(str(ledger_path), token=TOKEN, allowed_hosts=allowed_hosts("192.168.1.4"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert lan.get("/", headers={**auth, "Host": "192.168.1.4:8787"}).status_code == 200
    assert lan.get("/", headers={**auth, "Host": "evil.example"}).status_code == 400
    named = client_for(str(ledger_path), token=TOKEN,
                       allowed_hosts=allowed_hosts("0.0.0.0", ["dash.example.org"]))  # fmt: skip
    assert named.get("/", headers={**auth, "Host": "dash.example.org"}).status_code == 200
    assert named.get("/", headers={**auth, "Host": "evil.example"}).status_code == 400


# --- Content-Security-Policy -------------------------------------------------------------


def test_every_html_response_has_a_csp_that_allows_no_remote_source(ledger_target: str) -> None:
    client = client_for(ledger_target, token=TOKEN)
    pages = [client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}) for path in HTML_PAGES]
    errors = [
        client.get("/runs/nope", headers={"Authorization": f"Bearer {TOKEN}"}),  # 404 page
        client.get("/?status=done", headers={"Authorization": f"Bearer {TOKEN}"}),  # 400 page
        client.get("/"),  # 401
    ]
    assert [r.status_code for r in errors] == [404, 400, 401]
    for r in pages + errors:
        policy = r.headers["content-security-policy"]
        d = _directives(policy)
        assert d["default-src"] == ["'none'"], policy
        assert d["script-src"] == ["'self'"], policy  # no inline script, no eval, no host
        for name, sources in d.items():
            for source in sources:
                assert source in ("'self'", "'none'", "data:", "blob:") or (
                    name == "style-src" and source == "'unsafe-inline'"
                ), f"{name} allows {source}"
        assert d["frame-ancestors"] == ["'none'"] and d["base-uri"] == ["'none'"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    for r in pages:
        assert r.headers["content-type"].startswith("text/html")
        html = r.text
        # every script is a file of the dashboard's own or a JSON data block
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.fullmatch(r'<script src="/static/[a-z.]+\?v=\d+" defer>', tag) or (
                'type="application/json"' in tag
            ), tag
        assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)  # nothing remote
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html)  # no inline event handler
        assert "javascript:" not in html
    download = client.get(f"/runs/{RUN}/report.html", headers={"Authorization": f"Bearer {TOKEN}"})
    assert download.headers["content-disposition"].startswith("attachment;")
    assert _directives(download.headers["content-security-policy"]) == {
        "default-src": ["'none'"],
        "sandbox": [],
    }
    assert pages[0].headers["content-security-policy"] == CSP


# --- control characters --------------------------------------------------------------------


@pytest.fixture
def hostile(backend: Any) -> str:
    target: str = backend("hostile")
    build_hostile_ledger(target)
    return target


def test_control_characters_are_escaped_in_every_html_output(hostile: str) -> None:
    from urllib.parse import urlencode

    client = client_for(hostile)
    project = urlencode({"name": HOSTILE_PROJECT})
    experiment = urlencode({"project": HOSTILE_PROJECT, "name": HOSTILE_EXPERIMENT})
    paths = [
        "/", "/?" + urlencode({"project": HOSTILE_PROJECT}), "/projects", f"/project?{project}",
        f"/experiment?{experiment}", "/months", "/verify", f"/runs/{HOSTILE_RUN}",
        f"/runs/{HOSTILE_RUN}/report.html", "/project?" + urlencode({"name": "no\x1bne"}),
    ]  # fmt: skip
    from plotly.offline import get_plotlyjs

    library = get_plotlyjs()  # the report embeds plotly.js, whose source holds a raw \x1a
    for path in paths:
        r = client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        text = r.text.replace(library, "")
        raw = FORBIDDEN.search(text)
        assert raw is None, f"{path}: raw {raw.group(0)!r} at {raw.start()}"  # type: ignore[union-attr]
        assert "<img" not in text and "</script><b>" not in text, path  # markup stays text
    page = client.get(f"/runs/{HOSTILE_RUN}").text
    assert "evil\\x1b[31mproj\\x07ect" in page  # shown, as an escape people can read
    assert "exp\\x9b2J\\x7f\\u202eredli&lt;/script&gt;&lt;b&gt;" in page
    table = client.get("/").text
    assert "note\\x1b=&lt;img src=x onerror=alert(1)&gt;\\x00" in table


# --- tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "why"),
    [("a", "too short"), ("s3cret-token", "too short"), ("aaaaaaaaaaaaaaaaaaaaaaaa", "too easy"),
     ("abababababababababababab", "too easy"), ("1234123412341234", "too easy")],
)  # fmt: skip
def test_a_weak_token_is_refused(
    ledger_path: Path, token: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match=why):
        check_token(token)
    with pytest.raises(InputError, match=why):
        client_for(str(ledger_path), token=token)
    assert main(["serve", "--ledger", str(ledger_path), "--host", "0.0.0.0", "--token", token]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the token is " + why) and "secrets.token_urlsafe" in err
    assert err.count("\n") == 1


def test_a_weak_token_from_the_environment_is_refused(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARBONLEDGER_WEB_TOKEN", "short")
    assert main(["serve", "--ledger", str(ledger_path)]) == 2
    assert "too short (5 characters; at least 16)" in capsys.readouterr().err


def test_strong_tokens_pass() -> None:
    from carbonledger.web.security import generate_token

    check_token(TOKEN)
    tokens = {generate_token() for _ in range(20)}
    assert len(tokens) == 20
    for t in tokens:
        check_token(t)
        assert len(t) >= 32


def test_the_token_leaves_the_address_bar(ledger_target: str) -> None:
    client = client_for(ledger_target, token=TOKEN)
    wrong = client.get("/?token=wrong-token-wrong-token", follow_redirects=False)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    first = client.get(f"/?project=vision&token={TOKEN}&sort=co2e", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/?project=vision&sort=co2e"  # the rest kept
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"carbonledger_token={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    page = client.get(first.headers["location"])  # the cookie now carries the token
    assert page.status_code == 200 and TOKEN not in page.text
    run = client.get(f"/runs/{RUN}?token={TOKEN}", follow_redirects=False)
    assert (run.status_code, run.headers["location"]) == (303, f"/runs/{RUN}")


def test_empty_filters_leave_the_url(ledger_path: Path) -> None:
    client = client_for(str(ledger_path))
    r = client.get("/?project=&experiment=&status=completed&tag=&from=&to=", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/?status=completed")


# --- serve, for real ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(ledger_path: Path) -> Iterator[Any]:
    """``serve(*args)``: start ``carbonledger serve`` on a free port; (port, process)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[int, subprocess.Popen[str]]:
        port = _free_port()
        cmd = [sys.executable, "-m", "carbonledger", "serve", "--ledger", str(ledger_path),
               "--port", str(port), *args]  # fmt: skip
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        started.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return port, proc
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        raise AssertionError("serve did not listen within 60 s")

    try:
        yield start
    finally:
        for proc in started:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stderr is not None:
                proc.stderr.close()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kw: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_serve_off_loopback_without_a_token_generates_and_prints_one(serve: Any) -> None:
    port, proc = serve("--host", "0.0.0.0")
    line = proc.stderr.readline()
    found = re.search(r"generated token \(.*\): (\S+)$", line.strip())
    assert found, line
    token = found.group(1)
    check_token(token)  # a strong one
    assert f"?token={token}" in proc.stderr.readline()
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/api/runs")[0] == 401
    status, _, body = _get(f"{base}/api/runs", {"Authorization": f"Bearer {token}"})
    assert status == 200 and "aaaa1111base0001" in body
    status, headers, _ = _get(f"{base}/?token={token}")
    assert (status, headers["location"]) == (303, "/")
    assert headers["set-cookie"].startswith(f"carbonledger_token={token};")


def test_serve_on_loopback_answers_only_its_names(serve: Any) -> None:
    port, _ = serve()
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/api/runs")[0] == 200
    assert _get(f"{base}/api/runs", {"Host": f"localhost:{port}"})[0] == 200
    status, _, body = _get(f"{base}/api/runs", {"Host": f"rebind.evil.example:{port}"})
    assert status == 400 and "aaaa1111" not in body
    port, _ = serve("--allow-host", "dash.example.org")
    assert _get(f"http://127.0.0.1:{port}/api/runs", {"Host": "dash.example.org"})[0] == 200
