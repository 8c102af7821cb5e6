"""Every HTTP call has a whole-call deadline: a server that trickles one byte a second (its
headers or its body) cannot hold a call past it, and each caller falls back as it documents.

The local server stops by itself (the answer is a few dozen bytes at one a second, and it
stops when the client leaves or the test ends). The assertions are on behaviour: the error
or fallback, and that the server had not finished sending when the call came back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonledger._http import DeadlineError, fetch
from carbonledger.carbon import (
    ElectricityMapsProvider,
    UKCarbonIntensityProvider,
    hourly_co2e,
    intensity,
    resolve_location,
)
from carbonledger.units import J_PER_KWH

from .conftest import LocalServer, Reply

H0 = 1_714_564_800  # 2024-05-01T12:00:00Z
BODY = json.dumps({"data": [], "padding": "x" * 20})  # ~45 bytes: 45 s at one a second


def trickle(body: str = BODY, *, headers: bool = False, status: int = 200) -> Reply:
    return Reply(status, body, trickle_s=1.0, trickle_headers=headers)


def unfinished(server: LocalServer) -> bool:
    """The server had started trickling and had not sent its whole answer."""
    return bool(server.trickles) and not any(t.finished for t in server.trickles)


@pytest.mark.parametrize("slow_headers", [False, True], ids=["slow-body", "slow-headers"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(
    server: LocalServer, slow_headers: bool
) -> None:
    server.routes[("GET", "/slow")] = trickle(headers=slow_headers)
    with pytest.raises(DeadlineError, match=r"no complete answer within 1.5 s") as info:
        fetch(server.url("/slow"), timeout_s=1.5)
    assert unfinished(server)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, OSError)


def test_an_error_status_with_a_trickled_body_is_bounded_too(server: LocalServer) -> None:
    server.routes[("GET", "/slow")] = trickle(status=503)
    with pytest.raises(DeadlineError):
        fetch(server.url("/slow"), timeout_s=1.0)
    assert unfinished(server)


def test_a_prompt_answer_comes_back_whole(server: LocalServer) -> None:
    server.routes[("GET", "/ok")] = Reply(body="x" * 200_000, headers={"X-Test": "yes"})
    server.routes[("GET", "/missing")] = Reply(404, "no such thing")
    resp = fetch(server.url("/ok"), timeout_s=5.0, use_proxies=False)
    assert resp.status == 200 and resp.body == b"x" * 200_000 and resp.header("x-test") == "yes"
    missing = fetch(server.url("/missing"), timeout_s=5.0)
    assert missing.status == 404 and missing.text == "no such thing"


def test_an_oversized_answer_is_an_error_not_a_cut(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonledger import _http

    monkeypatch.setattr(_http, "MAX_BYTES", 100)
    server.routes[("GET", "/big")] = Reply(body="x" * 1000)
    with pytest.raises(OSError, match="larger than 100 bytes"):
        fetch(server.url("/big"), timeout_s=5.0)


def test_refused_connections_and_bad_urls_are_os_errors() -> None:
    with pytest.raises(OSError) as refused:
        fetch("http://127.0.0.1:9/", timeout_s=2.0)  # discard port: nothing listens
    assert not isinstance(refused.value, DeadlineError)
    for url in ("not a url", "ftp://127.0.0.1/x", "file:///etc/hostname", "http://"):
        with pytest.raises(OSError, match=r"URL|no host"):
            fetch(url, timeout_s=1.0)


def test_a_dripping_tls_handshake_is_bounded_too() -> None:
    """A server that accepts and then sends a byte now and then, never a TLS answer: each
    read is short, so only the whole-call deadline ends the handshake."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            while not stop.wait(0.3):
                try:
                    conn.sendall(b"\x16")
                except OSError:
                    return

    worker = threading.Thread(target=drip, daemon=True)
    worker.start()
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineError, match="within 1 s"):
            fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/", timeout_s=1.0)
        assert time.monotonic() - started < 1.8
    finally:
        stop.set()
        listener.close()
        worker.join(5)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_is_verified_and_answered(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.wrap_tls(context)
    server.routes[("GET", "/secure")] = Reply(body="over TLS")
    url = server.url("/secure").replace("http://", "https://")
    with pytest.raises(OSError, match="TLS") as untrusted:
        fetch(url, timeout_s=5.0)  # a certificate nobody vouches for
    assert not isinstance(untrusted.value, DeadlineError)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # trusted from here on
    resp = fetch(url, timeout_s=5.0, use_proxies=False)
    assert (resp.status, resp.text) == (200, "over TLS")


def test_redirects_are_followed_for_a_get(server: LocalServer) -> None:
    server.routes[("GET", "/old")] = Reply(302, "", headers={"Location": "/new"})
    server.routes[("GET", "/new")] = Reply(body="here")
    server.routes[("PUT", "/old")] = Reply(307, "", headers={"Location": "/new"})
    resp = fetch(server.url("/old"), timeout_s=5.0)
    assert (resp.status, resp.text) == (200, "here")
    assert [r.path for r in server.requests] == ["/old", "/new"]
    put = fetch(server.url("/old"), method="PUT", data=b"x", timeout_s=5.0)
    assert put.status == 307  # a PUT is not sent again elsewhere


def test_the_proxy_the_environment_names_is_used(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes[("GET", "/via-proxy")] = Reply(body="proxied")
    proxy = server.base.replace("http://", "http://user:pw@")
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "")
    resp = fetch("http://carbonledger.invalid/via-proxy", timeout_s=5.0)
    assert resp.text == "proxied"
    seen = server.requests[-1]
    assert seen.headers["proxy-authorization"] == "Basic dXNlcjpwdw=="  # user:pw
    assert seen.headers["host"] == "carbonledger.invalid"
    monkeypatch.setenv("no_proxy", "carbonledger.invalid")
    with pytest.raises(OSError):  # exempted: goes direct, and that name does not resolve
        fetch("http://carbonledger.invalid/via-proxy", timeout_s=2.0)
    assert len(server.requests) == 1


# ----------------------------------------------------------------------------- callers


def test_electricity_maps_falls_back_to_the_yearly_figure(server: LocalServer) -> None:
    server.routes[("GET", "/v3/carbon-intensity/past-range")] = trickle()
    provider = ElectricityMapsProvider("secret", base_url=server.base, timeout_s=1.0)
    fr = intensity("FR")
    result = hourly_co2e({H0: J_PER_KWH}, zone=fr, pue=1.0, provider=provider)
    assert unfinished(server)
    assert result.fallback_used and "no complete answer within 1 s" in result.fallback_reason
    assert result.co2e_g == pytest.approx(fr.intensity_g_per_kwh)


def test_uk_provider_falls_back_to_the_yearly_figure(server: LocalServer) -> None:
    server.routes[("GET", "/intensity/2024-05-01T12:00Z/2024-05-01T13:00Z")] = trickle(headers=True)
    provider = UKCarbonIntensityProvider(base_url=server.base, timeout_s=1.0)
    result = hourly_co2e({H0: J_PER_KWH}, zone=intensity("GB"), pue=1.0, provider=provider)
    assert unfinished(server)
    assert result.fallback_used and result.hours_from_provider == 0


def test_ip_geolocation_falls_back_to_the_default_and_says_why(server: LocalServer) -> None:
    server.routes[("GET", "/json")] = trickle(json.dumps({"country": "FR", "pad": "x" * 30}))
    loc = resolve_location(
        env={},
        probe_cloud=False,
        ip_geolocation=True,
        metadata_urls={"ip_geolocation": server.url("/json")},
    )
    assert unfinished(server)
    assert loc.source == "default"
    assert "IP geolocation" in loc.detail and "no complete answer within" in loc.detail


def test_trickling_metadata_services_leave_the_location_unknown(server: LocalServer) -> None:
    server.routes[("PUT", "/latest/api/token")] = trickle("T" * 40, headers=True)
    server.routes[("GET", "/gcp")] = trickle("projects/1/zones/europe-west1-b" + " " * 10)
    server.routes[("GET", "/azure")] = trickle("westeurope" + " " * 30)
    urls = {
        "aws_token": server.url("/latest/api/token"),
        "aws_region": server.url("/region"),
        "gcp_zone": server.url("/gcp"),
        "azure_location": server.url("/azure"),
    }
    loc = resolve_location(env={}, metadata_urls=urls, cloud_timeout_s=1.0)
    assert unfinished(server)
    assert loc.source == "default" and loc.cloud_provider is None
    assert "no cloud instance metadata answered within 1 s" in loc.detail
