"""Prometheus: a pull collector over HTTP, and a push to a Pushgateway, on ``prometheus_client``
(``pip install 'carbonledger[prometheus]'``).

:class:`PrometheusExporter` serves ``http://ADDR:PORT/metrics`` from a registry holding one
collector, :class:`RunCollector`; every scrape calls ``source()`` (for example
``tracker.summary``) and renders what it returns: there is no polling loop of its own.
:func:`push_to_gateway` sends the same metrics to a Pushgateway within a whole-call deadline.

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

Instantaneous power is ``rate(carbonledger_energy_joules_total[1m])``. The order of the labels
in a sample, and whether a counter's ``# HELP`` and ``# TYPE`` lines carry the ``_total``
suffix, are prometheus_client's choice (they vary with its version); the sample names and
labels are the ones above.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.models import RunSummary

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.registry import CollectorRegistry

__all__ = [
    "CONTENT_TYPE",
    "INSTALL_HINT",
    "PrometheusExporter",
    "push_to_gateway",
    "render",
    "require_client",
]

log = logging.getLogger("carbonledger.report")

#: the content type of the text exposition format (version 0.0.4) served and pushed
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: what to run when prometheus_client is missing
INSTALL_HINT = "pip install 'carbonledger[prometheus]'"

Source = Callable[[], "RunSummary | Sequence[RunSummary]"]

_DEVICE_LABELS = ("run_id", "project", "host", "component", "device", "method", "measured")
_RUN_LABELS = ("run_id", "project", "location")
_INFO_LABELS = (
    "run_id",
    "project",
    "experiment",
    "status",
    "scope",
    "location",
    "location_source",
    "intensity_source",
    "hosts",
)

#: (name, type, help, labels) of every metric family, in exposition order
_FAMILIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "carbonledger_energy_joules_total",
        "counter",
        "Energy used by the device in this run, in joules.",
        _DEVICE_LABELS,
    ),
    (
        "carbonledger_energy_low_joules_total",
        "counter",
        "Low end of an estimated device's energy, in joules.",
        _DEVICE_LABELS,
    ),
    (
        "carbonledger_energy_high_joules_total",
        "counter",
        "High end of an estimated device's energy, in joules.",
        _DEVICE_LABELS,
    ),
    (
        "carbonledger_power_watts",
        "gauge",
        "Mean power of the device over the run so far, in watts.",
        _DEVICE_LABELS,
    ),
    (
        "carbonledger_emissions_grams_total",
        "counter",
        "Operational emissions of the run (energy x PUE x grid intensity), in grams CO2e.",
        _RUN_LABELS,
    ),
    (
        "carbonledger_emissions_low_grams_total",
        "counter",
        "Low end of the run's emissions, in grams CO2e.",
        _RUN_LABELS,
    ),
    (
        "carbonledger_emissions_high_grams_total",
        "counter",
        "High end of the run's emissions, in grams CO2e.",
        _RUN_LABELS,
    ),
    (
        "carbonledger_grid_intensity_grams_per_kwh",
        "gauge",
        "Grid carbon intensity used, in grams CO2e per kWh.",
        ("run_id", "location", "source"),
    ),
    (
        "carbonledger_pue_ratio",
        "gauge",
        "Power usage effectiveness of the facility.",
        ("run_id", "source"),
    ),
    (
        "carbonledger_duration_seconds",
        "gauge",
        "Duration of the run so far, in seconds.",
        ("run_id",),
    ),
    (
        "carbonledger_measured_ratio",
        "gauge",
        "Share (0-1) of the energy measured by hardware counters.",
        ("run_id",),
    ),
    (
        "carbonledger_run_info",
        "gauge",
        "The run's description (value always 1).",
        _INFO_LABELS,
    ),
)


def require_client() -> None:
    """Raise :class:`InputError` (saying what to install) when prometheus_client is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise InputError(
            f"Prometheus metrics need the prometheus_client package: {INSTALL_HINT}"
        ) from None


def _samples(s: RunSummary) -> Iterator[tuple[str, tuple[str, ...], float]]:
    """(family, label values in the family's order, value) of every sample of one run."""
    for c in s.components:
        labels = (
            s.run_id,
            s.project,
            c.host,
            c.component,
            c.device,
            c.method,
            "true" if c.measured else "false",
        )
        yield "carbonledger_energy_joules_total", labels, c.energy_j
        yield "carbonledger_power_watts", labels, c.power_w
        if not c.measured:
            low = c.low_j if c.low_j is not None else c.energy_j
            high = c.high_j if c.high_j is not None else c.energy_j
            yield "carbonledger_energy_low_joules_total", labels, low
            yield "carbonledger_energy_high_joules_total", labels, high
    where = (s.run_id, s.project, s.location)
    yield "carbonledger_emissions_grams_total", where, s.co2e_g
    yield "carbonledger_emissions_low_grams_total", where, s.co2e_low_g
    yield "carbonledger_emissions_high_grams_total", where, s.co2e_high_g
    yield (
        "carbonledger_grid_intensity_grams_per_kwh",
        (s.run_id, s.location, s.intensity_source),
        s.intensity_g_per_kwh,
    )
    yield "carbonledger_pue_ratio", (s.run_id, s.pue_source), s.pue
    yield "carbonledger_duration_seconds", (s.run_id,), s.duration_s
    yield "carbonledger_measured_ratio", (s.run_id,), s.measured_share
    info = (
        s.run_id,
        s.project,
        s.experiment,
        s.status,
        s.scope,
        s.location,
        s.location_source,
        s.intensity_source,
        ",".join(s.hosts),
    )
    yield "carbonledger_run_info", info, 1.0


