"""The per-user folders: XDG variables, their defaults under the home folder, the spool
override, and every caller asking the one module."""

from __future__ import annotations

import os

import pytest

from carbonledger._dirs import cache_dir, config_dir, data_dir, spool_dir


def test_xdg_variables_choose_the_folders() -> None:
    env = {"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d", "XDG_CACHE_HOME": "/k"}
    assert config_dir(env) == "/c/carbonledger"
    assert data_dir(env) == "/d/carbonledger"
    assert cache_dir(env) == "/k/carbonledger"
    assert spool_dir(env) == "/d/carbonledger/spool"


@pytest.mark.parametrize("env", [{}, {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": ""}])
def test_unset_or_empty_variables_give_the_defaults_under_home(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    home = os.fspath(tmp_path)
    monkeypatch.setenv("HOME", home)
    assert config_dir(env) == os.path.join(home, ".config", "carbonledger")
    assert data_dir(env) == os.path.join(home, ".local", "share", "carbonledger")
    assert cache_dir(env) == os.path.join(home, ".cache", "carbonledger")
    assert spool_dir(env) == os.path.join(home, ".local", "share", "carbonledger", "spool")


def test_the_spool_override_wins() -> None:
    env = {"CARBONLEDGER_SPOOL_DIR": "/var/spool/x", "XDG_DATA_HOME": "/d"}
    assert spool_dir(env) == "/var/spool/x"


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/from/env")
    assert cache_dir() == "/from/env/carbonledger"


def test_every_caller_uses_the_folders_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from carbonledger.compat._eco_file import default_key_file
    from carbonledger.ledger.keys import config_dir as keys_config_dir
    from carbonledger.ledger.paths import default_ledger_file
    from carbonledger.run.config import user_config_file
    from carbonledger.sensors.cpu.tdp import _tdp_cache_file

    env = {"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d", "XDG_CACHE_HOME": "/k"}
    assert user_config_file(env) == "/c/carbonledger/config.toml"
    assert keys_config_dir(env) == "/c/carbonledger"
    assert default_ledger_file(env) == "/d/carbonledger/ledger.sqlite"
    assert _tdp_cache_file(env) == "/k/carbonledger/cpu-tdp.json"
    assert default_key_file(env) == "/c/carbonledger/encode.key"
