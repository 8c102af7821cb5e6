"""``json.dumps``/``json.loads`` for the tracker's path, without importing :mod:`json`.

:mod:`json` imports :mod:`re` (and with it ``enum`` and ``functools``) at module level:
about 10 ms before a tracker's first ``stop()`` can write its record, on a path whose
whole budget is 20 ms. The C accelerator :mod:`_json` that :mod:`json` itself drives does
the work here the same way: ``dumps`` builds the encoder :class:`json.JSONEncoder` builds
when ``indent`` is None (its one-shot C path), so the text is byte for byte what
``json.dumps`` writes (the tests compare the two); ``loads`` drives the C scanner with
``json.loads``'s defaults. Where :mod:`_json` is missing or differs (another
interpreter), and for the error messages of bad input, :mod:`json` itself is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["dumps", "loads"]

_c: Any
try:
    import _json as _c
except ImportError:  # pragma: no cover - CPython always has it
    _c = None

_WHITESPACE = " \t\n\r"  # what the JSON grammar (and json.loads) skip between tokens
_encoders: dict[tuple[Any, ...], Any] = {}
_scanner: Any = None


def _not_serializable(o: object) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(
    obj: Any,
    *,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
    ensure_ascii: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """``json.dumps(obj, sort_keys=..., separators=..., ensure_ascii=..., default=...)``."""
    item_sep, key_sep = separators if separators is not None else (", ", ": ")
    if _c is not None:
        quote = _c.encode_basestring_ascii if ensure_ascii else _c.encode_basestring
        if isinstance(obj, str):
            return str(quote(obj))
        key = (sort_keys, item_sep, key_sep, ensure_ascii, default)
        encoder: Any = _encoders.get(key)
        if encoder is None:
            try:
                encoder = _c.make_encoder(
                    {},  # markers: circular references raise ValueError, as json's do
                    default if default is not None else _not_serializable,
                    quote,
                    None,  # indent
                    key_sep,
                    item_sep,
                    sort_keys,
                    False,  # skipkeys
                    True,  # allow_nan
                )
            except TypeError:  # pragma: no cover - an interpreter whose _json differs
                encoder = False
            _encoders[key] = encoder
        if encoder is not False:
            return "".join(encoder(obj, 0))
    import json  # pragma: no cover - see above

    return json.dumps(  # pragma: no cover
        obj,
        sort_keys=sort_keys,
        separators=(item_sep, key_sep),
        ensure_ascii=ensure_ascii,
        default=default,
    )


class _Context:
    """The attributes the C scanner reads from a ``json.JSONDecoder``, at their defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self) -> None:
        inf = float("inf")
        self.parse_constant = {"-Infinity": -inf, "Infinity": inf, "NaN": float("nan")}.__getitem__


def loads(text: str) -> Any:
    """``json.loads(text)`` for a ``str``; bad JSON raises :class:`json.JSONDecodeError`
    (a :class:`ValueError`) with json's own message."""
    global _scanner
    if _c is not None and isinstance(text, str):
        if _scanner is None:
            _scanner = _c.make_scanner(_Context())
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            obj, end = _scanner(text, start)
        except (StopIteration, ValueError):
            pass  # json.loads says what is wrong, below
        else:
            if not text[end:].strip(_WHITESPACE):  # nothing but whitespace after it
                return obj
    import json

    return json.loads(text)
