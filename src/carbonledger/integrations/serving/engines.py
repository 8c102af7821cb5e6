"""What vLLM, TGI and SGLang say about their work on their Prometheus ``/metrics`` endpoint,
and how the sidecar reads it.

Each engine is one :class:`EngineSpec`: which samples carry the input tokens, output tokens,
finished requests and (where the engine exports them) the seconds spent in prefill and in
decode; which gauge says how many requests are running; which label names the model. The
names are the engines' own (see docs/serving.md for the source files they come from):

=========  =================================  ==========================================
engine     counted                            samples
=========  =================================  ==========================================
vllm       as tokens are processed            ``vllm:prompt_tokens_total``,
           (each engine step)                 ``vllm:generation_tokens_total``,
                                              ``vllm:request_success_total``,
                                              ``vllm:request_prefill_time_seconds_sum``,
                                              ``vllm:request_decode_time_seconds_sum``
tgi        input at admission, output when    ``tgi_request_input_length_sum``,
           a request finishes                 ``tgi_request_generated_tokens_sum`` /
                                              ``_count``, ``tgi_batch_inference_duration_sum``
                                              by ``method`` (prefill, decode)
sglang     when a request finishes            ``sglang:prompt_tokens_total``,
                                              ``sglang:generation_tokens_total``,
                                              ``sglang:num_requests_total``
=========  =================================  ==========================================

:func:`parse_metrics` keeps only the lines of those samples (a busy engine's page holds
hundreds of histogram buckets the sidecar never needs) and parses them with
``prometheus_client``'s text parser. Counters are read raw, one value per label set; turning
them into per-interval amounts (restarts, missing series) is :mod:`.counters`' job.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from carbonledger.errors import InputError

if TYPE_CHECKING:
    from carbonledger._http import Response

__all__ = [
    "ENGINES",
    "QUANTITIES",
    "EngineReading",
    "EngineSpec",
    "HttpStatusError",
    "KeptHttpGet",
    "LineCache",
    "Quantity",
    "SeriesKey",
    "Source",
    "check_metrics_url",
    "engine_env",
    "engine_spec",
    "http_get",
    "parse_metrics",
]

#: what the sidecar counts: tokens in and out, finished requests, seconds in prefill/decode
Quantity = Literal["input_tokens", "output_tokens", "requests", "prefill_s", "decode_s"]
QUANTITIES: tuple[Quantity, ...] = (
    "input_tokens",
    "output_tokens",
    "requests",
    "prefill_s",
    "decode_s",
)

#: one raw series: (sample name, its labels sorted)
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]

#: a restart changes it: prometheus_client's process collector (vLLM, SGLang)
START_TIME_SAMPLE = "process_start_time_seconds"


@dataclass(frozen=True)
class Source:
    """One sample that carries a quantity: its name as exposed, and labels it must have
    (``{"method": "prefill"}`` picks one phase of a histogram shared by both)."""

    sample: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class EngineSpec:
    """How one engine exposes its work.

    ``quantities`` maps each :data:`Quantity` to the samples that carry it (their values are
    added up over label sets, per model); ``running`` names the gauge of requests being run;
    ``model_label`` the label naming the served model (None: one model, unnamed);
    ``counted_at`` when the engine adds to its token counters (``"step"``: as tokens are
    processed; ``"finish"``: when a request ends), which decides how far an interval's tokens
    can lag its energy; ``phase_times`` says what the prefill/decode seconds measure.
    """

    name: str
    title: str
    quantities: Mapping[Quantity, tuple[Source, ...]]
    running: tuple[str, ...]
    model_label: str | None
    counted_at: Literal["step", "finish"]
    phase_times: str = ""
    #: the engine serves its page with prometheus_client, which sends only the samples named
    #: by ``?name[]=...`` (the sidecar asks for its own, and filters again itself)
    name_filter: bool = False
    #: where the names come from (docs/serving.md cites them)
    reference: str = ""

    @functools.cached_property
    def sample_names(self) -> frozenset[str]:
        """Every sample the sidecar reads from this engine (with counters' ``_created``)."""
        names = {s.sample for sources in self.quantities.values() for s in sources}
        names |= {created_name(n) for n in names}
        return frozenset(names | set(self.running) | {START_TIME_SAMPLE})

    def scrape_url(self, metrics_url: str) -> str:
        """``metrics_url`` asking for only the samples the sidecar reads, where the engine's
        server understands it (``name_filter``); unchanged otherwise."""
        if not self.name_filter:
            return metrics_url
        from urllib.parse import urlencode

        query = urlencode([("name[]", name) for name in sorted(self.sample_names)])
        return metrics_url + ("&" if "?" in metrics_url else "?") + query

    @functools.cached_property
    def _starts(self) -> tuple[str, ...]:
        return tuple(sorted(self.sample_names))

    @functools.cached_property
    def _by_sample(self) -> dict[str, list[tuple[Quantity, Source]]]:
        out: dict[str, list[tuple[Quantity, Source]]] = {}
        for q, sources in self.quantities.items():
            for source in sources:
                out.setdefault(source.sample, []).append((q, source))
        return out

    @functools.cached_property
    def _created_of(self) -> dict[str, str]:
        return {created_name(s): s for s in self._by_sample}


def created_name(sample: str) -> str:
    """``vllm:prompt_tokens_total`` -> ``vllm:prompt_tokens_created`` (the time
    prometheus_client made the series; a new value means the series was made again)."""
    for suffix in ("_total", "_sum", "_count"):
        if sample.endswith(suffix):
            return sample[: -len(suffix)] + "_created"
    return sample + "_created"


ENGINES: dict[str, EngineSpec] = {
    "vllm": EngineSpec(
        name="vllm",
        title="vLLM",
        quantities={
            "input_tokens": (Source("vllm:prompt_tokens_total"),),
            "output_tokens": (Source("vllm:generation_tokens_total"),),
            "requests": (Source("vllm:request_success_total"),),
            "prefill_s": (Source("vllm:request_prefill_time_seconds_sum"),),
            "decode_s": (Source("vllm:request_decode_time_seconds_sum"),),
        },
        running=("vllm:num_requests_running",),
        model_label="model_name",
        counted_at="step",
        name_filter=True,
        phase_times="seconds each finished request spent in prefill and in decode "
        "(request time: concurrent requests overlap)",
        reference="vllm/v1/metrics/loggers.py (PrometheusStatLogger)",
    ),
    "tgi": EngineSpec(
        name="tgi",
        title="Text Generation Inference",
        quantities={
            "input_tokens": (Source("tgi_request_input_length_sum"),),
            "output_tokens": (Source("tgi_request_generated_tokens_sum"),),
            "requests": (Source("tgi_request_generated_tokens_count"),),
            "prefill_s": (Source("tgi_batch_inference_duration_sum", {"method": "prefill"}),),
            "decode_s": (Source("tgi_batch_inference_duration_sum", {"method": "decode"}),),
        },
        running=("tgi_batch_current_size",),
        model_label=None,
        counted_at="finish",
        phase_times="seconds the batch spent in prefill steps and in decode steps",
        reference="router/src/server.rs, router/src/validation.rs, backends/v3/src/backend.rs",
    ),
    "sglang": EngineSpec(
        name="sglang",
        title="SGLang",
        quantities={
            "input_tokens": (Source("sglang:prompt_tokens_total"),),
            "output_tokens": (Source("sglang:generation_tokens_total"),),
            "requests": (Source("sglang:num_requests_total"),),
        },
        running=("sglang:num_running_reqs",),
        model_label="model_name",
        counted_at="finish",
        name_filter=True,
        reference="python/sglang/srt/metrics/collector.py (TokenizerMetricsCollector)",
    ),
}


def engine_spec(name: str) -> EngineSpec:
    """The :class:`EngineSpec` of ``name`` (``vllm``, ``tgi``, ``sglang``), or InputError."""
    spec = ENGINES.get(name.lower().strip()) if isinstance(name, str) else None
    if spec is None:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    return spec


@dataclass(frozen=True)
class EngineReading:
    """One scrape, raw: each series' value, each series' ``_created`` time where exposed,
    the running requests per model, and the engine process's start time (None: not
    exposed). ``models`` maps each series to its model ("" when the engine names none)."""

    values: dict[SeriesKey, float]
    quantity: dict[SeriesKey, Quantity]
    models: dict[SeriesKey, str]
    created: dict[SeriesKey, float]
    running: dict[str, float]
    start_time_s: float | None

    def has(self, quantity: Quantity) -> bool:
        return any(q == quantity for q in self.quantity.values())


def _sample_name(line: str) -> str:
    end = len(line)
    for stop in ("{", " ", "\t"):
        at = line.find(stop)
        if at != -1 and at < end:
            end = at
    return line[:end]


#: one parsed sample: its name, its labels, its value
Parsed = tuple[str, tuple[tuple[str, str], ...], float]


class LineCache:
    """What the previous page's lines parsed to: a line that did not change since (a
    ``_created`` time, an idle model's counter) is not parsed again, and a line whose series
    (all but its value: ``name{labels}``) was on that page needs only its value read. Holds
    exactly the lines and series of the latest page."""

    def __init__(self) -> None:
        self.lines: dict[str, Parsed] = {}
        #: ``name{labels}`` as written -> (name, labels), for series whose line parsed to
        #: that name and labels and the value written after the last space
        self.series: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}


