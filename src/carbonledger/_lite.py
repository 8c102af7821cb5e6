"""Light stand-ins for :mod:`dataclasses` and :mod:`typing` on the tracker's hot path.

The tracker's own modules are on the path of ``from carbonledger import Tracker`` and of a
fresh process's ``start()``/``stop()``; ``dataclasses`` pulls in ``inspect`` (and with it
``ast``, ``dis``, ``tokenize``...), about 8 ms and 2 MB before the first class is made, and
each ``@dataclass`` then compiles five or six methods. :func:`record` builds the same kind of
class from the annotations: one compiled ``__init__`` per class (exact signature, defaults,
``field(default_factory=...)``, ``__post_init__``) and shared ``__repr__``/``__eq__``/
``__hash__``; frozen records refuse attribute assignment like frozen dataclasses do.
Type checkers see them as dataclasses through :pep:`681` (``dataclass_transform``).

:class:`Protocol` and :func:`runtime_checkable` stand in for their :mod:`typing` namesakes at
run time (``typing`` alone is ~3 ms); type checkers see the real ones::

    if TYPE_CHECKING:
        from typing import Protocol
    else:
        from carbonledger._lite import Protocol

:func:`cache` stands in for :func:`functools.cache` (``functools`` pulls in ``collections``,
about 3 ms): a result per argument tuple, ``cache_info()`` and ``cache_clear()``.

Modules off that path (prediction, reports, the CLI) use :mod:`dataclasses` as usual.
"""

from __future__ import annotations

from abc import ABCMeta  # loaded by every interpreter at start-up

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
    from functools import cache as cache
else:

    def dataclass_transform(**_kwargs):
        return lambda decorated: decorated


__all__ = [
    "FrozenInstanceError",
    "Protocol",
    "asdict",
    "cache",
    "field",
    "fields",
    "made_often",
    "mutable_record",
    "record",
    "replace",
    "runtime_checkable",
]

_MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """Raised when a frozen record's attribute is assigned or deleted."""


class Field:
    """One field of a record: its name, default (or default factory), repr and compare flags."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(
        self,
        default: Any = _MISSING,
        default_factory: Any = _MISSING,
        repr: bool = True,
        compare: bool = True,
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare

    def _copy(self, name: str) -> Field:
        f = Field(self.default, self.default_factory, self.repr, self.compare)
        f.name = name
        return f


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field with options, like :func:`dataclasses.field`."""
    if default is not _MISSING and default_factory is not None:
        raise ValueError("a field cannot have both a default and a default_factory")
    return Field(default, _MISSING if default_factory is None else default_factory, repr, compare)


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and (text.startswith(("ClassVar", "typing.ClassVar")))


def _record_repr(self: Any) -> str:
    parts = ", ".join(
        f"{f.name}={getattr(self, f.name)!r}" for f in self.__record_fields__ if f.repr
    )
    return f"{type(self).__qualname__}({parts})"


def _record_key(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in self.__record_fields__ if f.compare)


def _record_eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _record_key(self) == _record_key(other)


