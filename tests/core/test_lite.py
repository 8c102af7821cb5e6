"""carbonledger._lite: records behave like frozen dataclasses; the Protocol stand-in checks."""

from __future__ import annotations

import pickle

import pytest

from carbonledger._lite import (
    FrozenInstanceError,
    Protocol,
    asdict,
    field,
    fields,
    mutable_record,
    record,
    replace,
    runtime_checkable,
)


@record
class Point:
    """A test record."""

    x: float
    y: float = 0.0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", repr=False, compare=False)


@record
class Point3(Point):
    z: float = 1.0


@record
class Line:
    a: Point
    b: Point
    points: tuple[Point, ...] = ()


@record
class Pair:
    n: int
    s: str


@mutable_record
class Counter:
    n: int = 0
    seen: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seen.append(self.n)


def test_init_defaults_and_factories() -> None:
    p = Point(1.0)
    assert (p.x, p.y, p.tags, p.note) == (1.0, 0.0, [], "")
    q = Point(1.0)
    assert p.tags is not q.tags  # a fresh list each time
    assert Point(x=2.0, y=3.0, tags=["a"]).tags == ["a"]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1.0, unknown=2)  # type: ignore[call-arg]


def test_frozen() -> None:
    p = Point(1.0)
    with pytest.raises(FrozenInstanceError):
        p.x = 2.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.x  # type: ignore[misc]
    assert p.x == 1.0


def test_eq_hash_repr() -> None:
    assert Point(1.0, 2.0) == Point(1.0, 2.0)
    assert Point(1.0, 2.0) != Point(1.0, 3.0)
    assert Point(1.0, note="a") == Point(1.0, note="b")  # compare=False
    assert Point(1.0) != Point3(1.0)  # a different class is never equal
    assert hash(Pair(1, "a")) == hash(Pair(1, "a"))
    assert {Pair(1, "a"), Pair(1, "a"), Pair(2, "a")} == {Pair(1, "a"), Pair(2, "a")}
    with pytest.raises(TypeError, match="unhashable"):  # a list field, as with dataclasses
        hash(Point(1.0))
    assert repr(Point(1.0, note="hidden")) == "Point(x=1.0, y=0.0, tags=[])"


def test_inheritance_appends_fields() -> None:
    p = Point3(1.0, 2.0, [], "", 3.0)
    assert [f.name for f in fields(p)] == ["x", "y", "tags", "note", "z"]
    assert p.z == 3.0 and Point3.__match_args__ == ("x", "y", "tags", "note", "z")  # type: ignore[attr-defined]


def test_asdict_replace_fields() -> None:
    line = Line(Point(1.0), Point(2.0, tags=["t"]), points=(Point(3.0),))
    assert asdict(line) == {
        "a": {"x": 1.0, "y": 0.0, "tags": [], "note": ""},
        "b": {"x": 2.0, "y": 0.0, "tags": ["t"], "note": ""},
        "points": ({"x": 3.0, "y": 0.0, "tags": [], "note": ""},),
    }
    moved = replace(line, a=Point(9.0))
    assert moved.a.x == 9.0 and moved.b == line.b and line.a.x == 1.0
    with pytest.raises(TypeError, match="not a record"):
        fields(object())
    with pytest.raises(TypeError):
        replace(line, nope=1)


def test_mutable_record_and_post_init() -> None:
    c = Counter(3)
    assert c.seen == [3]
    c.n = 4
    assert c.n == 4
    with pytest.raises(TypeError):
        hash(c)


def test_pickle_round_trip() -> None:
    p = Point(1.0, 2.0, ["a"], "n")
    assert pickle.loads(pickle.dumps(p)) == p


def test_field_order_and_options_are_checked() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        @record
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="both"):
        field(default=1, default_factory=list)


def test_classvar_is_not_a_field() -> None:
    from typing import ClassVar

    @record
    class WithClassVar:
        limit: ClassVar[int] = 3
        a: int = 0

    assert [f.name for f in fields(WithClassVar)] == ["a"]
    assert WithClassVar.limit == 3


def test_init_is_compiled_once_a_class_is_made_often() -> None:
    from carbonledger import _lite

    @record
    class Base:
        a: int
        b: int = 2

    @record
    class Child(Base):
        c: int = 3

    placeholder = Base.__dict__["__init__"]
    for _ in range(_lite.COMPILE_AFTER + 1):
        assert Child(1).c == 3 and Child(1, 5, 6).b == 5  # the child's own init
    assert Child.__dict__["__init__"] is not Base.__dict__["__init__"]
    assert Base.__dict__["__init__"] is placeholder  # the parent's is not compiled yet
    bound = [Base(1) for _ in range(_lite.COMPILE_AFTER)]
    assert Base.__dict__["__init__"] is placeholder
    assert Base(1) == bound[0] == Base(1, 2)  # made by the compiled init
    assert Base.__dict__["__init__"] is not placeholder
    with pytest.raises(TypeError):
        Base(1, 2, 3)  # type: ignore[call-arg]

    class Plain(Base):  # a plain subclass uses (and compiles) the record's init
        pass

    assert Plain(7).a == 7


