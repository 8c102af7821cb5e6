"""The README's Python examples run as written; its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("CARBONLEDGER_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)


def test_readme_has_examples() -> None:
    assert len(PY_BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(PY_BLOCKS)))
def test_readme_example_runs(
    index: int, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = PY_BLOCKS[index]
    exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "each example prints something"


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```console", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_readme_commands_exist() -> None:
    from typer.main import get_command

    from carbonledger.cli.main import build_app

    names = set(get_command(build_app()).commands)  # type: ignore[attr-defined,unused-ignore]
    used = set(re.findall(r"^carbonledger ([a-z]+)", README, flags=re.M))
    assert used, "the README shows commands"
    assert used <= names, f"README shows commands that do not exist: {sorted(used - names)}"
