"""Hostile input: a sandbox of user folders and files, and the contract every answer keeps.

The contract (:meth:`Sandbox.cli`): exit 0, or 2 with ONE line on stderr starting
``error:`` (or another code a test allows); never a traceback; done within :data:`LIMIT_S`
seconds (a watchdog interrupts a call that hangs); and on exit 2, or on exit 1 of a command
other than sync (which records what it can, then says what it kept), no file changed
(nothing written on error).
Every input tried is counted; ``pytest tests/robustness -q`` prints the count at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: the longest one command may take here (seconds)
LIMIT_S = 5.0

#: hostile inputs tried in this session, by kind
TRIED: dict[str, int] = {}


def count(kind: str, n: int = 1) -> None:
    """Count ``n`` hostile inputs of ``kind`` as tried."""
    TRIED[kind] = TRIED.get(kind, 0) + n


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    total = sum(TRIED.values())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(TRIED.items()))
    terminalreporter.write_line(
        f"hostile inputs tried: {total} ({kinds}); each passed the checks: no traceback, "
        "no hang, one-line error with exit 2, nothing written on error, no poisoned ledger"
    )


class Hang(BaseException):
    """A call ran past its limit (a BaseException: the command line's last-resort handler
    must not turn it into an error message)."""


@contextlib.contextmanager
def watchdog(limit_s: float = LIMIT_S) -> Iterator[None]:
    """Interrupt the block (with :class:`Hang`) when it runs past ``limit_s``."""

    def fire(signum: int, frame: object) -> None:
        raise Hang(f"still running after {limit_s:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Answer:
    args: list[str]
    code: int
    out: str
    err: str
    seconds: float


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` and a digest of its bytes. SQLite's shared-memory index is
    left out (it is not data), and an empty write-ahead log counts as none: a reader of a
    ledger in WAL mode makes both; data written shows in the log or in the file."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith("-shm") or not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                out[path] = "?"
                continue
            if data or not name.endswith("-wal"):
                out[path] = hashlib.sha1(data).hexdigest()
    return out


class _Streams:
    """stdout/stderr stand-ins with a binary buffer (``export --csv -`` writes bytes)."""

    def __init__(self) -> None:
        self.raw = io.BytesIO()
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8", errors="replace")

    def value(self) -> str:
        self.text.flush()
        return self.raw.getvalue().decode("utf-8", "replace")


class Sandbox:
    """User folders, a ledger with runs, and the files commands read, under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = {
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "CARBONLEDGER_LEDGER": str(root / "data" / "ledger.sqlite"),
            "COLUMNS": "120",
        }
        self.ledger = self.env["CARBONLEDGER_LEDGER"]
        self.run_ids: list[str] = []

    def path(self, name: str) -> str:
        return str(self.root / name)

    @contextlib.contextmanager
    def environment(self, extra: dict[str, str] | None = None) -> Iterator[None]:
        saved = dict(os.environ)
        cwd = os.getcwd()
        for name in list(os.environ):
            if name.startswith("CARBONLEDGER_"):
                del os.environ[name]
        os.environ.update(self.env)
        os.environ.update(extra or {})
        os.chdir(self.work)
        try:
            yield
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    def call(
        self, args: Sequence[str], env: dict[str, str] | None = None, stdin: bytes = b""
    ) -> Answer:
        """Run the command line in this process (no contract checked)."""
        from carbonledger.cli.main import main

        out, err = _Streams(), _Streams()
        fake_in = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        start = time.monotonic()
        with self.environment(env), watchdog():
            saved = sys.stdin, sys.stdout, sys.stderr
            sys.stdin, sys.stdout, sys.stderr = fake_in, out.text, err.text
            try:
                code = main(list(args))
            finally:
                sys.stdin, sys.stdout, sys.stderr = saved
        return Answer(list(args), code, out.value(), err.value(), time.monotonic() - start)

    def cli(
        self,
        args: Sequence[str],
        *,
        kind: str = "command line",
        env: dict[str, str] | None = None,
        codes: tuple[int, ...] = (0, 2),
        stdin: bytes = b"",
    ) -> Answer:
        """Run ``args`` and check the contract (see the module); count it as tried."""
        before = _snapshot(self.root)
        answer = self.call(args, env, stdin)
        count(kind)
        shown = f"carbonledger {' '.join(repr(a)[:80] for a in args)}"
        assert answer.code in codes, f"{shown}: exit {answer.code}\n{answer.err[-2000:]}"
        assert "Traceback" not in answer.err, f"{shown}: traceback\n{answer.err[-3000:]}"
        assert answer.seconds < LIMIT_S, f"{shown}: took {answer.seconds:.1f} s"
        if answer.code == 2:
            lines = answer.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), f"{shown}:\n{answer.err}"
        if answer.code in (1, 2) and args[0] != "sync":  # sync replays what it can, then 1
            after = _snapshot(self.root)
            changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
            assert not changed, f"{shown}: wrote {changed} on error"
        return answer


def make_ledger(path: str, run_ids: Sequence[str]) -> None:
    """A ledger holding finished runs ``run_ids``, recorded by the tracker with fake sensors
    (a measured CPU, an estimated RAM), each with two windows and a metric."""
    from carbonledger import Tracker
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    for i, run_id in enumerate(run_ids):
        clock = FakeClock(1000.0)
        start_s = 1_700_000_000.0 + 3600 * i
        sensors = [
            FakeSensor(SensorInfo("cpu", "cpu0", "fake-rapl", True, True, model="Fake"), 40.0,
                       clock),
            FakeSensor(SensorInfo("ram", "ram", "fake-model", False, True), 5.0, clock),
        ]  # fmt: skip
        t = Tracker(
            f"proj{i % 2}", "exp", run_id=run_id, country="FR", ledger=path, sensors=sensors,
            clock=clock, interval_s=3600.0, handle_signals=False, embodied=False,
            wall_clock=lambda c=clock, s=start_s: s + c(),  # type: ignore[misc]
            tags={"seed": str(i)}, probe_cloud=False,
        )  # fmt: skip
        t.start()
        for w in range(2):
            t.begin_window(f"epoch-{w}")
            clock.advance(30.0)
            t.end_window(f"epoch-{w}", metrics={"tokens": 100.0})
        t.log_metric("accuracy", 0.5 + i / 10)
        clock.advance(10.0)
        t.stop()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """The session's sandbox: a ledger of three runs, a forecast, a spec, sacct output, an
    export key and an encrypted export, a trusted public key."""
    box = Sandbox(tmp_path_factory.mktemp("hostile"))
    box.run_ids = ["aaaa1111run00001", "bbbb2222run00002", "cccc3333run00003"]
    with box.environment():
        make_ledger(box.ledger, box.run_ids)
    files = Path(__file__).parent / "data"
    for name in ("forecast.csv", "spec.yaml", "sacct.txt", "impact-out.yaml"):
        (box.root / name).write_bytes((files / name).read_bytes())
    key = box.root / "export.key"
    key.write_bytes(bytes(range(32)))
    key.chmod(0o600)
    answer = box.call(["export", "--jsonl", box.path("runs.enc"), "--encrypt", "--key-file",
                       str(key)])  # fmt: skip
    assert answer.code == 0, answer.err
    answer = box.call(["keys", "--json"])
    assert answer.code == 0, answer.err
    (box.root / "signer.pub").write_text(__import__("json").loads(answer.out)["public_key_pem"])
    return box
