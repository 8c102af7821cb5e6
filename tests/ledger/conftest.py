"""Ledger fixtures: both backends side by side (PostgreSQL on the session's server of
``tests/conftest.py``: ``postgres_server``, ``pg_url``), and a writer that records events as
a tracker does (signed batches, one chain per member)."""

from __future__ import annotations

import sqlite3
import time
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


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs with a key of its own, in a config dir of its own (never the user's)."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    return config


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