def _registry(source: Source) -> CollectorRegistry:
    """A registry of its own (never the process-wide default) holding one collector, which
    calls ``source()`` at each collection (each scrape or push) and yields the metric
    families that have samples."""
    require_client()
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector

    class RunCollector(Collector):
        def collect(self) -> Iterator[Metric]:
            found = source()
            runs = [found] if isinstance(found, RunSummary) else list(found)
            families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
            for name, kind, text, labels in _FAMILIES:
                if kind == "counter":
                    families[name] = CounterMetricFamily(name, text, labels=labels)
                else:
                    families[name] = GaugeMetricFamily(name, text, labels=labels)
            for s in runs:
                for name, values, value in _samples(s):
                    families[name].add_metric(list(values), value)
            for family in families.values():
                if family.samples:
                    yield family

    registry = CollectorRegistry(auto_describe=False)  # registering collects nothing
    registry.register(RunCollector())
    return registry


def render(summaries: RunSummary | Sequence[RunSummary]) -> str:
    """The text exposition format (version 0.0.4) for one run or several."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(lambda: summaries)).decode("utf-8")


def _app(registry: CollectorRegistry) -> Callable[..., list[bytes]]:
    """prometheus_client's WSGI app for ``registry`` on ``/metrics`` (and ``/``): another path
    is a 404, and a failing source a 500 that leaves the server running."""
    from prometheus_client import make_wsgi_app

    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", CONTENT_TYPE)])
            return [b"not found: scrape /metrics\n"]
        try:
            return list(metrics(environ, start_response))
        except Exception as exc:  # a failing source must not kill the server
            log.warning("carbonledger: metrics source failed: %s", exc)
            start_response("500 Internal Server Error", [("Content-Type", CONTENT_TYPE)])
            return [f"# carbonledger: metrics source failed: {exc}\n".encode()]

    return app


def _server(addr: str, port: int, app: Callable[..., list[bytes]]) -> WSGIServer:
    """A threaded WSGI server of the standard library bound to ``addr:port``, quiet."""
    import socket
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = family

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("prometheus exporter: " + format, *args)

    return make_server(addr, port, app, server_class=Server, handler_class=Handler)


class PrometheusExporter:
    """Serve ``source()`` as Prometheus metrics on ``http://addr:port/metrics``.

    :param source: called on every scrape; returns a RunSummary (or several)
    :param port: TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`)
    :param addr: address to listen on; the default serves this machine only
    :param registry: instead of ``source``, makes the prometheus_client registry to serve
        (called once, at :meth:`start`): another set of metrics on the same server
    :raises InputError: a port out of range, or prometheus_client not installed (at start)
    """

    def __init__(
        self,
        source: Source | None = None,
        *,
        port: int = 0,
        addr: str = "127.0.0.1",
        registry: Callable[[], CollectorRegistry] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise InputError(f"port must be 0-65535, got {port}")
        if (source is None) == (registry is None):
            raise InputError("give the exporter a source of run summaries or a registry")
        self._source = source
        self._make_registry = registry
        self._addr = addr
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> PrometheusExporter:
        """Listen and serve in a background thread (idempotent)."""
        if self._server is not None:
            return self
        if self._make_registry is not None:
            app = _app(self._make_registry())
        else:
            assert self._source is not None
            app = _app(_registry(self._source))
        try:
            server = _server(self._addr, self._port, app)
        except OSError as exc:
            raise InputError(
                f"cannot serve metrics on {self._addr}:{self._port}: "
                f"{exc.strerror or exc}; choose another port (0 picks a free one)"
            ) from None
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
    ``/metrics/job/<job>`` (plus ``grouping`` labels), replacing that group's metrics, with
    prometheus_client's ``push_to_gateway``. The whole call (connection, request, answer)
    ends within ``timeout_s`` seconds (:func:`carbonledger._http.fetch`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Pushgateway URL must look like http://host:9091, got {url!r}")
    if not job:
        raise InputError("the Pushgateway job name must not be empty")
    registry = _registry(lambda: summary)
    from prometheus_client import push_to_gateway as push

    gateway = url

    # prometheus_client calls the handler with these keyword arguments
    def handler(
        url: str,
        method: str,
        timeout: float | None,
        headers: Sequence[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        def send() -> None:
            from carbonledger._http import fetch

            try:
                response = fetch(
                    url, method=method, headers=dict(headers), data=data, timeout_s=timeout_s
                )
            except OSError as exc:
                raise CarbonLedgerError(
                    f"cannot push metrics to the Pushgateway at {gateway}: {exc}; "
                    "check that it runs and is reachable"
                ) from None
            if response.status >= 400:
                detail = response.text[:500].strip()
                raise CarbonLedgerError(
                    f"Pushgateway {url} refused the metrics: HTTP {response.status} {detail}"
                )

        return send

    push(
        url.rstrip("/"),
        job=job,
        registry=registry,
        grouping_key=dict(grouping or {}),
        timeout=timeout_s,
        handler=handler,
    )
