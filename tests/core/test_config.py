"""Project settings in pyproject.toml: every spelling of the table is read; a file that only
names carbonledger elsewhere (its dependencies) is not even parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.run.config import load_settings, project_config_file

SPELLINGS = {
    "table": '[tool.carbonledger]\ncountry = "DE"\n',
    "quoted table": '["tool" . "carbonledger"]\ncountry = "DE"\n',
    "dotted keys under [tool]": '[tool]\ncarbonledger.country = "DE"\n',
    "inline table under [tool]": '[tool]\ncarbonledger = { country = "DE" }\n',
    "inline root table": 'tool = { carbonledger = { country = "DE" } }\n',
    "dotted root keys": 'tool.carbonledger.country = "DE"\n',
}


@pytest.mark.parametrize("text", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_every_spelling_of_the_table_is_read(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text + '[project.urls]\nx = "y"\n')
    assert load_settings(env={}, cwd=tmp_path) == {"country": "DE"}
    assert project_config_file(tmp_path) == str(tmp_path / "pyproject.toml")


def test_found_from_a_subfolder_and_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.carbonledger]\npue = 'high'\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    with pytest.raises(InputError, match=r"pyproject\.toml.*pue"):
        load_settings(env={}, cwd=tmp_path / "src" / "pkg")
    (tmp_path / "pyproject.toml").write_text("[tool.carbonledger\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_settings(env={}, cwd=tmp_path)


def test_a_dependency_on_carbonledger_is_not_a_settings_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["carbonledger[postgres]>=0.1"]\n'
        '[project.optional-dependencies]\nenergy = ["carbonledger"]\n'
    )
    assert load_settings(env={}, cwd=tmp_path) == {}
    assert project_config_file(tmp_path) is None


def test_a_pyproject_that_does_not_name_us_is_not_parsed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("this is [ not TOML\n")  # never read as TOML
    assert load_settings(env={}, cwd=tmp_path) == {}


# --------------------------------------------------------------------------- user watts


def test_cpu_and_ram_watts_follow_the_precedence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "carbonledger").mkdir(parents=True)
    (home / "carbonledger" / "config.toml").write_text("cpu_watts = 10\nram_watts = 3\n")
    project = tmp_path / "project"
    project.mkdir()
    env = {"XDG_CONFIG_HOME": str(home)}
    assert load_settings(env=env, cwd=project) == {"cpu_watts": 10.0, "ram_watts": 3.0}
    (project / "carbonledger.toml").write_text("cpu_watts = 20\n")
    assert load_settings(env=env, cwd=project) == {"cpu_watts": 20.0, "ram_watts": 3.0}
    env["CARBONLEDGER_CPU_WATTS"] = "30"
    env["CARBONLEDGER_RAM_WATTS"] = "4.5"
    assert load_settings(env=env, cwd=project) == {"cpu_watts": 30.0, "ram_watts": 4.5}
    got = load_settings({"cpu_watts": 40, "ram_watts": None}, env=env, cwd=project)
    assert got == {"cpu_watts": 40.0, "ram_watts": 4.5}


@pytest.mark.parametrize("bad", ["0", "-5", "inf", "nan", "lots"])
def test_bad_watts_name_the_source_and_the_fix(tmp_path: Path, bad: str) -> None:
    env = {"CARBONLEDGER_CPU_WATTS": bad, "XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(InputError, match=r"CARBONLEDGER_CPU_WATTS.*cpu_watts") as err:
        load_settings(env=env, cwd=tmp_path)
    assert "watts" in str(err.value) or "float" in str(err.value)
    (tmp_path / "carbonledger.toml").write_text("ram_watts = -1\n")
    with pytest.raises(InputError, match=r"carbonledger\.toml.*ram_watts.*positive"):
        load_settings(env={"XDG_CONFIG_HOME": str(tmp_path)}, cwd=tmp_path)
    with pytest.raises(InputError, match="ram_watts"):
        load_settings({"ram_watts": True}, env={}, cwd=tmp_path)
