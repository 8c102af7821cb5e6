"""Ledger fixtures: a real PostgreSQL server for the session, both backends side by side,
and a writer that records events as a tracker does (signed batches, one chain per member).

The server is Debian's ``postgresql`` (``make postgres`` installs it): ``initdb`` and
``pg_ctl`` from PATH or ``/usr/lib/postgresql/*/bin``, a data folder in a temporary
directory, a free port on 127.0.0.1 and the unix socket in that directory. As root the
server runs as the ``postgres`` user. When it cannot start, the PostgreSQL tests are
skipped and the reason is printed in the summary (``-ra``), never silently.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from carbonledger.events import (
    DevicesClaimed,
    Event,
    MemberChain,
    MemberFinished,
    MemberJoined,
    RunOpened,
    SamplesAdded,
    SignedBatch,
)
from carbonledger.ledger import Ledger, MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, RunStatus, Sample, SensorInfo


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PgServer:
    def __init__(self) -> None:
        self.initdb = _find("initdb")
        self.pg_ctl = _find("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="carbonledger-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.prefix: list[str] = []
        self.as_user: str | None = None

    def _cmd(self, args: Sequence[str]) -> list[str]:
        if self.as_user is None:
            return list(args)
        if shutil.which("runuser"):
            return ["runuser", "-u", self.as_user, "--", *args]
        return ["su", self.as_user, "-c", shlex.join(args)]

    def _run(self, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._cmd(args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self) -> str:
        """Start the server; return the reason it cannot start, or '' when it runs."""
        if not (self.initdb and self.pg_ctl):
            return (
                "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
                "/usr/lib/postgresql/*/bin; run 'make postgres' (Debian's postgresql package)"
            )
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the server as"
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = "postgres"
        os.chmod(self.root, 0o700)
        init = self._run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            return f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}"
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = self._run(
            [
                self.pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if start.returncode != 0:
            tail = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
            return f"pg_ctl start failed: {(start.stderr or start.stdout).strip()[-300:]} {tail}"
        return ""

    def stop(self) -> None:
        if self.pg_ctl and self.data.exists():
            self._run(
                [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"], timeout=60
            )
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs with a key of its own, in a config dir of its own (never the user's)."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    return config


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL (no database) of a PostgreSQL server running for this test session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install carbonledger[postgres]")
    server = _PgServer()
    reason = server.start()
    if reason:
        server.stop()
        pytest.skip(f"PostgreSQL server could not start: {reason}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Backend:
    """One ledger (a SQLite file or a PostgreSQL database) that tests open and poke at."""

    name: str
    target: str

    def open(self, clock: Callable[[], float] = time.time, **kw: Any) -> Ledger:
        return open_ledger(self.target, clock=clock, **kw)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Raw SQL behind the ledger's back (``?`` placeholders), as a tamperer would."""
        if self.name == "sqlite":
            conn = sqlite3.connect(self.target, isolation_level=None)
            try:
                cur = conn.execute(sql, tuple(params))
                return [tuple(r) for r in cur.fetchall()]
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
            return [tuple(r) for r in cur.fetchall()] if cur.description else []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "ledger.sqlite"))
    return Backend("postgres", request.getfixturevalue("pg_url"))


class Clock:
    """A settable wall clock in Unix seconds."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def led(backend: Backend, clock: Clock) -> Iterator[Ledger]:
    """The test's ledger on ``backend``, with the settable ``clock``."""
    ledger = backend.open(clock)
    try:
        yield ledger
    finally:
        ledger.close()


def _make_run(run_id: str = "run-1", *, started: float = 1_700_000_000.0, **kw: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "project": "proj",
        "experiment": "exp",
        "started_unix_s": started,
        "scope": "process",
        "location": "FR",
        "location_source": "argument",
        "intensity_g_per_kwh": 50.0,
        "intensity_source": "table: test",
        "pue": 1.2,
        "pue_source": "argument",
    }
    fields.update(kw)
    return RunRecord(**fields)


@pytest.fixture
def make_run() -> Callable[..., RunRecord]:
    """``make_run(run_id, started=..., **fields)`` -> a RunRecord with test defaults."""
    return _make_run


class Writer:
    """Records events as a tracker does: one :class:`MemberChain` per (run, member), each
    batch signed where it is made with the ledger's own key (``led.signer()``), its time
    from ``clock`` (the test's settable clock) unless ``at`` is given, and appended with
    ``led.append``."""

    def __init__(self, led: Ledger, clock: Callable[[], float]) -> None:
        self.led = led
        self.clock = clock
        self.chains: dict[tuple[str, str], MemberChain] = {}

    def chain(self, run_id: str, member_id: str) -> MemberChain:
        key = (run_id, member_id)
        if key not in self.chains:
            self.chains[key] = MemberChain(run_id, member_id, self.led.signer(), clock=self.clock)
        return self.chains[key]

    def make(
        self, run_id: str, member_id: str, *events: Event, at: float | None = None
    ) -> SignedBatch:
        """The member's next batch, signed, not appended (a journal's or a Ray node's)."""
        return self.chain(run_id, member_id).make(events, at)

    def __call__(
        self, run_id: str, member_id: str, *events: Event, at: float | None = None
    ) -> SignedBatch:
        """Make the member's next batch of ``events`` and append it."""
        batch = self.make(run_id, member_id, *events, at=at)
        self.led.append([batch])
        return batch

    # what a tracker's start, sampler and stop write

    def open(
        self, run: RunRecord, member: MemberRecord, lease_ttl_s: float, *devices: SensorInfo
    ) -> SignedBatch:
        """The member's first batch: the run as it opens it, the member, its devices."""
        events: list[Event] = [RunOpened(run), MemberJoined(member, lease_ttl_s)]
        if devices:
            events.append(DevicesClaimed(tuple(devices)))
        return self(member.run_id, member.member_id, *events)

    def join(self, member: MemberRecord, lease_ttl_s: float, *devices: SensorInfo) -> SignedBatch:
        """A member joining a run the ledger holds (no run of its own)."""
        events: list[Event] = [MemberJoined(member, lease_ttl_s)]
        if devices:
            events.append(DevicesClaimed(tuple(devices)))
        return self(member.run_id, member.member_id, *events)

    def samples(
        self, run_id: str, member_id: str, *samples: Sample, at: float | None = None
    ) -> SignedBatch:
        return self(run_id, member_id, SamplesAdded(tuple(samples)), at=at)

    def finish(
        self,
        run_id: str,
        member_id: str,
        components: Sequence[ComponentEnergy],
        status: RunStatus = "completed",
        errors: Sequence[str] = (),
        *,
        at: float | None = None,
    ) -> SignedBatch:
        """The member's end, at ``at`` (else the clock's time)."""
        end = self.clock() if at is None else at
        event = MemberFinished(status, tuple(components), end, tuple(errors))
        return self(run_id, member_id, event, at=at)


@pytest.fixture
def write(led: Ledger, clock: Clock) -> Writer:
    """``write(run_id, member_id, *events, at=...)``: what a tracker writes into ``led``
    (see :class:`Writer`; ``write.open``, ``write.samples``, ``write.finish``...)."""
    return Writer(led, clock)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command line with ``args``: (exit code, stdout, stderr)."""
    from carbonledger.cli.main import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
