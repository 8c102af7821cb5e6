"""Settings and their precedence.

arguments > environment (``CARBONLEDGER_*``) > project file (``carbonledger.toml`` or
``[tool.carbonledger]`` in ``pyproject.toml``, searched from the working directory upwards)
> user config (``$XDG_CONFIG_HOME/carbonledger/config.toml``) > defaults.

``cpu_watts`` and ``ram_watts`` (environment ``CARBONLEDGER_CPU_WATTS`` /
``CARBONLEDGER_RAM_WATTS``) are the user's own figures for the CPU's power at full load and
the power of the whole installed memory, in watts: CodeCarbon's ``force_cpu_power`` and
``force_ram_power``. They replace the CPU and RAM models when no hardware counter measures
those components (see docs/sensors-cpu.md).

``wue_l_per_kwh`` (``CARBONLEDGER_WUE_L_PER_KWH``) is the data centre's water usage
effectiveness in litres per kWh of IT energy; ``price_per_kwh`` and ``currency``
(``CARBONLEDGER_PRICE_PER_KWH``, ``CARBONLEDGER_CURRENCY``) the electricity's price and its
ISO 4217 code; ``prices`` a price per zone, a TOML table (``prices = {FR = 0.21, "US-CA" =
0.30}``) or in the environment ``CARBONLEDGER_PRICES="FR=0.21,US-CA=0.30"``.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from carbonledger._dirs import config_dir
from carbonledger.errors import InputError

__all__ = ["KEYS", "NON_NEGATIVE_KEYS", "POSITIVE_KEYS", "load_settings", "setting_origin"]

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
    "cpu_watts": float,
    "ram_watts": float,
    "progress_s": float,
    "wue_l_per_kwh": float,
    "price_per_kwh": float,
    "currency": str,
    "prices": dict,
}

#: settings that must be positive, finite numbers (watts)
POSITIVE_KEYS = frozenset({"cpu_watts", "ram_watts"})
#: settings that must be finite numbers >= 0 (litres per kWh, a price per kWh)
NON_NEGATIVE_KEYS = frozenset({"wue_l_per_kwh", "price_per_kwh"})
#: an ISO 4217 currency code
_CURRENCY = re.compile(r"[A-Z]{3}")


_KIND_WORDS = {str: "string", float: "number", bool: "boolean (true or false)"}


def _env_name(key: str) -> str:
    return "CARBONLEDGER_" + key.upper()


def _prices(value: Any, origin: str) -> dict[str, float]:
    """A price per zone: a mapping, or ``"FR=0.21,US-CA=0.30"`` (zone codes upper-cased)."""
    if isinstance(value, str):
        pairs: list[tuple[str, Any]] = []
        for part in value.split(","):
            if not part.strip():
                continue
            zone, sep, price = part.partition("=")
            if not sep:
                raise InputError(
                    f"{origin}: setting 'prices' must be ZONE=PRICE pairs separated by commas "
                    f"(FR=0.21,US-CA=0.30), got {part.strip()!r}"
                )
            pairs.append((zone.strip(), price.strip()))
    elif isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        raise InputError(
            f"{origin}: setting 'prices' must be a table of zone = price per kWh, got {value!r}"
        )
    out: dict[str, float] = {}
    for zone, price in pairs:
        try:
            number = float(price) if not isinstance(price, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not zone or not (math.isfinite(number) and number >= 0):
            raise InputError(
                f"{origin}: setting 'prices': {zone or '(no zone)'} must be a price per kWh "
                f"(a number >= 0), got {price!r}"
            )
        out[zone.upper()] = number
    return out


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = KEYS[key]
    if kind is dict:
        return _prices(value, origin)
    if key == "currency":
        code = str(value).strip().upper()
        if not _CURRENCY.fullmatch(code):
            raise InputError(
                f"{origin}: setting 'currency' must be an ISO 4217 code of three letters "
                f"(EUR, USD, GBP...), got {value!r}"
            )
        return code
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
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value)
        elif isinstance(value, str):
            return value
        else:
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            f"{origin}: setting {key!r} must be a {_KIND_WORDS[kind]}, got {value!r:.60}"
        ) from None
    if key in POSITIVE_KEYS:
        from carbonledger import _inputs

        try:
            return _inputs.watts(number, f"{origin}: setting {key!r}")
        except InputError as exc:
            raise InputError(f"{exc}, or leave it unset to use the model") from None
    if key in NON_NEGATIVE_KEYS and not (math.isfinite(number) and number >= 0):
        unit = "litres per kWh" if key == "wue_l_per_kwh" else "a price per kWh"
        raise InputError(f"{origin}: setting {key!r} must be a number >= 0 ({unit}), got {value!r}")
    if not math.isfinite(number):
        raise InputError(f"{origin}: setting {key!r} must be a finite number, got {value!r}")
    return number


#: the largest config file read (bytes)
CONFIG_MAX_BYTES = 1 << 20


def _read_bytes(path: str) -> bytes:
    from carbonledger._files import read_input

    return read_input(path, "config file", max_bytes=CONFIG_MAX_BYTES)


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
    except RecursionError:
        raise InputError(f"config file {path} is nested too deeply to be a config") from None


def _read_toml(path: str) -> dict[str, Any]:
    return _parse_toml(_read_bytes(path), path)


def _section(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: [tool.carbonledger] must be a table of settings")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            known = ", ".join(sorted(KEYS))
            raise InputError(f"{path}: unknown setting {key!r}; known settings: {known}")
        out[key] = _coerce(key, value, str(path))
    return out


def _project_config(start: str | os.PathLike[str] | None) -> tuple[str, dict[str, Any]] | None:
    """The nearest ``carbonledger.toml``, or ``pyproject.toml`` with a ``[tool.carbonledger]``
    table, from ``start`` (default: the working directory) upwards, and its settings table.

    A ``pyproject.toml`` that does not mention carbonledger at all is not parsed.
    """
    folder = os.path.realpath(os.fspath(start) if start is not None else os.getcwd())
    while True:
        own = os.path.join(folder, "carbonledger.toml")
        if os.path.isfile(own):
            return own, _read_toml(own)
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject):
            raw = _read_bytes(pyproject)
            if b"carbonledger" in raw:
                tool = _parse_toml(raw, pyproject).get("tool", {})
                if isinstance(tool, dict) and "carbonledger" in tool:
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
    return os.path.join(config_dir(env), "config.toml")


def setting_origin(
    key: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """Where the value :func:`load_settings` gives ``key`` comes from, in words
    (``"argument"``, ``"environment CARBONLEDGER_PUE"``, ``"config file /path"``), or ""
    when no source gives it. The same precedence as :func:`load_settings`."""
    env = os.environ if env is None else env
    if (arguments or {}).get(key) is not None:
        return "argument"
    if env.get(_env_name(key)) not in (None, ""):
        return f"environment {_env_name(key)}"
    project = _project_config(cwd)
    if project is not None and key in project[1]:
        return f"config file {project[0]}"
    user = user_config_file(env)
    if os.path.isfile(user) and key in _read_toml(user):
        return f"config file {user}"
    return ""


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
