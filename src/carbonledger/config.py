"""Settings and their precedence.

arguments > environment (``CARBONLEDGER_*``) > project file (``carbonledger.toml`` or
``[tool.carbonledger]`` in ``pyproject.toml``, searched from the working directory upwards)
> user config (``$XDG_CONFIG_HOME/carbonledger/config.toml``) > defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carbonledger.errors import InputError

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


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None


def _section(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            known = ", ".join(sorted(KEYS))
            raise InputError(f"{path}: unknown setting {key!r}; known settings: {known}")
        out[key] = _coerce(key, value, str(path))
    return out


def project_config_file(start: Path | None = None) -> Path | None:
    """The nearest ``carbonledger.toml`` or ``pyproject.toml`` with a ``[tool.carbonledger]``
    table, from ``start`` (default: the working directory) upwards; None when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "carbonledger.toml"
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "carbonledger" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def user_config_file(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/carbonledger/config.toml`` (default ``~/.config``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "carbonledger" / "config.toml"


def load_settings(
    arguments: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
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
    if user.is_file():
        merged.update(_section(_read_toml(user), user))
    project = project_config_file(cwd)
    if project is not None:
        data = _read_toml(project)
        table = (
            data.get("tool", {}).get("carbonledger", {})
            if project.name == "pyproject.toml"
            else data
        )
        merged.update(_section(table, project))
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
