"""Every command's every option and argument, given hostile values (hypothesis): exit 0, 1
(a failure, said in one line) or 2 (one line naming the option), never a traceback or a hang,
and nothing written on error. The commands run in this process, against the sandbox."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Sandbox

#: values no option expects: empty, non-finite, huge, negative, control characters, paths
#: of the wrong kind, URLs of other schemes, very long text
HOSTILE = (
    "",
    " ",
    "-",
    "--",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "1e300",
    "1e30",
    "-1",
    "0",
    "-0",
    "1e-300",
    "9223372036854775808",
    "99999999999999999999999999",
    "abc",
    "a\x00b",
    "\n",
    "\x1b[31mred",
    "\u00e9t\u00e9",
    "\U0001f600",
    "../../../../etc/passwd",
    "/etc/passwd",
    "/dev/zero",
    "/dev/null",
    "/dev/urandom",
    "/nonexistent/file",
    "/",
    ".",
    "~",
    "$HOME",
    "%s%n",
    "{}",
    "[]",
    '{"a": 1}',
    "mysql://x",
    "ftp://x",
    "file:///etc/passwd",
    "http://",
    "http://[::1",
    "https://example.invalid:99999/",
    ":memory:",
    "x" * 5000,
    "1h",
    "-1h",
    "1e9h",
    "0h",
    "1.5d",
    "true",
    "FR",
    "aws:eu-west-3",
    "A100",
    "7B",
    "1e15",
    "SHA256:abc",
    "0:0",
    "--json",
    "-h",
    "=",
    "a=b",
    "\\",
    "'",
    '"',
    "*",
    "..",
    "::",
)
#: sandbox files of the wrong kind for most options (set by the fixture)
WRONG_FILES = ("forecast.csv", "spec.yaml", "sacct.txt", "export.key", "runs.enc", "fifo",
               "folder", "data/ledger.sqlite", "binary.dat", "deep.json", "long.csv")  # fmt: skip

VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(WRONG_FILES).map(lambda name: f"@{name}"),
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _base(box: Sandbox) -> dict[str, list[str]]:
    """Arguments that make each command quick and self-contained; a fuzzed option or
    argument replaces its own."""
    run = box.run_ids[0]
    return {
        "compare": [run, box.run_ids[1]],
        "decrypt": [
            box.path("runs.enc"),
            "-o",
            "plain.jsonl",
            "--key-file",
            box.path("export.key"),
        ],
        "doctor": [],
        "estimate": [box.path("spec.yaml")],
        "export": ["--jsonl", "out.jsonl"],
        "import impact-framework": [box.path("impact-out.yaml"), "-l", "imported.sqlite"],
        "import slurm": [box.path("sacct.txt"), "-l", "imported.sqlite", "--grid-g-per-kwh", "1"],
        "intensity": ["FR"],
        "keys": ["--no-create"],
        "metric": [run, "loss", "0.3"],
        "migrate": [],
        "monitor": ["--no-ledger", "--duration", "0.05", "--interval", "0.05", "--quiet"],
        "regions": ["--kwh", "10"],
        "report": [run, "--json"],
        "run": ["--no-ledger"],
        "runs": [],
        # an engine that is not there: every scrape fails at once, the sidecar goes on
        "serving": [
            "--engine",
            "vllm",
            "--metrics-url",
            "http://127.0.0.1:9/metrics",
            "--no-ledger",
            "--duration",
            "0.2",
            "--interval",
            "0.1",
            "--quiet",
        ],
        "settle": [],
        "show": [run],
        "sync": [],
        "verify": [],
        "when": ["--duration", "1h", "--zone", "FR", "--timeout", "0.5"],
        "where": ["--kwh", "10"],
    }


#: examples per command (the commands that start measuring are slower: fewer)
EXAMPLES = {"monitor": 25, "doctor": 15, "run": 60, "serving": 25}
DEFAULT_EXAMPLES = 75
#: options whose good values make a command long: only values that are not good are given
LONG_WHEN_GOOD = {("monitor", "--duration"), ("monitor", "--interval"), ("when", "--timeout"),
                  ("run", "--start-within"), ("serving", "--duration"),
                  ("serving", "--interval")}  # fmt: skip
#: commands run by name only: serve (it serves until stopped)
SKIPPED = {"serve"}


def _commands() -> dict[str, Any]:
    from carbonledger.cli.main import _command

    out: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")
            elif f"{prefix}{name}" not in SKIPPED:
                out[f"{prefix}{name}"] = cmd

    walk(_command(), "")
    return out


COMMANDS = _commands()


def _resolve(value: str, box: Sandbox) -> str:
    return box.path(value[1:]) if value.startswith("@") and value[1:] in WRONG_FILES else value


def _is_good_number(value: str, low: float, high: float) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return low <= number <= high


def _arguments(
    name: str, base: list[str], params: list[Any], picks: list[tuple[Any, str]]
) -> list[str]:
    """``base`` with each picked parameter set to its value (an option replaces its own
    occurrence; an argument replaces the positional at its place)."""
    args = list(base)
    positionals = [p for p in params if p.param_type_name == "argument"]
    extra: list[str] = []
    for param, value in picks:
        if param.param_type_name == "argument":
            index = positionals.index(param)
            taken = [i for i, a in enumerate(args) if not a.startswith("-")]
            # the positionals of base come first in base (before any option)
            if index < len(taken) and taken[index] == index:
                args[index] = value
            else:
                args.insert(min(index, len(args)), value)
            continue
        flag = param.opts[0]
        for alias in (*param.opts, *param.secondary_opts):
            while alias in args:
                i = args.index(alias)
                del args[i : i + (1 if param.is_flag else 2)]
        if param.is_flag:
            extra.append(flag if value != "=" else f"{flag}=x")
        else:
            extra += [flag, value]
    if name == "run":
        return [*args, *extra, "--", "/nonexistent/command-for-the-fuzzer"]
    return [*args, *extra]


def _check(name: str) -> Callable[..., None]:
    cmd = COMMANDS[name]
    params = [p for p in cmd.params if p.name != "help"]

    @settings(
        max_examples=EXAMPLES.get(name, DEFAULT_EXAMPLES),
        deadline=5000,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(sandbox: Sandbox, data: st.DataObject) -> None:
        n = data.draw(st.integers(min_value=1, max_value=3), label="options")
        picks = []
        for _ in range(n):
            param = data.draw(st.sampled_from(params), label="parameter")
            value = _resolve(data.draw(VALUES, label="value"), sandbox)
            flag = param.opts[0] if param.param_type_name == "option" else ""
            if (name, flag) in LONG_WHEN_GOOD and _is_good_number(value.rstrip("hms"), 0, 3e9):
                value = "-" + value
            picks.append((param, value))
        args = [*name.split(), *_arguments(name, _base(sandbox)[name], params, picks)]
        codes = (0, 1, 2, 127) if name == "run" else (0, 1, 2)
        answer = sandbox.cli(args, kind="command-line option", codes=codes)
        if answer.code != 0:  # a failure or bad input: one line, and never "internal error"
            assert len(answer.err.strip().splitlines()) <= 1, answer.err
            assert "internal error" not in answer.err, answer.err

    return check


@pytest.fixture(scope="module", autouse=True)
def _wrong_files(sandbox: Sandbox) -> None:
    """Files of the wrong kind in the sandbox: a FIFO, a folder, binary and deep data."""
    if not os.path.exists(sandbox.path("fifo")):
        os.mkfifo(sandbox.path("fifo"))
    os.makedirs(sandbox.path("folder"), exist_ok=True)
    with open(sandbox.path("binary.dat"), "wb") as fh:
        fh.write(bytes(range(256)) * 8)
    with open(sandbox.path("deep.json"), "w") as fh:
        fh.write("[" * 100_000)
    with open(sandbox.path("long.csv"), "w") as fh:
        fh.write("timestamp,intensity_g_per_kwh\n" + "1" * 120_000 + ",1\n")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_every_command(sandbox: Sandbox, name: str) -> None:
    _check(name)(sandbox)
