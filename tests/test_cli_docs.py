"""docs/cli.md documents every command and is up to date with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == expected, "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py"
    for cmd in (
        "run",
        "doctor",
        "monitor",
        "intensity",
        "estimate",
        "runs",
        "show",
        "verify",
        "export",
    ):
        assert f"## `carbonledger {cmd}`" in current


def _every_command(group: object, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        out.append((prefix + name, cmd))
        out.extend(_every_command(cmd, f"{prefix}{name} "))
    return out


def test_help_texts_have_no_hard_line_breaks_inside_a_paragraph() -> None:
    """A docstring wrapped at the source's width would break ``--help`` mid-sentence."""
    from typer.main import get_command

    from carbonledger.cli.main import build_app

    commands = _every_command(get_command(build_app()))
    assert len(commands) > 15
    broken = [
        name
        for name, cmd in commands
        if any("\n" in p for p in str(getattr(cmd, "help", "") or "").split("\n\n"))
    ]
    assert broken == []


def test_top_level_help_lists_each_command_on_one_line_when_it_fits() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "carbonledger", "--help"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    ).stdout  # fmt: skip
    verify = next(line for line in out.splitlines() if "│ verify" in line)
    assert "1 naming each problem. Prints the chain head to publish." in verify


def test_every_command_documents_its_bad_input() -> None:
    from typer.main import get_command

    from carbonledger.cli._bad_input import BAD_INPUT
    from carbonledger.cli.main import build_app

    names = {name for name, _ in _every_command(get_command(build_app()))}
    assert names == set(BAD_INPUT), "docs/cli.md needs a Bad input section for each command"
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current.count("Bad input (exit 2, one line on stderr):") == len(names)


def test_bad_input_sections_are_what_the_commands_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each documented example exits 2 with ONE line on stderr holding the documented
    answer, and writes nothing."""
    import os

    from carbonledger.cli._bad_input import BAD_INPUT
    from carbonledger.cli.main import main

    monkeypatch.chdir(tmp_path)
    for examples in BAD_INPUT.values():
        for args, answer in examples:
            code = main(list(args))
            _out, err = capsys.readouterr()
            lines = err.strip().splitlines()
            assert code == 2, (args, code, err)
            assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
            assert answer in lines[0], (args, lines[0])
    assert os.listdir(tmp_path) == []
