"""The codec of the write stream's records: frozen dataclasses to JSON values and back.

A record is written as an object of its fields (those at their default left out), or, for the
classes in :data:`POSITIONAL` (made many times a second), as a list of its fields in order.
Decoding checks every field against the class's type hints (numbers finite, strings strings,
literals among their values, nested records by their own hints; ``Any`` and mappings JSON
values only, nested at most 32 deep) and raises :class:`DecodeError` for anything else. Each
class's encoder and decoder is compiled once. :mod:`carbonledger.events` builds the batches'
canonical bodies on it.
"""

from __future__ import annotations

import math
import operator
import sys
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, Union

from carbonledger.models import Sample

__all__ = ["POSITIONAL", "DecodeError", "check", "check_json", "decoder", "encode", "encoder"]


class DecodeError(ValueError):
    """A batch body that is not one this codec writes (edited, truncated or foreign)."""


#: records written as a list of their fields in order (made many times a second); flat: every
#: field holds a number, a string, a bool or None (nothing nested is encoded in them)
POSITIONAL: frozenset[type[Any]] = frozenset({Sample})

_PRIMITIVE = (str, int, float, bool, type(None))
_ENCODERS: dict[type[Any], Callable[[Any], Any]] = {}


def encode(value: Any) -> Any:
    """A JSON-able form of ``value`` (non-finite numbers are refused by the JSON encoder)."""
    if isinstance(value, _PRIMITIVE):
        return value
    cls = type(value)
    encoder = _ENCODERS.get(cls)
    if encoder is not None:
        return encoder(value)
    if is_dataclass(value) and not isinstance(value, type):
        encoder = _ENCODERS[cls] = _record_encoder(cls)
        return encoder(value)
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, _PRIMITIVE) else encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} in a batch")


def encoder(cls: type[Any]) -> Callable[[Any], Any]:
    """The encoder of the record class ``cls`` (what :func:`encode` calls for its instances):
    for a caller that encodes many of one class, without looking the class up each time."""
    found = _ENCODERS.get(cls)
    if found is None:
        found = _ENCODERS[cls] = _record_encoder(cls)
    return found


def _record_encoder(cls: type[Any]) -> Callable[[Any], Any]:
    """The encoder of a record class, compiled once: fields at their default left out (at the
    end of a positional record, or anywhere in an object)."""
    flds = fields(cls)
    names = tuple(f.name for f in flds)
    many = operator.attrgetter(*names)
    get: Callable[[Any], tuple[Any, ...]] = (
        many if len(names) > 1 else (lambda value: (many(value),))
    )
    defaults: list[Any] = []
    for f in flds:
        if f.default is not MISSING:
            defaults.append((True, f.default))
        elif f.default_factory is not MISSING:
            defaults.append((True, f.default_factory()))
        else:
            defaults.append((False, None))
    if cls in POSITIONAL:

        def positional(value: Any) -> list[Any]:
            values = get(value)
            n = len(values)
            while n and defaults[n - 1][0] and values[n - 1] == defaults[n - 1][1]:
                n -= 1
            return list(values[:n])  # flat: the JSON encoder refuses anything not primitive

        return positional

    pairs = tuple(zip(names, defaults, strict=True))

    def obj(value: Any) -> dict[str, Any]:
        out = {}
        for (name, (has_default, default)), v in zip(pairs, get(value), strict=True):
            if has_default and v == default:
                continue
            out[name] = v if isinstance(v, _PRIMITIVE) else encode(v)
        return out

    return obj


_HINTS: dict[type[Any], dict[str, Any]] = {}
_HINTS_LOCK = threading.Lock()


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        import carbonledger.models as models

        ns = {**vars(models), **vars(sys.modules[cls.__module__])}
        hints = typing.get_type_hints(cls, globalns=ns)
        with _HINTS_LOCK:
            _HINTS[cls] = hints
    return hints


