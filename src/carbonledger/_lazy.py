"""What every package face shares: its public names loaded on first use.

A face lists its names once in ``__all__`` and, for each name, the module that holds it; a
public submodule is imported when first asked for. ``import carbonledger.carbon`` thus reads
no table and loads no HTTP code until a name that needs them is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_face"]


def lazy_face(
    package: str,
    public: Sequence[str],
    names: Mapping[str, str] | None = None,
    submodules: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the face of ``package``.

    :param public: the face's ``__all__`` (what ``dir()`` shows)
    :param names: a public name -> the module that defines it
    :param submodules: public modules of the package, imported when first asked for
    :param aliases: a public name -> its name in its module, where they differ

    When a name is first used it is bound on the face, with every other name of the face
    that its module already holds: later uses cost nothing, and a module of the package
    named like one of the face's names (``carbon.equivalents``) cannot take that name's
    place.
    """
    table = dict(names or {})
    modules = frozenset(submodules)
    renamed = dict(aliases or {})

    def __getattr__(name: str) -> Any:
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        home = table.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = importlib.import_module(home)
        face = sys.modules[package]
        value = getattr(loaded, renamed.get(name, name))
        setattr(face, name, value)
        defined = vars(loaded)
        for other, where in table.items():  # its siblings that module holds already
            if where == home and renamed.get(other, other) in defined:
                setattr(face, other, defined[renamed.get(other, other)])
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
