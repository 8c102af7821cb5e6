"""carbonledger._fastjson writes and reads exactly what json does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from carbonledger import _fastjson

DOCS: list[Any] = [
    None,
    True,
    0,
    -17,
    2**70,
    0.1,
    1e-310,
    -0.0,
    1.7976931348623157e308,
    "",
    "plain",
    'quotes " and \\ and \n\t\x00\x1f',
    "énergie — CO₂e 🌍",
    [],
    {},
    [1, [2, [3, {"a": []}]]],
    {"b": 1, "a": {"z": [1.5, None, False], "y": "é"}, "c": []},
    {"run_id": "r-1", "components": [{"device": "gpu:0", "energy_j": 12.5, "measured": True}]},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf},
]


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"sort_keys": True, "separators": (",", ":")},
        {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False},
        {"sort_keys": False, "separators": (", ", ": "), "ensure_ascii": False},
    ],
    ids=["defaults", "canonical", "canonical-utf8", "utf8"],
)
def test_dumps_writes_what_json_writes(doc: Any, options: dict[str, Any]) -> None:
    if options.get("sort_keys") and isinstance(doc, dict) and None in doc:
        with pytest.raises(TypeError):
            json.dumps(doc, **options)
        with pytest.raises(TypeError):
            _fastjson.dumps(doc, **options)
        return
    assert _fastjson.dumps(doc, **options) == json.dumps(doc, **options)


def test_default_is_called_for_other_objects() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd!"

    doc = {"when": Odd(), "list": [Odd()]}
    expected = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    assert _fastjson.dumps(doc, sort_keys=True, separators=(",", ":"), default=str) == expected
    assert '"odd!"' in expected


def test_unserializable_and_circular_objects_fail_like_json() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        _fastjson.dumps({"a": {1, 2}})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        _fastjson.dumps(loop)


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
def test_loads_reads_what_json_reads(doc: Any) -> None:
    text = json.dumps(doc)
    for spaced in (text, f" \n\t{text}\r\n "):
        got, want = _fastjson.loads(spaced), json.loads(spaced)
        # NaN != NaN: compare the canonical texts, and the types
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        assert type(got) is type(want)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "{", '{"a": 1,}', "[1, 2] x", "nul", '"unterminated', "\ufeff[]", "{'a': 1}"],
)
def test_bad_json_raises_jsons_own_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        _fastjson.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)
