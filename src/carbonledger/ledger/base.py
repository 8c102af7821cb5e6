"""The Ledger protocol: what the tracker asks of durable storage.

One *run* may have many *members* (processes: ranks of a distributed job, on one or
several hosts). Each member reports its own devices; host-wide devices (CPU packages,
RAM) are counted by one member per host, chosen with an expiring *lease* (no lock file
that can go stale). The run's totals are the sum over members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from carbonledger.models import (
        ComponentEnergy,
        RunStatus,
        RunSummary,
        Sample,
        SensorInfo,
        WindowSummary,
    )

__all__ = ["Ledger", "MemberRecord", "RunRecord"]


@dataclass(frozen=True)
class RunRecord:
    """What is known of a run when it starts (shared by all its members)."""

    run_id: str
    project: str
    experiment: str
    started_unix_s: float
    scope: str
    location: str
    location_source: str
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float
    pue_source: str
    tags: dict[str, str] = field(default_factory=dict)
    #: anything else worth keeping: versions, command line, market factor, expected epochs...
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberRecord:
    """One process taking part in a run."""

    member_id: str
    run_id: str
    host: str
    pid: int
    started_unix_s: float
    rank: int | None = None
    local_rank: int | None = None


class Ledger(Protocol):
    """Durable storage of runs. Implementations: SQLite (default), PostgreSQL, in memory."""

    location: str
    """The file path or URL (without password) of this ledger."""

    def open_run(self, run: RunRecord) -> RunRecord:
        """Create the run, or join it when ``run.run_id`` already exists (another rank made
        it first): then the stored record is returned and must be used by the caller."""
        ...

    def join(self, member: MemberRecord, lease_ttl_s: float) -> None:
        """Register a member; its liveness is renewed by every ``add_samples``/``heartbeat``."""
        ...

    def acquire_lease(self, run_id: str, key: str, member_id: str, ttl_s: float) -> bool:
        """Take (or renew) the lease ``key`` (e.g. ``host:node1:cpu``) for ``member_id``.
        True when this member holds it now; an expired lease may be taken over."""
        ...

    def heartbeat(self, run_id: str, member_id: str, lease_ttl_s: float) -> None:
        """Renew the member's liveness and every lease it holds."""
        ...

    def register_devices(self, run_id: str, member_id: str, infos: Sequence[SensorInfo]) -> None:
        """Record (and sign) how each of a member's devices is read."""
        ...

    def add_samples(self, run_id: str, member_id: str, samples: Sequence[Sample]) -> None:
        """Append samples in one transaction (committed before returning)."""
        ...

    def add_window(self, run_id: str, member_id: str, window: WindowSummary) -> None:
        """Record a finished window."""
        ...

    def finish_member(
        self,
        run_id: str,
        member_id: str,
        components: Sequence[ComponentEnergy],
        status: RunStatus,
        errors: Sequence[str] = (),
    ) -> None:
        """Record (and sign) a member's final per-device energy and release its leases. The
        run becomes ``completed`` (or ``failed``) when its last live member finishes; it is
        then sealed."""
        ...

    def update_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        """Merge keys into the run's ``meta`` (e.g. the latest forecast)."""
        ...

    def summary(self, run_id: str) -> RunSummary:
        """The run's footprint so far: finished members' totals plus the latest samples of
        live or dead ones. A run whose members all stopped heart-beating is reported
        ``interrupted`` (nothing is written: a writer's ``settle`` records it)."""
        ...

    def windows(self, run_id: str) -> list[WindowSummary]:
        """The run's recorded windows, oldest first."""
        ...

    def run_record(self, run_id: str) -> RunRecord:
        """The stored record of a run (raises InputError naming the run when unknown)."""
        ...

    def list_runs(self, project: str | None = None, limit: int | None = None) -> list[RunSummary]:
        """Runs, newest first."""
        ...

    def resolve_run_id(self, prefix: str) -> str:
        """The run id that is ``prefix`` or starts with it (InputError when none or several)."""
        ...

    def iter_run_ids(self, project: str | None = None) -> Iterator[str]:
        """Every run id, oldest first."""
        ...

    def close(self) -> None: ...
