"""What a report shows, gathered from a ledger (reads only): the run's summary, its time
series, its record's metadata and the ledger's verification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.models import RunSummary, Sample
from carbonledger.report.samples import read_samples

__all__ = [
    "LedgerStatus",
    "RunReport",
    "cumulative_energy",
    "gather",
    "ledger_status",
    "run_status",
]


@dataclass(frozen=True)
class LedgerStatus:
    """The verification of what a report says: one run's records (``scope`` "run") or the
    whole ledger (``scope`` "ledger")."""

    ok: bool
    anchored: bool
    head: str
    records: int
    problems: tuple[str, ...] = ()
    scope: str = "ledger"
    #: fingerprints of the keys that signed the records checked
    signers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "anchored": self.anchored,
            "head": self.head,
            "records": self.records,
            "scope": self.scope,
            "signers": list(self.signers),
            "problems": list(self.problems),
        }

    @property
    def text(self) -> str:
        """One line: what was checked, against what, and the verdict."""
        what = "the run's record" if self.scope == "run" else "the ledger"
        if not self.ok:
            first = self.problems[0] if self.problems else "problems found"
            return f"{what} does NOT verify: {first}"
        if self.anchored:
            keys = ", ".join(self.signers) or "no key"
            how = f"verified against your trusted key(s) (signed by {keys})"
        else:
            how = (
                "verified as self-consistent but NOT ANCHORED (no trusted key was given: pass "
                "--key, or trust your key with 'carbonledger keys --trust')"
            )
        return f"{what}: {self.records} records {how}; ledger head {self.head or '(empty)'}"


@dataclass(frozen=True)
class RunReport:
    """Everything a report of one run shows."""

    summary: RunSummary
    samples: tuple[Sample, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    ledger: LedgerStatus | None = None


def ledger_status(ledger: Any, keys: Sequence[str] | None = None) -> LedgerStatus:
    """``carbonledger.ledger.verify`` of an open ledger, summarised."""
    from carbonledger.ledger import verify

    report = verify(ledger, keys=list(keys or ()))
    return LedgerStatus(
        ok=report.ok,
        anchored=report.anchored,
        head=report.head,
        records=report.records,
        problems=tuple(f"{p.ref}: {p.kind}: {p.detail}" for p in report.problems),
        signers=tuple(report.signers),
    )


def run_status(ledger: Any, run_id: str, keys: Sequence[str] | None = None) -> LedgerStatus:
    """One run's records verified (what a report, ``show`` and the dashboard check before
    they say anything of the run), with the ledger's head as stored."""
    report = ledger.verify_run(run_id, list(keys or ()))
    return LedgerStatus(
        ok=report.ok,
        anchored=report.anchored,
        head=ledger.head(),
        records=report.records,
        problems=tuple(f"{p.kind}: {p.detail}" for p in report.problems),
        scope="run",
        signers=tuple(report.signers),
    )


def gather(
    ledger: Any, run_id: str, *, status: LedgerStatus | None = None, with_samples: bool = True
) -> RunReport:
    """The :class:`RunReport` of ``run_id`` (a full id or a unique prefix)."""
    run_id = ledger.resolve_run_id(run_id)
    summary = ledger.summary(run_id)
    samples = tuple(read_samples(ledger, run_id)) if with_samples else ()
    meta = dict(ledger.run_record(run_id).meta)
    return RunReport(summary, samples, meta, status)


def cumulative_energy(samples: Sequence[Sample]) -> tuple[list[float], list[float]]:
    """The run's total energy over time: after each sample, the sum over devices of their
    latest cumulative energy, as ``(times_unix_s, energy_j)``."""
    latest: dict[tuple[str, str], float] = {}
    times: list[float] = []
    totals: list[float] = []
    for s in sorted(samples, key=lambda s: s.time_unix_s):
        latest[(s.host, s.device)] = s.energy_j
        total = sum(latest.values())
        if times and times[-1] == s.time_unix_s:
            totals[-1] = total
        else:
            times.append(s.time_unix_s)
            totals.append(total)
    return times, totals
