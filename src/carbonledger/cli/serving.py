"""``carbonledger serving``: energy per token of a live inference engine (vLLM, TGI, SGLang),
as a sidecar beside it, and optionally as an OpenAI-compatible proxy in front of it."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from carbonledger.cli._common import (
    CpuWattsOpt,
    LedgerOpt,
    RamWattsOpt,
    check_interval_option,
    emit_json,
    fail,
    fail_from,
    parse_tags,
)
from carbonledger.errors import CarbonLedgerError
from carbonledger.report import format as fmt

if TYPE_CHECKING:
    from collections.abc import Callable

    from carbonledger.integrations.serving.sidecar import IntervalReport, ServingTotals

EngineOpt = Annotated[
    str, typer.Option("--engine", help="The engine beside which this runs: vllm, tgi or sglang.")
]
MetricsUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-url",
        help="The engine's Prometheus endpoint, e.g. http://127.0.0.1:8000/metrics "
        "(default with --proxy: UPSTREAM/metrics).",
    ),
]
IntervalOpt = Annotated[
    float, typer.Option("--interval", help="Seconds per interval (one window of the run each).")
]
DurationOpt = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the totals at the end as one JSON object.")
]
ListenOpt = Annotated[
    str | None,
    typer.Option(
        "--listen",
        help="HOST:PORT to serve on: the sidecar's Prometheus metrics, or with --proxy the "
        "proxy (which serves the metrics on /metrics).",
    ),
]
ProxyOpt = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="Also run an OpenAI-compatible proxy to this upstream (http://host:port) that "
        "adds energy_j and co2e_g to each response's usage.",
    ),
]
UpstreamTimeoutOpt = Annotated[
    float,
    typer.Option("--upstream-timeout", help="Seconds the proxy gives one upstream call in all."),
]
ScrapeTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--scrape-timeout",
        help="Seconds one scrape of the engine may take in all (default: half the interval, "
        "at most 2).",
    ),
]
RateWindowOpt = Annotated[
    float | None,
    typer.Option(
        "--rate-window",
        help="Seconds of recent spans whose energy and tokens are pooled into the rates the "
        "proxy charges at (default: six intervals; 0: the latest span alone).",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option("--model", help="The model's name, for an engine whose metrics name none (TGI)."),
]
GpusOpt = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        help="The GPUs the engine uses, as CUDA_VISIBLE_DEVICES lists them (indices or UUIDs); "
        "default: the GPUs visible here.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No line per interval.")]

#: the tracker's sampling interval at least (seconds): the windows carry each interval's energy
SAMPLE_INTERVAL_S = 10.0


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or ``:PORT`` (this machine only) -> (host, port); exit 2
    saying the form when it is not one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        fail(f"--listen takes HOST:PORT (e.g. 127.0.0.1:9464, port 0-65535), got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)


def _per(value: float | None, scale: Callable[[float], str], what: str) -> str:
    """``2.00 J/output token``: the one formatter's units, "-" when not known."""
    if value is None:
        return "-" + (what if what.startswith("/") else f" {what.strip()}".rstrip())
    return f"{scale(value)}{what}"


def interval_line(report: IntervalReport) -> str:
    """One line per interval, for the terminal."""
    head = f"{report.window:>12}  {report.state:<8} {fmt.energy(report.energy.energy_j):>10}"
    a = report.amounts
    if report.state == "busy" and report.span is not None:
        span = report.span

        def v(r: Any) -> float | None:
            return None if r is None else r.value

        return (
            f"{head}  {a.output_tokens:,.0f} out  {a.input_tokens:,.0f} in  "
            f"{a.requests:,.0f} req  {_per(v(span.j_per_output_token), fmt.energy, '/out')}  "
            f"{_per(v(span.j_per_input_token), fmt.energy, '/in')}  "
            f"{_per(v(span.j_per_request), fmt.energy, '/req')}"
        )
    if report.state == "idle":
        return f"{head}  idle power {_per(report.idle_power_w, fmt.watts, '')}"
    if report.state == "waiting":
        return f"{head}  {report.running_requests or 0:,.0f} running, nothing counted yet"
    if report.state == "no-data":
        return f"{head}  scrape failed: {report.scrape_error}"
    return f"{head}  baseline taken"


