"""docs/cli.md documents every command and is up to date with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
