"""The page cache between scrapes gives what a fresh parse of the page gives, scrape after
scrape: unchanged lines reused, known series with only their value read, anything else
(a new series, a timestamp, a value the format does not allow) parsed whole."""

from __future__ import annotations

import math

import pytest

from carbonledger.integrations.serving.engines import (
    LineCache,
    engine_spec,
    parse_metrics,
)

SPEC = engine_spec("vllm")


def page(tokens: float, *, extra: str = "", decode: str = "1.5") -> str:
    return (
        "# HELP vllm:generation_tokens_total Generation tokens.\n"
        "# TYPE vllm:generation_tokens_total counter\n"
        f'vllm:generation_tokens_total{{engine="0",model_name="m a"}} {tokens}\n'
        f'vllm:prompt_tokens_total{{engine="0",model_name="m a"}} {4 * tokens}\n'
        f'vllm:request_success_total{{engine="0",model_name="m a",finished_reason="stop"}} 3\n'
        f'vllm:request_decode_time_seconds_sum{{engine="0",model_name="m a"}} {decode}\n' + extra
    )


def same(a: object, b: object) -> bool:
    return repr(a) == repr(b)


@pytest.mark.parametrize(
    "pages",
    [
        [page(t) for t in (0, 1, 1, 2.5, 1e9, 3)],
        [page(1), page(2, decode="NaN"), page(3, decode="+Inf"), page(4)],
        [page(1), page(2, extra='vllm:generation_tokens_total{engine="0",model_name="b"} 7\n'),
         page(3)],
        [page(1), page(2, decode="2.0 1700000000000"), page(3, decode="2.5")],  # a timestamp
    ],
    ids=["values-change", "nan-inf", "a-series-comes-and-goes", "a-timestamp"],
)  # fmt: skip
def test_the_cache_reads_each_page_as_a_fresh_parse_does(pages: list[str]) -> None:
    cache = LineCache()
    for text in pages:
        cached = parse_metrics(text, SPEC, cache=cache)
        fresh = parse_metrics(text, SPEC)
        assert same(cached, fresh), text
    assert len(cache.series) >= 3  # the series were learnt, and are reused


def test_a_value_the_format_refuses_is_refused_with_the_cache_too() -> None:
    cache = LineCache()
    parse_metrics(page(1), SPEC, cache=cache)
    with pytest.raises(ValueError):
        parse_metrics(page(1, decode="1_000"), SPEC)
    with pytest.raises(ValueError):  # Python would read 1_000; the exposition format does not
        parse_metrics(page(1, decode="1_000"), SPEC, cache=cache)


def test_values_read_through_a_known_series_are_the_page_s() -> None:
    cache = LineCache()
    parse_metrics(page(1), SPEC, cache=cache)
    reading = parse_metrics(page(41.25, decode="7.75"), SPEC, cache=cache)
    values = sorted(v for v in reading.values.values() if not math.isnan(v))
    assert 41.25 in values and 165.0 in values and 7.75 in values