def _value(text: str) -> float | None:
    """The number a sample line ends with, or None (then the line is parsed whole: Python
    reads ``1_000``, the exposition format does not)."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _parse_lines(lines: list[str], cache: LineCache | None) -> list[Parsed]:
    """Each line's sample, with prometheus_client's parser (what the cache knows, from it).
    Every line is one untyped sample, so samples come back one per line, in order."""
    from prometheus_client.parser import text_string_to_metric_families

    known = cache.lines if cache is not None else {}
    series = cache.series if cache is not None else {}
    result: list[Parsed | None] = []
    fresh: list[str] = []
    for line in lines:
        hit = known.get(line)
        if hit is None:
            cut = line.rfind(" ")
            name_labels = series.get(line[:cut]) if cut > 0 else None
            value = _value(line[cut + 1 :]) if name_labels is not None else None
            if name_labels is not None and value is not None:
                hit = (name_labels[0], name_labels[1], value)
            else:
                fresh.append(line)
        result.append(hit)
    parsed: list[Parsed] = []
    if fresh:
        for family in text_string_to_metric_families("\n".join(fresh) + "\n"):
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                parsed.append((sample.name, labels, float(sample.value)))
    if len(parsed) != len(fresh):  # not one sample per line: nothing is cached this time
        if cache is not None:
            cache.lines, cache.series = {}, {}
        # every line parsed: that is the page; else the page parsed whole, without the cache
        return parsed if len(fresh) == len(lines) else _parse_lines(lines, None)
    new = iter(parsed)
    out = [hit if hit is not None else next(new) for hit in result]
    if cache is not None:
        cache.lines = dict(zip(lines, out, strict=True))
        cache.series = {}
        for line, (name, labels, value) in cache.lines.items():
            cut = line.rfind(" ")
            written = _value(line[cut + 1 :]) if cut > 0 else None
            if written is not None and (
                written == value or (written != written and value != value)
            ):
                cache.series[line[:cut]] = (name, labels)
    return out


def parse_metrics(
    text: str, spec: EngineSpec, *, model: str = "", cache: LineCache | None = None
) -> EngineReading:
    """The samples of ``spec`` found in the exposition ``text`` (version 0.0.4 or
    OpenMetrics); ``model`` names the model of an engine that exposes no model label;
    ``cache`` (kept between scrapes of one engine) spares re-parsing unchanged lines.

    Only the lines of the samples the sidecar reads are parsed (type and help lines
    dropped, so every sample keeps the exact name it was exposed under: TGI's counters
    carry no ``_total``). A value that is not a finite number >= 0 is left out, as if the
    series were missing. Raises ValueError for a line prometheus_client cannot parse.
    """
    wanted, starts = spec.sample_names, spec._starts
    # a cheap first pass in C (str.startswith with the names), then the exact name
    kept = [
        line
        for line in text.splitlines()
        if line.startswith(starts) and _sample_name(line) in wanted
    ]
    values: dict[SeriesKey, float] = {}
    quantity: dict[SeriesKey, Quantity] = {}
    models: dict[SeriesKey, str] = {}
    created: dict[SeriesKey, float] = {}
    running: dict[str, float] = {}
    start_time_s: float | None = None
    by_sample = spec._by_sample
    created_of = spec._created_of
    for name, labels, value in _parse_lines(kept, cache):
        if not (math.isfinite(value) and value >= 0):
            continue
        if name == START_TIME_SAMPLE:
            start_time_s = value
            continue
        found = dict(labels)
        model_name = found.get(spec.model_label, model) if spec.model_label else model
        if name in spec.running:
            running[model_name] = running.get(model_name, 0.0) + value
        elif name in by_sample:
            for q, source in by_sample[name]:
                if source.matches(found):
                    key: SeriesKey = (name, labels)
                    values[key] = value
                    quantity[key] = q
                    models[key] = model_name
        elif name in created_of:
            created[(created_of[name], labels)] = value
    return EngineReading(values, quantity, models, created, running, start_time_s)


# --- reaching the engine ----------------------------------------------------------------


def engine_env(gpus: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the engine's devices are discovered in: ``env`` (default the
    process's) with ``CUDA_VISIBLE_DEVICES`` set to ``gpus`` (indices, ``GPU-`` or ``MIG-``
    UUIDs, as the engine was given them) when given. ``HIP_VISIBLE_DEVICES`` is then dropped,
    so AMD GPUs follow the same list (HIP honours ``CUDA_VISIBLE_DEVICES`` too)."""
    import os

    out = dict(os.environ if env is None else env)
    if gpus is not None:
        out["CUDA_VISIBLE_DEVICES"] = gpus
        out.pop("HIP_VISIBLE_DEVICES", None)
    return out


