"""Prometheus: a pull collector over HTTP, and a push to a Pushgateway. No dependency.

:class:`PrometheusExporter` serves the text exposition format (version 0.0.4) on
``http://ADDR:PORT/metrics``; every scrape calls ``source()`` (for example
``tracker.summary``) and renders what it returns: there is no polling loop of its own.

Metrics (base units in the names, as Prometheus recommends)::

    carbonledger_energy_joules_total{run_id,project,host,component,device,method,measured}
    carbonledger_energy_low_joules_total / _high_joules_total   (estimated devices: range)
    carbonledger_power_watts{...}            mean power of the device over the run so far
    carbonledger_emissions_grams_total{run_id,project,location}   operational CO2e
    carbonledger_emissions_low_grams_total / _high_grams_total
    carbonledger_grid_intensity_grams_per_kwh{run_id,location,source}
    carbonledger_pue_ratio{run_id,source}
    carbonledger_duration_seconds{run_id}
    carbonledger_measured_ratio{run_id}      share of the energy that was measured
    carbonledger_run_info{run_id,project,experiment,status,scope,location,...} 1

Instantaneous power is ``rate(carbonledger_energy_joules_total[1m])``.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.models import RunSummary

__all__ = ["CONTENT_TYPE", "PrometheusExporter", "push_to_gateway", "render"]

log = logging.getLogger("carbonledger.report")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Source = Callable[[], "RunSummary | Sequence[RunSummary]"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples: list[tuple[dict[str, str], float]] = []

    def add(self, labels: dict[str, str], value: float) -> None:
        self.samples.append((labels, value))

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {_value(value)}"


#: (name, type, help) of every metric family, in exposition order
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    (
        "carbonledger_energy_joules_total",
        "counter",
        "Energy used by the device in this run, in joules.",
    ),
    (
        "carbonledger_energy_low_joules_total",
        "counter",
        "Low end of an estimated device's energy, in joules.",
    ),
    (
        "carbonledger_energy_high_joules_total",
        "counter",
        "High end of an estimated device's energy, in joules.",
    ),
    (
        "carbonledger_power_watts",
        "gauge",
        "Mean power of the device over the run so far, in watts.",
    ),
    (
        "carbonledger_emissions_grams_total",
        "counter",
        "Operational emissions of the run (energy x PUE x grid intensity), in grams CO2e.",
    ),
    (
        "carbonledger_emissions_low_grams_total",
        "counter",
        "Low end of the run's emissions, in grams CO2e.",
    ),
    (
        "carbonledger_emissions_high_grams_total",
        "counter",
        "High end of the run's emissions, in grams CO2e.",
    ),
    (
        "carbonledger_grid_intensity_grams_per_kwh",
        "gauge",
        "Grid carbon intensity used, in grams CO2e per kWh.",
    ),
    ("carbonledger_pue_ratio", "gauge", "Power usage effectiveness of the facility."),
    ("carbonledger_duration_seconds", "gauge", "Duration of the run so far, in seconds."),
    (
        "carbonledger_measured_ratio",
        "gauge",
        "Share (0-1) of the energy measured by hardware counters.",
    ),
    ("carbonledger_run_info", "gauge", "The run's description (value always 1)."),
)


def _add_components(fam: dict[str, _Family], s: RunSummary, run: dict[str, str]) -> None:
    """One energy and power sample per device (and the range of an estimated device)."""
    for c in s.components:
        labels = {
            **run,
            "host": c.host,
            "component": c.component,
            "device": c.device,
            "method": c.method,
            "measured": "true" if c.measured else "false",
        }
        fam["carbonledger_energy_joules_total"].add(labels, c.energy_j)
        fam["carbonledger_power_watts"].add(labels, c.power_w)
        if not c.measured:
            low = c.low_j if c.low_j is not None else c.energy_j
            high = c.high_j if c.high_j is not None else c.energy_j
            fam["carbonledger_energy_low_joules_total"].add(labels, low)
            fam["carbonledger_energy_high_joules_total"].add(labels, high)


def _add_run(fam: dict[str, _Family], s: RunSummary, run: dict[str, str]) -> None:
    """The run-level samples: emissions (g), intensity, PUE, duration, measured share, info."""
    where = {**run, "location": s.location}
    fam["carbonledger_emissions_grams_total"].add(where, s.co2e_g)
    fam["carbonledger_emissions_low_grams_total"].add(where, s.co2e_low_g)
    fam["carbonledger_emissions_high_grams_total"].add(where, s.co2e_high_g)
    fam["carbonledger_grid_intensity_grams_per_kwh"].add(
        {"run_id": s.run_id, "location": s.location, "source": s.intensity_source},
        s.intensity_g_per_kwh,
    )
    fam["carbonledger_pue_ratio"].add({"run_id": s.run_id, "source": s.pue_source}, s.pue)
    fam["carbonledger_duration_seconds"].add({"run_id": s.run_id}, s.duration_s)
    fam["carbonledger_measured_ratio"].add({"run_id": s.run_id}, s.measured_share)
    fam["carbonledger_run_info"].add(
        {
            **run,
            "experiment": s.experiment,
            "status": s.status,
            "scope": s.scope,
            "location": s.location,
            "location_source": s.location_source,
            "intensity_source": s.intensity_source,
            "hosts": ",".join(s.hosts),
        },
        1.0,
    )


def render(summaries: RunSummary | Sequence[RunSummary]) -> str:
    """The text exposition format for one run or several."""
    runs = [summaries] if isinstance(summaries, RunSummary) else list(summaries)
    fam = {name: _Family(name, kind, text) for name, kind, text in _FAMILIES}
    for s in runs:
        run = {"run_id": s.run_id, "project": s.project}
        _add_components(fam, s, run)
        _add_run(fam, s, run)
    lines: list[str] = []
    for f in fam.values():
        if f.samples:
            lines.extend(f.lines())
    return "\n".join(lines) + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    source: Source


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path not in ("/metrics", "/"):
            self._reply(404, "not found: scrape /metrics\n")
            return
        try:
            body = render(self.server.source())
        except Exception as exc:  # a failing source must not kill the server
            log.warning("carbonledger: metrics source failed: %s", exc)
            self._reply(500, f"# carbonledger: metrics source failed: {exc}\n")
            return
        self._reply(200, body)

    def _reply(self, code: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("prometheus exporter: " + format, *args)


class PrometheusExporter:
    """Serve ``source()`` as Prometheus metrics on ``http://addr:port/metrics``.

    :param source: called on every scrape; returns a RunSummary (or several)
    :param port: TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`)
    :param addr: address to listen on; the default serves this machine only
    """

    def __init__(self, source: Source, *, port: int = 0, addr: str = "127.0.0.1") -> None:
        if not 0 <= port <= 65535:
            raise InputError(f"port must be 0-65535, got {port}")
        self._source = source
        self._addr = addr
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> PrometheusExporter:
        """Listen and serve in a background thread (idempotent)."""
        if self._server is not None:
            return self
        try:
            server = _Server((self._addr, self._port), _Handler)
        except OSError as exc:
            raise InputError(
                f"cannot serve Prometheus metrics on {self._addr}:{self._port}: {exc.strerror}; "
                "choose another port (0 picks a free one)"
            ) from None
        server.source = self._source
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="carbonledger-prometheus", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        """The port served (the real one once started with port 0)."""
        if self._server is not None:
            return int(self._server.server_address[1])
        return self._port

    @property
    def url(self) -> str:
        host = self._addr if ":" not in self._addr else f"[{self._addr}]"
        return f"http://{host}:{self.port}/metrics"

    def __enter__(self) -> PrometheusExporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def push_to_gateway(
    url: str,
    job: str,
    summary: RunSummary | Sequence[RunSummary],
    timeout_s: float = 2.0,
    grouping: Mapping[str, str] | None = None,
) -> None:
    """HTTP ``PUT`` the metrics of ``summary`` to a Pushgateway at ``url`` under
    ``/metrics/job/<job>`` (plus ``grouping`` labels), replacing that group's metrics. The
    whole call (connection, request, answer) ends within ``timeout_s`` seconds."""
    from carbonledger.carbon._http import fetch

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Pushgateway URL must look like http://host:9091, got {url!r}")
    if not job:
        raise InputError("the Pushgateway job name must not be empty")
    path = "/metrics" + "".join(
        _path_label(k, v) for k, v in [("job", job), *(grouping or {}).items()]
    )
    target = url.rstrip("/") + path
    try:
        response = fetch(
            target,
            method="PUT",
            headers={"Content-Type": CONTENT_TYPE},
            data=render(summary).encode("utf-8"),
            timeout_s=timeout_s,
        )
    except OSError as exc:
        raise CarbonLedgerError(
            f"cannot push metrics to the Pushgateway at {url}: {exc}; check that it runs "
            "and is reachable"
        ) from None
    if response.status >= 400:
        detail = response.text[:500].strip()
        raise CarbonLedgerError(
            f"Pushgateway {target} refused the metrics: HTTP {response.status} {detail}"
        )


def _path_label(name: str, value: str) -> str:
    """One ``/name/value`` grouping-key segment (base64 when the value has a '/')."""
    if "/" in value or not value:
        encoded = base64.urlsafe_b64encode(value.encode()).decode()
        return f"/{name}@base64/{encoded or '='}"
    return f"/{name}/{quote(value, safe='')}"
