"""Project settings in pyproject.toml: every spelling of the table is read; a file that only
names carbonledger elsewhere (its dependencies) is not even parsed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from carbonledger.config import load_settings, project_config_file
from carbonledger.errors import InputError

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


def test_a_dependency_on_carbonledger_is_not_parsed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["carbonledger[postgres]>=0.1"]\n'
        '[project.optional-dependencies]\nenergy = ["carbonledger"]\n'
    )
    code = (
        "import sys\nfrom carbonledger.config import load_settings\n"
        "print(load_settings(env={}), 'tomllib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["{}", "False"]
