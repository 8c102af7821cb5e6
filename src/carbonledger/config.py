"""Settings and their precedence.

arguments > environment (``CARBONLEDGER_*``) > project file (``carbonledger.toml`` or
``[tool.carbonledger]`` in ``pyproject.toml``, searched from the working directory upwards)
> user config (``$XDG_CONFIG_HOME/carbonledger/config.toml``) > defaults.
"""

from __future__ import annotations

import os
import sys

from carbonledger.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["KEYS", "load_settings"]

#: every setting, its type and its environment variable
KEYS: dict[str, type] = {
    "project": str,
    "experiment": str,
    "country": str,
    "region": str,
    "pue": float,
    "grid_g_per_kwh": float,
    "market_g_per_kwh": float,
    "interval_s": float,
    "scope": str,
    "ledger": str,
    "probe_cloud": bool,
    "ip_geolocation": bool,
    "gpu": bool,
}


def _env_name(key: str) -> str:
    return "CARBONLEDGER_" + key.upper()


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = KEYS[key]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{origin}: setting {key!r} must be a {kind.__name__}, got {value!r}"
        ) from None


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"cannot read config file {path}: {exc.strerror}") from None


def _parse_toml(raw: bytes, path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"config file {path} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None


def _read_toml(path: str) -> dict[str, Any]:
    return _parse_toml(_read_bytes(path), path)


def _section(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            known = ", ".join(sorted(KEYS))
            raise InputError(f"{path}: unknown setting {key!r}; known settings: {known}")
        out[key] = _coerce(key, value, str(path))
    return out


def _may_configure_carbonledger(raw: bytes) -> bool:
    """Whether a ``pyproject.toml`` may hold a ``tool.carbonledger`` table, by its lines alone:
    most projects that name carbonledger do so in their dependencies, and parsing TOML costs
    a few milliseconds (and ``typing``) at every ``Tracker`` start. A false alarm only costs
    the parse; every TOML spelling of the table has a line that starts like one of these."""
    if b"carbonledger" not in raw:
        return False
    for line in raw.splitlines():
        key = line.strip().replace(b" ", b"").replace(b"\t", b"").replace(b'"', b"")
        key = key.replace(b"'", b"").lstrip(b"[")
        if key.startswith((b"tool.carbonledger", b"carbonledger=", b"carbonledger.")):
            return True
        if key.startswith(b"tool=") and b"carbonledger" in key:  # an inline root table
            return True
    return False


def _project_config(start: str | os.PathLike[str] | None) -> tuple[str, dict[str, Any]] | None:
    """The nearest ``carbonledger.toml``, or ``pyproject.toml`` with a ``[tool.carbonledger]``
    table, from ``start`` (default: the working directory) upwards, and its settings table.

    A ``pyproject.toml`` that does not mention carbonledger is not parsed (most are not ours).
    """
    folder = os.path.realpath(os.fspath(start) if start is not None else os.getcwd())
    while True:
        own = os.path.join(folder, "carbonledger.toml")
        if os.path.isfile(own):
            return own, _read_toml(own)
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject):
            raw = _read_bytes(pyproject)
            if _may_configure_carbonledger(raw):
                tool = _parse_toml(raw, pyproject).get("tool", {})
                if "carbonledger" in tool:
                    return pyproject, tool["carbonledger"]
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def project_config_file(start: str | os.PathLike[str] | None = None) -> str | None:
    """The path of the nearest project config file (see :func:`load_settings`), or None."""
    found = _project_config(start)
    return None if found is None else found[0]


def user_config_file(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/carbonledger/config.toml`` (default ``~/.config``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "carbonledger", "config.toml")


def load_settings(
    arguments: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    include_env: bool = True,
) -> dict[str, Any]:
    """Merge every source into one dict of the settings that were given anywhere.

    Keys absent from every source are absent from the result (the caller applies its
    defaults). ``arguments`` values of None count as not given. ``include_env=False``
    gives the config files alone (the environment still locates the user config).
    """
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    user = user_config_file(env)
    if os.path.isfile(user):
        merged.update(_section(_read_toml(user), user))
    project = _project_config(cwd)
    if project is not None:
        merged.update(_section(project[1], project[0]))
    for key in KEYS if include_env else ():
        raw = env.get(_env_name(key))
        if raw not in (None, ""):
            merged[key] = _coerce(key, raw, f"environment variable {_env_name(key)}")
    for key, value in (arguments or {}).items():
        if value is None:
            continue
        if key not in KEYS:
            raise InputError(f"unknown setting {key!r}")
        merged[key] = _coerce(key, value, "argument")
    return merged