def check_metrics_url(url: str) -> str:
    """``url`` when it is an http(s) URL with a host, else InputError saying what to give."""
    from urllib.parse import urlsplit

    ok = isinstance(url, str) and not any(c.isspace() for c in url)
    if ok:
        try:
            parts = urlsplit(url)
            _ = parts.port  # a malformed port raises here
        except ValueError:
            ok = False
        else:
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    if not ok:
        raise InputError(
            f"the metrics URL must look like http://127.0.0.1:8000/metrics, got {url!r}"
        )
    return url


def http_get(url: str, timeout_s: float, headers: Mapping[str, str]) -> str:
    """GET ``url`` within ``timeout_s`` seconds in all (direct: the engine is local); the
    body as text, or an OSError for a failure or an HTTP error status."""
    from carbonledger._http import fetch

    return _text(fetch(url, timeout_s=timeout_s, headers=headers, use_proxies=False), url)


class KeptHttpGet:
    """:func:`http_get` over one connection kept alive from scrape to scrape (a sidecar asks
    the same engine every interval); :meth:`close` lets it go."""

    def __init__(self) -> None:
        from carbonledger._http import Poller

        self._poller = Poller()

    def __call__(self, url: str, timeout_s: float, headers: Mapping[str, str]) -> str:
        return _text(self._poller.get(url, timeout_s=timeout_s, headers=headers), url)

    def close(self) -> None:
        self._poller.close()


def _text(response: Response, url: str) -> str:
    if response.status >= 400:
        raise HttpStatusError(response.status, f"{response.text[:200].strip()} ({url})")
    return response.text


class HttpStatusError(OSError):
    """The engine answered a scrape with an HTTP error ``status``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
