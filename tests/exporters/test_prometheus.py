"""The Prometheus collector over real HTTP on loopback, and a push to a fake Pushgateway."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report.prometheus import PrometheusExporter, push_to_gateway, render


def make_summary(energy_j: float = 3600.0, run_id: str = "run-1") -> RunSummary:
    return account(
        RunFacts(run_id, 'pro"ject', "e", "running", 1_700_000_000.0, 10.0, hosts=("n1",)),
        (
            ComponentEnergy("cpu", "cpu:package-0", "rapl", True, energy_j, 10.0, host="n1"),
            ComponentEnergy("ram", "ram", "ram-model", False, 100.0, 10.0, 80.0, 120.0, host="n1"),
        ),
        CarbonContext("DE", "argument", 400.0, "table: owid 2023", 1.5, "argument"),
    )


def scrape(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers["Content-Type"], r.read().decode()


LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def canonical(sample: str) -> str:
    """``name{labels}`` with its labels in name order (their order on the wire is the
    client library's choice)."""
    name, _, labels = sample.partition("{")
    pairs = sorted(LABEL.findall(labels))
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else "")


def parse(text: str) -> dict[str, float]:
    """canonical sample -> value (a strict parse of the exposition lines)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) carbonledger_[a-z_]+ .+", line), line
            continue
        m = re.fullmatch(r'([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (\S+)', line)
        assert m, line
        out[canonical(m.group(1) + (m.group(2) or ""))] = float(m.group(3))
    return out


def test_render_text_format() -> None:
    text = render(make_summary())
    samples = parse(text)
    # the family name of a counter, with or without _total as the client library writes it
    assert re.search(r"^# TYPE carbonledger_energy_joules(_total)? counter$", text, re.M)
    assert "# TYPE carbonledger_power_watts gauge" in text
    cpu = canonical(
        'carbonledger_energy_joules_total{run_id="run-1",project="pro\\"ject",host="n1",'
        'component="cpu",device="cpu:package-0",method="rapl",measured="true"}'
    )
    assert samples[cpu] == 3600.0
    assert samples[cpu.replace("energy_joules_total", "power_watts")] == 360.0
    low = [k for k in samples if k.startswith("carbonledger_energy_low_joules_total")]
    assert len(low) == 1 and samples[low[0]] == 80.0  # only the estimated device has a range
    co2 = samples[
        canonical(
            'carbonledger_emissions_grams_total{run_id="run-1",project="pro\\"ject",location="DE"}'
        )
    ]
    assert co2 == pytest.approx(3700 / 3.6e6 * 1.5 * 400)
    info = [k for k in samples if k.startswith("carbonledger_run_info")]
    assert len(info) == 1 and 'status="running"' in info[0] and samples[info[0]] == 1.0


def test_exporter_scrapes_the_source_each_time() -> None:
    calls = []

    def source() -> RunSummary:
        calls.append(1)
        return make_summary(energy_j=1000.0 * len(calls))

    exporter = PrometheusExporter(source, port=0)
    assert calls == []  # no polling loop
    with exporter:
        assert exporter.port > 0 and exporter.url.startswith("http://127.0.0.1:")
        status, ctype, body = scrape(exporter.url)
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        first = parse(body)
        _, _, body = scrape(exporter.url)
        second = parse(body)
        key = next(
            k for k in first if k.startswith("carbonledger_energy_joules_total") and "cpu" in k
        )
        assert (first[key], second[key]) == (1000.0, 2000.0)
        assert len(calls) == 2
        with pytest.raises(urllib.error.HTTPError) as info:
            scrape(exporter.url.replace("/metrics", "/other"))
        assert info.value.code == 404
        info.value.close()
    with pytest.raises(urllib.error.URLError):
        scrape(exporter.url)  # stopped: nothing listens any more
    exporter.stop()  # idempotent


def test_failing_source_is_a_500_not_a_dead_server() -> None:
    state = {"fail": True}

    def source() -> RunSummary:
        if state["fail"]:
            raise RuntimeError("sensor gone")
        return make_summary()

    with PrometheusExporter(source) as exporter:
        with pytest.raises(urllib.error.HTTPError) as info:
            scrape(exporter.url)
        assert info.value.code == 500
        info.value.close()
        state["fail"] = False
        assert scrape(exporter.url)[0] == 200


def test_port_in_use_is_a_clear_error() -> None:
    with PrometheusExporter(make_summary) as first:
        with pytest.raises(InputError, match="choose another port"):
            PrometheusExporter(make_summary, port=first.port).start()


class FakeGateway:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, bytes]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                n = int(self.headers["Content-Length"])
                gateway.requests.append(
                    ("PUT", self.path, self.headers["Content-Type"], self.rfile.read(n))
                )
                code = 400 if "refuse" in self.path else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    g = FakeGateway()
    g.thread.start()
    try:
        yield g
    finally:
        g.server.shutdown()
        g.server.server_close()


def test_push_to_gateway(gateway: FakeGateway) -> None:
    push_to_gateway(gateway.url, "training", make_summary())
    method, path, ctype, body = gateway.requests[0]
    assert (method, path) == ("PUT", "/metrics/job/training")
    assert ctype.startswith("text/plain; version=0.0.4")
    assert "carbonledger_energy_joules_total" in body.decode()
    push_to_gateway(gateway.url + "/", "a/b", make_summary(), grouping={"instance": "n1"})
    assert gateway.requests[1][1] == "/metrics/job@base64/YS9i/instance/n1"
    with pytest.raises(CarbonLedgerError, match="HTTP 400"):
        push_to_gateway(gateway.url, "refuse", make_summary())


def test_push_errors_are_clear() -> None:
    with pytest.raises(InputError, match="must look like"):
        push_to_gateway("localhost:9091", "j", make_summary())
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CarbonLedgerError, match="cannot push metrics"):
        push_to_gateway(f"http://127.0.0.1:{port}", "j", make_summary(), timeout_s=1)


def test_without_prometheus_client_the_fix_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # not installed
    with pytest.raises(InputError, match=r"pip install 'carbonledger\[prometheus\]'"):
        PrometheusExporter(make_summary).start()
    with pytest.raises(InputError, match=r"pip install 'carbonledger\[prometheus\]'"):
        push_to_gateway("http://127.0.0.1:9", "j", make_summary())


@pytest.mark.parametrize("option", [["--prometheus-port", "0"], ["--pushgateway", "http://x:1"]])
def test_the_cli_says_what_to_install_in_one_line(
    option: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from carbonledger.cli.main import main

    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    code = main(["monitor", "--no-ledger", "--duration", "1", "--quiet", *option])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "error: Prometheus metrics need the prometheus_client package: "
        "pip install 'carbonledger[prometheus]'"
    ]


def test_several_runs_in_one_scrape() -> None:
    text = render([make_summary(run_id="a"), make_summary(energy_j=7.0, run_id="b")])
    samples = parse(text)
    energy = {
        k: v
        for k, v in samples.items()
        if k.startswith("carbonledger_energy_joules_total") and 'component="cpu"' in k
    }
    assert sorted(energy.values()) == [7.0, 3600.0]
    assert sum(k.startswith("carbonledger_run_info") for k in samples) == 2
    assert text.count("# TYPE carbonledger_power_watts gauge") == 1  # one family, two runs


def test_an_exporter_serves_a_source_or_a_registry_never_both_nor_none() -> None:
    from prometheus_client import CollectorRegistry, Gauge

    from carbonledger.errors import InputError

    with pytest.raises(InputError, match="a source of run summaries or a registry"):
        PrometheusExporter()
    with pytest.raises(InputError, match="a source of run summaries or a registry"):
        PrometheusExporter(lambda: [], registry=CollectorRegistry)

    def registry() -> CollectorRegistry:
        reg = CollectorRegistry()
        Gauge("other_metric", "Another set of metrics.", registry=reg).set(7)
        return reg

    with PrometheusExporter(registry=registry) as exporter:
        text = urllib.request.urlopen(exporter.url, timeout=5).read().decode()
    assert "other_metric 7.0" in text
