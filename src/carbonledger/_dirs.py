"""The per-user folders of carbonledger: configuration, data, cache, and the spool.

Ground layer: the standard library only. Each folder follows the XDG base directory variables
(``$XDG_CONFIG_HOME``, ``$XDG_DATA_HOME``, ``$XDG_CACHE_HOME``; an empty one counts as unset)
with the usual defaults under the home folder, plus ``carbonledger``. Every function takes the
environment to read (default ``os.environ``) and creates nothing.

=========  ==========================================  ====================================
folder     where                                       holds
=========  ==========================================  ====================================
config     ``$XDG_CONFIG_HOME/carbonledger``            config.toml, signing key, trusted
           (``~/.config/carbonledger``)                 keys, the eco2AI file key
data       ``$XDG_DATA_HOME/carbonledger``              the ledger, the spool
           (``~/.local/share/carbonledger``)
cache      ``$XDG_CACHE_HOME/carbonledger``             CPU TDP lookups, intensity caches
           (``~/.cache/carbonledger``)
spool      ``$CARBONLEDGER_SPOOL_DIR``, else            journals of runs whose ledger failed
           ``<data>/spool``
=========  ==========================================  ====================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["APP", "SPOOL_ENV_VAR", "cache_dir", "config_dir", "data_dir", "spool_dir"]

#: the folder name under each base folder
APP = "carbonledger"

#: environment variable naming the spool folder
SPOOL_ENV_VAR = "CARBONLEDGER_SPOOL_DIR"


def _base(env: Mapping[str, str] | None, var: str, *default: str) -> str:
    env = os.environ if env is None else env
    return env.get(var) or os.path.join(os.path.expanduser("~"), *default)


def config_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/carbonledger`` (``~/.config/carbonledger`` when unset)."""
    return os.path.join(_base(env, "XDG_CONFIG_HOME", ".config"), APP)


def data_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_DATA_HOME/carbonledger`` (``~/.local/share/carbonledger`` when unset)."""
    return os.path.join(_base(env, "XDG_DATA_HOME", ".local", "share"), APP)


def cache_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CACHE_HOME/carbonledger`` (``~/.cache/carbonledger`` when unset)."""
    return os.path.join(_base(env, "XDG_CACHE_HOME", ".cache"), APP)


def spool_dir(env: Mapping[str, str] | None = None) -> str:
    """``$CARBONLEDGER_SPOOL_DIR``, else ``<data dir>/spool``."""
    env = os.environ if env is None else env
    return env.get(SPOOL_ENV_VAR) or os.path.join(data_dir(env), "spool")