def check(tp: type[Any], value: Any, what: str) -> Any:
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(f"{what} must be a number, not {value!r:.60}")
        if not math.isfinite(value):
            raise DecodeError(f"{what} must be finite, not {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"{what} must be an integer, not {value!r:.60}")
        if abs(value) >= 2**63:
            raise DecodeError(f"{what} is out of range ({value!r:.60})")
        return value
    if not isinstance(value, tp):
        raise DecodeError(f"{what} must be a {tp.__name__}, not {value!r:.60}")
    return value


#: a decoder of one type: (value, what) -> the checked value (what names it in errors)
_Decoder = Callable[[Any, str], Any]
_DECODERS: dict[Any, _Decoder] = {}


def _float(value: Any, what: str) -> float:
    if type(value) is float:  # the common case, checked fast
        if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
            return value
        raise DecodeError(f"{what} must be finite, not {value!r}")
    result: float = check(float, value, what)
    return result


def _str(value: Any, what: str) -> str:
    if type(value) is str:
        return value
    raise DecodeError(f"{what} must be a string, not {value!r:.60}")


def decoder(tp: Any) -> _Decoder:
    """The decoder of ``tp``, compiled once from its type hints (cached)."""
    found = _DECODERS.get(tp)
    if found is None:
        found = _DECODERS[tp] = _compile(tp)
    return found


def _compile(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    if tp is Any:

        def any_json(value: Any, what: str) -> Any:
            check_json(value, what)
            return value

        return any_json
    if tp is float:
        return _float
    if tp is str:
        return _str
    if tp in (int, bool):
        return lambda value, what: check(tp, value, what)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        (inner_tp,) = [a for a in args if a is not type(None)]
        inner = decoder(inner_tp)
        return lambda value, what: None if value is None else inner(value, what)
    if origin is Literal:
        allowed = frozenset(typing.get_args(tp))

        def literal(value: Any, what: str) -> Any:
            if value not in allowed:
                raise DecodeError(f"{what} must be one of {sorted(allowed)}, not {value!r:.60}")
            return value

        return literal
    if origin is tuple:
        item = decoder(typing.get_args(tp)[0])

        def items(value: Any, what: str) -> tuple[Any, ...]:
            if type(value) is not list:
                raise DecodeError(f"{what} must be a list")
            return tuple([item(v, what) for v in value])

        return items
    if origin is dict:

        def mapping(value: Any, what: str) -> Any:
            if type(value) is not dict:
                raise DecodeError(f"{what} must be an object")
            check_json(value, what)
            return value

        return mapping
    if isinstance(tp, type) and is_dataclass(tp):
        return _compile_record(tp)
    raise TypeError(f"no decoding for {tp!r}")  # pragma: no cover - our own types


def _compile_record(cls: type[Any]) -> _Decoder:
    hints = _hints(cls)
    names = tuple(f.name for f in fields(cls))
    known = frozenset(names) | {"type"}
    decoders = tuple((name, decoder(hints[name])) for name in names)
    positional = cls in POSITIONAL
    size = len(names)

    def record(value: Any, what: str) -> Any:
        if positional:
            if type(value) is not list or len(value) > size:
                raise DecodeError(f"{what}: a {cls.__name__} is a list of up to {size} values")
            args = [dec(v, name) for (name, dec), v in zip(decoders, value, strict=False)]
            try:
                return cls(*args)
            except TypeError as exc:
                raise DecodeError(f"{what}: {exc}") from None
        if type(value) is not dict:
            raise DecodeError(f"{what}: a {cls.__name__} is an object")
        if not known.issuperset(value):
            unknown = sorted(set(value) - known)
            raise DecodeError(f"{what}: unknown field(s) {unknown} of {cls.__name__}")
        kwargs = {name: dec(value[name], name) for name, dec in decoders if name in value}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise DecodeError(f"{what}: {exc}") from None

    return record


def check_json(value: Any, what: str, depth: int = 0) -> None:
    """JSON values only, finite numbers only, nested at most 32 deep."""
    if depth > 32:
        raise DecodeError(f"{what} is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"{what} holds a non-finite number")
    if isinstance(value, dict):
        for v in value.values():
            check_json(v, what, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_json(v, what, depth + 1)