CALLS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    ((1.0,), {}),
    ((1.0, 2.0), {}),
    ((), {"x": 1.0, "tags": ["t"]}),
    ((1.0,), {"note": "n", "y": 4.0}),
    ((), {}),  # x missing
    ((1.0, 2.0, [], "n", "extra"), {}),  # too many
    ((1.0,), {"x": 2.0}),  # x twice
    ((1.0,), {"nope": 1}),  # unknown
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
def test_bound_and_compiled_inits_agree(call: tuple[tuple[object, ...], dict[str, object]]) -> None:
    """The first instances bind their arguments without the compiled __init__: same values,
    same errors (the messages Python gives the compiled one)."""
    from carbonledger import _lite

    def make() -> type:
        @record
        class Point:
            x: float
            y: float = 0.0
            tags: list[str] = field(default_factory=list)
            note: str = field(default="", repr=False)

            def __post_init__(self) -> None:
                if self.x < 0:
                    raise ValueError("x must be >= 0")

        return Point

    args, kwargs = call
    outcomes = []
    for compiled in (False, True):
        cls = make()
        if compiled:
            for _ in range(_lite.COMPILE_AFTER):
                cls(0.0)
        try:
            made = cls(*args, **kwargs)
        except TypeError as exc:
            outcomes.append(("TypeError", str(exc).replace(".<locals>.make.<locals>", "")))
        else:
            outcomes.append(("ok", repr(made), made.note, made.tags))
            if not made.tags:
                assert cls(1.0).tags is not made.tags  # a fresh factory value each time
    assert outcomes[0] == outcomes[1]
    with pytest.raises(ValueError, match="x must be"):
        make()(-1.0)  # __post_init__ runs on the bound path too


def test_runtime_checkable_protocol() -> None:
    @runtime_checkable
    class Closeable(Protocol):
        def close(self) -> None: ...

        def read(self) -> int: ...

    class Both:
        def close(self) -> None:
            pass

        def read(self) -> int:
            return 1

    class OnlyClose:
        def close(self) -> None:
            pass

    assert isinstance(Both(), Closeable)
    assert not isinstance(OnlyClose(), Closeable)
    assert not isinstance(3, Closeable)


def test_cache_keeps_one_result_per_argument_tuple() -> None:
    from carbonledger._lite import cache

    calls: list[tuple[int, ...]] = []

    @cache
    def area(w: int, h: int = 1) -> int:
        """Width x height."""
        calls.append((w, h))
        return w * h

    assert area(2, 3) == 6 and area(2, 3) == 6 and area(3) == 3
    assert calls == [(2, 3), (3, 1)]
    info = area.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 2, 2)
    assert area.__doc__ == "Width x height." and area.__name__ == "area"
    area.cache_clear()
    assert area.cache_info().currsize == 0
    assert area(2, 3) == 6 and calls[-1] == (2, 3)


def test_cache_does_not_keep_failures() -> None:
    from carbonledger._lite import cache

    attempts = []

    @cache
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("first read failed")
        return "ok"

    with pytest.raises(OSError):
        flaky()
    assert flaky() == "ok" and flaky() == "ok" and len(attempts) == 2


def test_compiled_frozen_init_writes_plain_fields_into_the_instance_dict() -> None:
    """A frozen record's compiled __init__ fills the instance dict directly, except where a
    field is a data descriptor on the class: then object.__setattr__, which honours it, as
    the bound path does."""
    from carbonledger import _lite

    @record
    class Plain:
        a: int
        b: str = "x"

    for _ in range(_lite.COMPILE_AFTER + 2):
        made = Plain(1)
    assert vars(made) == {"a": 1, "b": "x"}
    with pytest.raises(_lite.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]

    seen: list[object] = []

    class Spy:
        def __get__(self, obj: object, owner: type | None = None) -> object:
            return self if obj is None else obj.__dict__.get("_a")

        def __set__(self, obj: object, value: object) -> None:
            seen.append(value)
            obj.__dict__["_a"] = value

    class Base:
        a = Spy()

    @record
    class Described(Base):
        a: int  # type: ignore[assignment]

    for i in range(_lite.COMPILE_AFTER + 2):
        assert Described(i).a == i
    assert seen == list(range(_lite.COMPILE_AFTER + 2))  # bound and compiled alike

    class Slotted:
        __slots__ = ("a",)

    (field_a,) = _lite.fields(Described)
    assert not _lite._plain_fields(Slotted, (field_a,))
    assert _lite._plain_fields(Plain, _lite.fields(Plain))


def test_made_often_compiles_at_the_first_instance() -> None:
    from carbonledger import _lite

    @_lite.made_often
    @record
    class Hot:
        a: int
        b: int = 0

    placeholder = Hot.__dict__["__init__"]
    assert Hot(1, b=2) == Hot(1, 2)
    assert Hot.__dict__["__init__"] is not placeholder  # compiled by the first instance

    @record
    class Cold:
        a: int

    placeholder = Cold.__dict__["__init__"]
    Cold(1)
    assert Cold.__dict__["__init__"] is placeholder

    class NotARecord:
        pass

    with pytest.raises(TypeError, match="not a record class"):
        _lite.made_often(NotARecord)


def test_the_sampler_tick_records_are_compiled_at_start() -> None:
    """Reading, Sample and ProcStat are made on every tick: their __init__ is compiled at
    their first instance, in start(), not in the sampler thread during the user's loop."""
    from carbonledger._lite import COMPILE_AFTER
    from carbonledger.models import Reading, Sample
    from carbonledger.sensors._proc import ProcStat

    for cls in (Reading, Sample, ProcStat):
        assert cls.__dict__["__record_compile_after__"] == 0 < COMPILE_AFTER
