"""A fake inference engine's metrics endpoint: the hardware edge of the serving sidecar.

:class:`FakeEngine` serves ``GET /metrics`` on a local port with the metric names, label
sets and text format of a real engine (vLLM and SGLang: prometheus_client's format, counters
ending in ``_total`` with ``_created`` samples; TGI: the Rust ``metrics`` exporter's, counters
without ``_total``). The test programs the work it did (:meth:`serve`), what is running
(:meth:`set_running`), and how it misbehaves: :meth:`restart` (every counter back to zero,
a new process start time), :meth:`hide` (series missing from the page), :meth:`stall`
(answers after a delay, for scrape deadlines) and :meth:`fail` (an HTTP error)::

    engine = FakeEngine("vllm").start()
    engine.serve("llama", input_tokens=4000, output_tokens=1000, requests=10,
                 prefill_s=5.0, decode_s=15.0)
    sidecar = ServingSidecar("vllm", engine.url, tracker)
    ...
    engine.stop()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeEngine"]

#: vLLM's request-latency buckets (seconds)
_LATENCY_BUCKETS: tuple[float, ...] = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0)
_LATENCY_BUCKETS += (30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)


@dataclass
class _Model:
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    requests: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    running: float = 0.0


class FakeEngine:
    """Serve a fake ``engine``'s (``"vllm"``, ``"tgi"``, ``"sglang"``) ``/metrics`` on
    ``127.0.0.1`` (a free port unless ``port`` is given).

    ``models`` are the served model names (TGI names none: give one). ``phase_times=False``
    leaves out the prefill/decode time histograms (as engines without them). ``padding``
    adds the other histogram families a real vLLM page carries (fourteen, every bucket), so
    that the page has a real engine's size (about 45 kB per model).
    """

    def __init__(
        self,
        engine: str = "vllm",
        *,
        models: tuple[str, ...] = ("model",),
        phase_times: bool = True,
        padding: bool = False,
        port: int = 0,
    ) -> None:
        if engine not in ("vllm", "tgi", "sglang"):
            raise ValueError(f"unknown engine {engine!r}: vllm, tgi or sglang")
        self.engine = engine
        self.phase_times = phase_times
        self.padding = padding
        self._port = port
        self._lock = threading.Lock()
        self._models = {m: _Model() for m in models}
        self._start_time_s = 1_700_000_000.0
        self._created_s = self._start_time_s + 5.0
        self._hidden: set[str] = set()
        self._stall_s = 0.0
        self._status = 200
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._refuse_queries = False
        #: how many times /metrics was asked for, the last path asked and its answer's size
        self.scrapes = 0
        self.last_path = ""
        self.last_bytes = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeEngine:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        engine = self

        class Handler(BaseHTTPRequestHandler):
            # as uvicorn (vLLM, SGLang) and TGI's server: connections kept alive
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                engine._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/metrics``."""
        assert self._server is not None, "start() the fake engine first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/metrics"

    # --- the work it did ---------------------------------------------------------------------

    def serve(
        self,
        model: str | None = None,
        *,
        input_tokens: float = 0,
        output_tokens: float = 0,
        requests: float = 0,
        prefill_s: float = 0.0,
        decode_s: float = 0.0,
    ) -> None:
        """Count work for ``model`` (default: the first): tokens in and out, finished
        requests and their seconds in prefill and decode."""
        with self._lock:
            m = self._model(model)
            m.input_tokens += input_tokens
            m.output_tokens += output_tokens
            m.requests += requests
            m.prefill_s += prefill_s
            m.decode_s += decode_s

    def set_running(self, running: float, model: str | None = None) -> None:
        """Requests being run now (the engine's gauge)."""
        with self._lock:
            self._model(model).running = running

    def _model(self, model: str | None) -> _Model:
        name = model if model is not None else next(iter(self._models))
        return self._models.setdefault(name, _Model())

    # --- misbehaviour ------------------------------------------------------------------------

    def restart(self) -> None:
        """The engine restarted: every counter from zero, a new process start time and new
        ``_created`` times."""
        with self._lock:
            self._models = {name: _Model() for name in self._models}
            self._start_time_s += 60.0
            self._created_s += 60.0

    def hide(self, *prefixes: str) -> None:
        """Leave out every sample whose name starts with one of ``prefixes``."""
        with self._lock:
            self._hidden.update(prefixes)

    def show(self, *prefixes: str) -> None:
        """Serve again what :meth:`hide` left out (all of it when no prefix is given)."""
        with self._lock:
            if prefixes:
                self._hidden.difference_update(prefixes)
            else:
                self._hidden.clear()

    def stall(self, seconds: float) -> None:
        """Answer each scrape only after ``seconds`` (0: at once)."""
        self._stall_s = seconds

    def refuse_queries(self, refuse: bool = True) -> None:
        """Answer a request with a query string (``?name[]=...``) with HTTP 400, as a
        server that takes none would."""
        self._refuse_queries = refuse

    def fail(self, status: int | None = 500) -> None:
        """Answer scrapes with HTTP ``status`` (None: answer normally again)."""
        self._status = 200 if status is None else status

    # --- the page ----------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        if path != "/metrics":
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        self.scrapes += 1
        self.last_path = handler.path
        if self._stall_s > 0:
            time.sleep(self._stall_s)
        status = 400 if query and self._refuse_queries else self._status
        names = None
        if query and self.engine != "tgi":  # prometheus_client's ?name[]=... (vLLM, SGLang)
            from urllib.parse import parse_qs

            names = set(parse_qs(query).get("name[]", [])) or None
        body = self.text(names).encode() if status == 200 else b"engine error\n"
        self.last_bytes = len(body)
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the scraper gave up (its deadline) and closed the connection
            pass

    def text(self, names: set[str] | None = None) -> str:
        """The exposition page as served now; with ``names``, only those samples (as
        prometheus_client serves ``?name[]=...``)."""
        with self._lock:
            lines = self._tgi() if self.engine == "tgi" else self._prometheus_client_style()
            hidden = tuple(self._hidden)
        if hidden:
            lines = [ln for ln in lines if ln.startswith("#") or not ln.startswith(hidden)]
        if names is not None:
            lines = [ln for ln in lines if ln.split("{", 1)[0].split(" ", 1)[0] in names]
        return "\n".join(lines) + "\n"

    def _prometheus_client_style(self) -> list[str]:
        p = "vllm:" if self.engine == "vllm" else "sglang:"
        vllm = self.engine == "vllm"
        out = [
            "# HELP process_start_time_seconds Start time of the process since unix epoch.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self._start_time_s}",
        ]

        def labels(model: str, extra: str = "") -> str:
            base = f'engine="0",model_name="{model}"' if vllm else f'model_name="{model}"'
            return "{" + base + (("," + extra) if extra else "") + "}"

        def counter(name: str, help_: str, field: str) -> None:
            out.append(f"# HELP {p}{name}_total {help_}")
            out.append(f"# TYPE {p}{name}_total counter")
            for model, m in self._models.items():
                out.append(f"{p}{name}_total{labels(model)} {float(getattr(m, field))}")
                out.append(f"{p}{name}_created{labels(model)} {self._created_s}")

        running = "num_requests_running" if vllm else "num_running_reqs"
        out.append(f"# TYPE {p}{running} gauge")
        for model, m in self._models.items():
            out.append(f"{p}{running}{labels(model)} {m.running}")
        counter("prompt_tokens", "Number of prefill tokens processed.", "input_tokens")
        counter("generation_tokens", "Number of generation tokens processed.", "output_tokens")
        if vllm:
            out.append("# TYPE vllm:request_success_total counter")
            for model, m in self._models.items():
                # two finished reasons: 3/4 stopped, the rest hit their length
                stop = float(int(m.requests * 3 // 4))
                for reason, n in (("stop", stop), ("length", m.requests - stop)):
                    lab = labels(model, f'finished_reason="{reason}"')
                    out.append(f"vllm:request_success_total{lab} {n}")
                    out.append(f"vllm:request_success_created{lab} {self._created_s}")
            if self.phase_times:
                self._histogram(out, "vllm:request_prefill_time_seconds", labels, "prefill_s")
                self._histogram(out, "vllm:request_decode_time_seconds", labels, "decode_s")
        else:
            counter("num_requests", "Number of requests processed.", "requests")
        if self.padding:  # the other families of a real page (vLLM has about twenty)
            names = (
                "e2e_request_latency_seconds",
                "time_to_first_token_seconds",
                "time_per_output_token_seconds",
                "inter_token_latency_seconds",
                "request_queue_time_seconds",
                "request_inference_time_seconds",
                "request_prompt_tokens",
                "request_generation_tokens",
                "iteration_tokens_total",
                "request_max_num_generation_tokens",
                "request_params_n",
                "request_params_max_tokens",
                "time_per_prefill_token_request_seconds",
                "request_time_per_output_token_seconds",
            )
            for name in names:
                self._histogram(out, f"{p}{name}", labels, "decode_s")
        return out

    def _histogram(self, out: list[str], name: str, labels: Any, field: str) -> None:
        """A request-time histogram: every request took the mean time (the buckets only
        need to be plausible: the sidecar reads ``_sum``)."""
        out.append(f"# TYPE {name} histogram")
        for model, m in self._models.items():
            total_s, n = float(getattr(m, field)), m.requests
            each_s = total_s / n if n else 0.0
            for le in _LATENCY_BUCKETS:
                count = n if each_s <= le else 0.0
                out.append(f"{name}_bucket{labels(model, f'le={chr(34)}{le}{chr(34)}')} {count}")
            out.append(f"{name}_bucket{labels(model, 'le=' + chr(34) + '+Inf' + chr(34))} {n}")
            out.append(f"{name}_count{labels(model)} {n}")
            out.append(f"{name}_sum{labels(model)} {total_s}")
            out.append(f"{name}_created{labels(model)} {self._created_s}")

    def _tgi(self) -> list[str]:
        """TGI serves one model and names none; the Rust exporter writes counters without
        ``_total`` and histograms with ``_sum``/``_count``."""
        m = _Model()
        for each in self._models.values():
            for field in ("input_tokens", "output_tokens", "requests", "prefill_s", "decode_s"):
                setattr(m, field, getattr(m, field) + getattr(each, field))
            m.running += each.running
        out = [
            "# TYPE tgi_request_count counter",
            f"tgi_request_count {int(m.requests)}",
            "# TYPE tgi_request_success counter",
            f"tgi_request_success {int(m.requests)}",
            "# TYPE tgi_batch_current_size gauge",
            f"tgi_batch_current_size {m.running:g}",
            "# TYPE tgi_queue_size gauge",
            "tgi_queue_size 0",
            "# TYPE tgi_request_input_length histogram",
            f'tgi_request_input_length_bucket{{le="+Inf"}} {int(m.requests)}',
            f"tgi_request_input_length_sum {m.input_tokens:g}",
            f"tgi_request_input_length_count {int(m.requests)}",
            "# TYPE tgi_request_generated_tokens histogram",
            f'tgi_request_generated_tokens_bucket{{le="+Inf"}} {int(m.requests)}',
            f"tgi_request_generated_tokens_sum {m.output_tokens:g}",
            f"tgi_request_generated_tokens_count {int(m.requests)}",
        ]
        if self.phase_times:
            out.append("# TYPE tgi_batch_inference_duration histogram")
            for method, seconds in (("prefill", m.prefill_s), ("decode", m.decode_s)):
                out.append(f'tgi_batch_inference_duration_sum{{method="{method}"}} {seconds:g}')
                out.append(
                    f'tgi_batch_inference_duration_count{{method="{method}"}} {int(m.requests)}'
                )
        return out