def _record_hash(self: Any) -> int:
    return hash(_record_key(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")


#: instances of a record class made through the generic binding before its __init__ is compiled
COMPILE_AFTER = 4


def _bind(
    cls: type,
    all_fields: tuple[Field, ...],
    frozen: bool,
    self: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """What the compiled ``__init__`` does, for any record class: bind ``args``/``kwargs``
    to the fields (defaults, factories), set them, call ``__post_init__``; the same
    TypeErrors for missing, repeated or unknown arguments."""
    where = f"{cls.__qualname__}.__init__()"
    if len(args) > len(all_fields):
        most = len(all_fields) + 1  # with self, as Python counts them
        least = 1 + sum(
            1 for f in all_fields if f.default is _MISSING and f.default_factory is _MISSING
        )
        takes = f"from {least} to {most}" if least < most else str(most)
        noun = "argument" if most == 1 else "arguments"
        raise TypeError(f"{where} takes {takes} positional {noun} but {len(args) + 1} were given")
    assign = object.__setattr__ if frozen else setattr
    pending = dict(kwargs)
    for i, f in enumerate(all_fields):
        if i < len(args):
            if f.name in pending:
                raise TypeError(f"{where} got multiple values for argument {f.name!r}")
            value = args[i]
        elif f.name in pending:
            value = pending.pop(f.name)
            if f.default_factory is not _MISSING and value is _MISSING:
                value = f.default_factory()
        elif f.default is not _MISSING:
            value = f.default
        elif f.default_factory is not _MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{where} missing 1 required positional argument: {f.name!r}")
        assign(self, f.name, value)
    if pending:
        raise TypeError(f"{where} got an unexpected keyword argument {next(iter(pending))!r}")
    if hasattr(cls, "__post_init__"):
        self.__post_init__()


def _plain_fields(cls: type, all_fields: tuple[Field, ...]) -> bool:
    """Whether every field of ``cls`` lives in the instance dict: no ``__slots__`` and no
    data descriptor (a property, a slot) of the same name on the class."""
    for klass in cls.__mro__:
        if klass is not object and "__slots__" in klass.__dict__:
            return False
    for f in all_fields:
        for klass in cls.__mro__:
            if f.name in klass.__dict__:
                if hasattr(type(klass.__dict__[f.name]), "__set__"):
                    return False
                break
    return True


def _compile_init(cls: type, all_fields: tuple[Field, ...], frozen: bool) -> Any:
    """The ``__init__`` of a record class: its exact signature, defaults and factories."""
    params: list[str] = []
    body: list[str] = []
    namespace: dict[str, Any] = {"__MISSING": _MISSING, "__set": object.__setattr__}
    direct = _plain_fields(cls, all_fields)
    for f in all_fields:
        if f.default is not _MISSING:
            namespace[f"__d_{f.name}"] = f.default
            params.append(f"{f.name}=__d_{f.name}")
            value = f.name
        elif f.default_factory is not _MISSING:
            namespace[f"__f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=__MISSING")
            value = f"__f_{f.name}() if {f.name} is __MISSING else {f.name}"
        else:
            params.append(f.name)
            value = f.name
        if frozen and direct:
            body.append(f"    __dict[{f.name!r}] = {value}")
        elif frozen:
            body.append(f"    __set(self, {f.name!r}, {value})")
        else:
            body.append(f"    self.{f.name} = {value}")
    if frozen and direct and body:
        # a frozen record's fields go straight into its instance dict: what
        # object.__setattr__ does for a plain attribute, without a call per field
        body.insert(0, "    __dict = self.__dict__")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    exec(source, namespace)  # generated from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _build(cls: type[T], frozen: bool) -> type[T]:
    fields_by_name: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            fields_by_name[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - no inspect here
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, Field):
            f = value._copy(name)
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(value)
            f.name = name
        fields_by_name[name] = f
    all_fields = tuple(fields_by_name.values())

    seen_default = False
    for f in all_fields:
        if f.default is not _MISSING or f.default_factory is not _MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(
                f"{cls.__name__}: field {f.name!r} without a default follows one with a default"
            )

    made = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # The first instances bind their arguments here; the compiled __init__ (exact
        # signature, ~0.3 ms to compile) replaces this one once the class proves to be made
        # often. Most record classes are made a few times per run (a tracker's start() and
        # stop() make a dozen kinds), and compiling each would cost more than binding them.
        nonlocal made
        made += 1
        if made <= cls.__dict__.get("__record_compile_after__", COMPILE_AFTER):
            _bind(cls, all_fields, frozen, self, args, kwargs)
            return
        init = _compile_init(cls, all_fields, frozen)
        if cls.__dict__.get("__init__") is __init__:
            setattr(cls, "__init__", init)  # noqa: B010
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__record_fields__", all_fields)  # noqa: B010 - a class attribute
    setattr(cls, "__match_args__", tuple(f.name for f in all_fields))  # noqa: B010
    setattr(cls, "__init__", __init__)  # noqa: B010
    if "__repr__" not in cls.__dict__:
        setattr(cls, "__repr__", _record_repr)  # noqa: B010
    if "__eq__" not in cls.__dict__:
        setattr(cls, "__eq__", _record_eq)  # noqa: B010
        setattr(cls, "__hash__", _record_hash if frozen else None)  # noqa: B010
    if frozen:
        setattr(cls, "__setattr__", _frozen_setattr)  # noqa: B010
        setattr(cls, "__delattr__", _frozen_delattr)  # noqa: B010
    return cls


def made_often(cls: type[T]) -> type[T]:
    """Mark a record class (decorate above ``@record``) as made on every sampler tick: its
    ``__init__`` is compiled at its first instance (in ``start()``), not at its fifth (in the
    sampler thread, a one-time cost inside the loop the sampler shares the CPU with)."""
    if not hasattr(cls, "__record_fields__"):
        raise TypeError(f"{cls.__name__} is not a record class; put @made_often above @record")
    setattr(cls, "__record_compile_after__", 0)  # noqa: B010 - a class attribute
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen record (like ``@dataclass(frozen=True)``)."""
    return _build(cls, frozen=True)


@dataclass_transform(field_specifiers=(field, Field))
def mutable_record(cls: type[T]) -> type[T]:
    """Make ``cls`` a mutable record (like ``@dataclass``; unhashable)."""
    return _build(cls, frozen=False)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order."""
    found: tuple[Field, ...] | None = getattr(obj, "__record_fields__", None)
    if found is None:
        raise TypeError(f"{obj!r} is not a record")
    return found


def _convert(value: Any) -> Any:
    if hasattr(type(value), "__record_fields__"):
        return {f.name: _convert(getattr(value, f.name)) for f in value.__record_fields__}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(_convert(v) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(_convert(v) for v in value)
    if isinstance(value, dict):
        return {k: _convert(v) for k, v in value.items()}
    return value


def asdict(obj: Any) -> dict[str, Any]:
    """A record as a dict, records inside it converted too (like :func:`dataclasses.asdict`)."""
    fields(obj)
    result: dict[str, Any] = _convert(obj)
    return result


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes`` applied."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


class Protocol(metaclass=ABCMeta):  # noqa: B024 - a structural base, nothing abstract
    """Run-time stand-in for :class:`typing.Protocol` (type checkers see the real one)."""

    __slots__ = ()


def _protocol_members(cls: type) -> tuple[str, ...]:
    names: set[str] = set()
    for base in cls.__mro__:
        if base is Protocol or base is object:
            continue
        names.update(n for n in base.__dict__ if not n.startswith("_"))
        annotations = base.__dict__.get("__annotations__", {})  # noqa: RUF063 - no inspect here
        names.update(n for n in annotations if not n.startswith("_"))
    return tuple(sorted(names))


def runtime_checkable(cls: type[T]) -> type[T]:
    """Let ``isinstance(obj, cls)`` check that ``obj`` has every public member of ``cls``."""
    members = _protocol_members(cls)

    def hook(_cls: type, candidate: type) -> Any:
        if all(any(name in base.__dict__ for base in candidate.__mro__) for name in members):
            return True
        return NotImplemented

    cls.__subclasshook__ = classmethod(hook)  # type: ignore[assignment, method-assign]
    return cls


class CacheInfo:
    """What :func:`cache` holds: ``hits``, ``misses`` and ``currsize`` (entries)."""

    __slots__ = ("currsize", "hits", "misses")

    def __init__(self, hits: int, misses: int, currsize: int) -> None:
        self.hits, self.misses, self.currsize = hits, misses, currsize

    def __repr__(self) -> str:
        return f"CacheInfo(hits={self.hits}, misses={self.misses}, currsize={self.currsize})"


class _Cached:
    """A function whose results are kept per positional-argument tuple (thread-safe enough:
    two threads may both compute a missing entry, and one result is kept)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "cached")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__
        self._results: dict[Any, Any] = {}
        self._hits = self._misses = 0

    def __call__(self, *args: Any) -> Any:
        try:
            result = self._results[args]
        except KeyError:
            self._misses += 1
            result = self._results.setdefault(args, self.__wrapped__(*args))
        else:
            self._hits += 1
        return result

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._results))

    def cache_clear(self) -> None:
        self._results.clear()
        self._hits = self._misses = 0


if not TYPE_CHECKING:

    def cache(fn):
        """Keep ``fn``'s result per positional-argument tuple (like :func:`functools.cache`)."""
        return _Cached(fn)