def totals_text(totals: ServingTotals) -> str:
    """The totals, for the terminal."""
    t = totals.to_dict()

    def v(key: str) -> float | None:
        found = t.get(key)
        return found["value"] if isinstance(found, dict) else found

    lines = [
        f"serving {t['engine']} ({t['metrics_url']}) for {fmt.duration(t['duration_s'])}, "
        f"run {t['run_id']}",
        f"  tokens      {t['output_tokens']:,.0f} out, {t['input_tokens']:,.0f} in, "
        f"{t['requests']:,.0f} requests",
        f"  energy      {fmt.energy(t['energy_j'])}: busy {fmt.energy(t['busy_energy_j'])}, "
        f"idle {fmt.energy(t['idle_energy_j'])} ({_per(t['idle_power_w'], fmt.watts, '')}), "
        f"unattributed {fmt.energy(t['unattributed_energy_j'])}; measured share "
        f"{fmt.percent(t['measured_share'])}",
        f"  per token   {_per(v('j_per_output_token'), fmt.energy, '/output token')}, "
        f"{_per(v('j_per_input_token'), fmt.energy, '/input token')}, "
        f"{_per(v('j_per_request'), fmt.energy, '/request')}",
        f"  phases      prefill {_per(v('prefill_j_per_input_token'), fmt.energy, '/input token')}"
        f", decode {_per(v('decode_j_per_output_token'), fmt.energy, '/output token')}",
        f"  carbon      {fmt.mass(t['co2e_g'])} CO2e in all, "
        f"{_per(v('co2e_g_per_1k_output_tokens'), fmt.mass, ' CO2e per 1,000 output tokens')} "
        f"({fmt.intensity(t['intensity_g_per_kwh'])}, {t['location']}, PUE {fmt.pue(t['pue'])})",
    ]
    if t["scrapes_failed"] or t["engine_restarts"] or t["counter_resets"]:
        lines.append(
            f"  engine      {t['scrapes_failed']} failed scrapes, {t['engine_restarts']} "
            f"restarts, {t['counter_resets']} counter resets"
        )
    proxy = t.get("proxy")
    if proxy:
        lines.append(
            f"  proxy       {proxy['requests']} requests charged {fmt.energy(proxy['energy_j'])} "
            f"({proxy['uncharged_requests']} before any interval closed)"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("serving")
    def serving_command(
        engine: EngineOpt,
        metrics_url: MetricsUrlOpt = None,
        interval: IntervalOpt = 10.0,
        duration: DurationOpt = None,
        json_out: JsonOpt = False,
        listen: ListenOpt = None,
        proxy: ProxyOpt = None,
        upstream_timeout: UpstreamTimeoutOpt = 300.0,
        scrape_timeout: ScrapeTimeoutOpt = None,
        rate_window: RateWindowOpt = None,
        model: ModelOpt = "",
        gpus: GpusOpt = None,
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="The run's project (default serving).")
        ] = None,
        experiment: Annotated[
            str | None,
            typer.Option("--experiment", "-e", help="The run's experiment (default the engine)."),
        ] = None,
        country: Annotated[
            str | None, typer.Option("--country", help="Where the host is (ISO code or name).")
        ] = None,
        region: Annotated[
            str | None,
            typer.Option("--region", help="A sub-national zone or cloud region (aws:eu-west-3)."),
        ] = None,
        grid: Annotated[
            float | None, typer.Option("--grid", help="Grid intensity in gCO2e/kWh to use.")
        ] = None,
        pue: Annotated[float | None, typer.Option("--pue", help="The data centre's PUE.")] = None,
        ledger: LedgerOpt = None,
        no_ledger: Annotated[
            bool, typer.Option("--no-ledger", help="Record nothing (totals only).")
        ] = False,
        tag: Annotated[
            list[str] | None, typer.Option("--tag", help="KEY=VALUE kept with the run.")
        ] = None,
        quiet: QuietOpt = False,
        cpu_watts: CpuWattsOpt = None,
        ram_watts: RamWattsOpt = None,
    ) -> None:
        """Measure a live inference engine's energy per token (a sidecar on its host).

        Every interval it scrapes the engine's Prometheus counters (tokens, requests, phase
        times) and divides the energy of the engine's GPUs and the host's CPU and RAM by
        them; one run in the ledger with a window per interval. Ctrl-C or SIGTERM ends it
        with the totals. See docs/serving.md.
        """
        from carbonledger.integrations.serving.engines import (
            check_metrics_url,
            engine_env,
            engine_spec,
        )
        from carbonledger.integrations.serving.sidecar import ServingSidecar
        from carbonledger.report.prometheus import require_client
        from carbonledger.run import Tracker

        check_interval_option(interval)
        if duration is not None and not duration > 0:
            fail(f"--duration must be > 0 seconds, got {duration:g}")
        tags = parse_tags(tag)
        address = parse_listen(listen) if listen is not None else None
        try:
            spec = engine_spec(engine)
            require_client()
            if proxy is not None:
                from carbonledger.integrations.serving.proxy import require_proxy_stack

                require_proxy_stack()
                if address is None:
                    fail("--proxy needs --listen HOST:PORT, where the proxy takes requests")
                check_metrics_url(proxy.rstrip("/") + "/metrics")
                if not upstream_timeout > 0:
                    fail(f"--upstream-timeout must be > 0 seconds, got {upstream_timeout:g}")
            if metrics_url is None:
                if proxy is None:
                    fail("give the engine's --metrics-url (e.g. http://127.0.0.1:8000/metrics)")
                metrics_url = proxy.rstrip("/") + "/metrics"
            check_metrics_url(metrics_url)
            env = engine_env(gpus)
            tracker = Tracker(
                project or "serving",
                experiment or spec.name,
                country=country,
                region=region,
                grid_g_per_kwh=grid,
                pue=pue,
                scope="machine",
                # each interval's window reads the sensors and records its energy: the
                # sampler's own series need not be as fine (it keeps crash safety)
                interval_s=max(interval, SAMPLE_INTERVAL_S),
                ledger=False if no_ledger else ledger,
                tags={"engine": spec.name, **tags},
                cpu_watts=cpu_watts,
                ram_watts=ram_watts,
                env=env,
                handle_signals=False,
                command=["serving", spec.name, metrics_url],
            )
            sidecar = ServingSidecar(
                spec,
                metrics_url,
                tracker,
                interval_s=interval,
                scrape_timeout_s=scrape_timeout,
                rate_window_s=rate_window,
                model=model,
            )
        except CarbonLedgerError as exc:
            fail_from(exc)
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            _serve(sidecar, stop, duration, address, proxy, upstream_timeout, quiet, json_out)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _serve(
    sidecar: Any,
    stop: threading.Event,
    duration: float | None,
    address: tuple[str, int] | None,
    proxy: str | None,
    upstream_timeout: float,
    quiet: bool,
    json_out: bool,
) -> None:
    """Start the sidecar (and the exporter or the proxy), loop, stop, print the totals."""
    try:
        sidecar.start()
    except CarbonLedgerError as exc:
        fail_from(exc)
    server: Any = None
    try:
        if proxy is not None and address is not None:
            from carbonledger.integrations.serving.exporter import serving_registry
            from carbonledger.integrations.serving.proxy import ProxyServer, create_app

            app = create_app(
                proxy, sidecar, timeout_s=upstream_timeout, registry=serving_registry(sidecar)
            )
            server = ProxyServer(app, *address).start()
            typer.echo(f"proxy to {proxy} listening at {server.url}", err=True)
        elif address is not None:
            from carbonledger.integrations.serving.exporter import ServingExporter

            server = ServingExporter(sidecar, addr=address[0], port=address[1]).start()
            typer.echo(f"serving Prometheus metrics at {server.url}", err=True)
    except CarbonLedgerError as exc:
        sidecar.close("failed")
        fail_from(exc)
    if not quiet:
        sidecar.on_interval = lambda report: typer.echo(interval_line(report), err=True)
    typer.echo(
        f"measuring {sidecar.spec.title} at {sidecar.metrics_url} every "
        f"{sidecar.interval_s:g} s (run {sidecar.tracker.run_id}); Ctrl-C to stop",
        err=True,
    )
    try:
        sidecar.run(stop, duration)
    finally:
        if server is not None:
            server.stop()
        totals = sidecar.close("interrupted" if stop.is_set() else "completed")
    typer.echo(totals_text(totals), err=True)
    if json_out:
        emit_json(totals.to_dict())
