"""Reading runs back: summaries, windows, lists. Nothing here writes.

A run's figures are put together from its members (final totals of finished members, the
newest samples of the others) and handed to :func:`carbonledger.accounting.account`, the one
place that turns energy and a run's carbon context into a
:class:`~carbonledger.models.RunSummary`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from carbonledger.errors import InputError
from carbonledger.ledger import state
from carbonledger.ledger.liveness import is_dead
from carbonledger.ledger.readback import (
    DATA_ERRORS,
    check_summary,
    damaged_summary,
    readable_windows,
    sample_from_row,
)
from carbonledger.ledger.rows import WINDOW_COLS, ce_from_dict, iso, merge_components, number
from carbonledger.ledger.transports.base import Transport, Tx
from carbonledger.models import (
    ComponentEnergy,
    RunRecord,
    RunStatus,
    RunSummary,
    Sample,
    WindowSummary,
)

__all__ = ["DATA_ERRORS", "Queries", "damaged_summary"]  # the last two from .readback


def _account(
    run: dict[str, Any],
    components: tuple[ComponentEnergy, ...],
    *,
    status: RunStatus,
    duration_s: float,
    windows: tuple[WindowSummary, ...],
    errors: tuple[str, ...],
    hosts: tuple[str, ...],
    extra: dict[str, Any],
) -> RunSummary:
    """A run's merged energy and its stored carbon context -> :func:`carbonledger.accounting.account`
    (the hourly intensity, embodied carbon and market factor are read from ``meta``)."""
    from carbonledger.accounting import (
        CarbonContext,
        EmbodiedCarbon,
        HourlyIntensity,
        RunFacts,
        account,
    )

    meta = run["meta"]
    context = CarbonContext(
        location=run["location"],
        location_source=run["location_source"],
        intensity_g_per_kwh=float(run["intensity_g_per_kwh"]),
        intensity_source=run["intensity_source"],
        pue=float(run["pue"]),
        pue_source=run["pue_source"],
        market_g_per_kwh=number(meta.get("market_g_per_kwh")),
    )
    facts = RunFacts(
        run_id=run["run_id"],
        project=run["project"],
        experiment=run["experiment"],
        status=status,
        started_unix_s=float(run["started_unix_s"]),
        duration_s=duration_s,
        scope=run["scope"],
        hosts=hosts,
    )
    embodied = meta["embodied"] if "embodied" in meta else meta.get("embodied_co2e_g")
    return account(
        facts,
        components,
        context,
        hourly=HourlyIntensity.from_dict(meta.get("hourly")),
        embodied=None if embodied is None else EmbodiedCarbon.from_dict(embodied),
        windows=windows,
        errors=errors,
        extra=extra,
    )


class Queries:
    """The reads of a :class:`~carbonledger.ledger.Ledger` (nothing here writes)."""

    def __init__(self, transport: Transport, clock: Callable[[], float]) -> None:
        self._t = transport
        self._clock = clock
        self.location = transport.location

    def _need_run(self, tx: Tx, run_id: str) -> dict[str, Any]:
        return state.need_run(tx, run_id, self.location)

    def run_record(self, run_id: str) -> RunRecord:
        with self._t.transaction(write=False) as tx:
            return state.record(self._need_run(tx, run_id))

    def resolve_run_id(self, prefix: str) -> str:
        """The run id that is ``prefix`` or starts with it (InputError when none or several)."""
        with self._t.transaction(write=False) as tx:
            if tx.one("SELECT run_id FROM runs WHERE run_id = ?", (prefix,)) is not None:
                return prefix
            rows = tx.rows(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?)) = ? "
                "ORDER BY run_id LIMIT 6",
                (prefix, prefix),
            )
        if not rows:
            raise InputError(
                f"unknown run {prefix!r} in ledger {self.location}; "
                "list runs with 'carbonledger runs'"
            )
        if len(rows) > 1:
            names = ", ".join(repr(r[0]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise InputError(f"run prefix {prefix!r} is ambiguous: {names}; give more characters")
        return str(rows[0][0])

    def summary(self, run_id: str, *, windows: bool = True) -> RunSummary:
        """The run's summary; a run whose rows cannot be read is ``damaged`` (see
        :func:`damaged_summary`), never an exception. ``windows=False``: without its windows
        (``extra["window_count"]`` counts them; :meth:`iter_windows` streams them)."""
        now = self._clock()
        with self._t.transaction(write=False) as tx:
            run = self._need_run(tx, run_id)
            return self._read_summary(tx, run, now, windows)

    def _read_summary(
        self, tx: Tx, run: dict[str, Any], now: float, windows: bool = True
    ) -> RunSummary:
        try:
            summary = self._summary(tx, run, now, windows)
            check_summary(summary)
        except DATA_ERRORS as exc:
            return damaged_summary(run, f"{type(exc).__name__}: {str(exc)[:200]}")
        return summary

    def windows(self, run_id: str) -> list[WindowSummary]:
        """The run's windows (those of several members merged); a window row that cannot
        be read is left out (its run is listed as damaged: :meth:`summary`)."""
        return list(self.iter_windows(run_id, stream=False))

    def iter_windows(self, run_id: str, *, stream: bool = True) -> Iterator[WindowSummary]:
        """The run's windows as :meth:`windows` gives them, one at a time: a run of one
        member is read :data:`WINDOW_PAGE` windows per short transaction, oldest first
        (never all held, and the ledger free for other calls between pages; ``stream=False``:
        all at once); several members' windows are merged first (the k-th occurrence of a
        path in each member is one window)."""
        with self._t.transaction(write=False) as tx:
            self._need_run(tx, run_id)
            try:
                members = {m["member_id"]: m for m in state.members(tx, run_id)}
            except DATA_ERRORS:
                members = {}
            merged = None
            if len(members) > 1 or not stream:
                rows, _bad = readable_windows(state.windows_rows(tx, run_id))
                merged = self._merged_windows(rows, members)
        if merged is not None:
            yield from merged
            return
        sql = f"SELECT {', '.join(WINDOW_COLS)} FROM windows WHERE run_id = ?"
        after = " AND (started_unix_s > ? OR (started_unix_s = ? AND window_ref > ?))"
        order = f" ORDER BY started_unix_s, window_ref LIMIT {WINDOW_PAGE}"
        last: tuple[Any, Any] | None = None
        while True:
            with self._t.transaction(write=False) as tx:
                if last is None:
                    page = tx.rows(sql + order, (run_id,))
                else:
                    page = tx.rows(sql + after + order, (run_id, last[0], last[0], last[1]))
            for row in page:
                d = state.window_row(row)
                good, _bad = readable_windows([d])
                if good:  # a row that cannot be read is left out, as windows() does
                    yield from self._merged_windows(good, members)
            if len(page) < WINDOW_PAGE:
                return
            end_row = state.window_row(page[-1])
            last = (end_row["started_unix_s"], end_row["window_ref"])

    def list_runs(
        self, project: str | None = None, limit: int | None = None, *, windows: bool = True
    ) -> list[RunSummary]:
        sql = "SELECT run_id FROM runs"
        params: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            params.append(project)
        sql += " ORDER BY started_unix_s DESC, run_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        now = self._clock()
        out = []
        with self._t.transaction(write=False) as tx:
            for (run_id,) in tx.rows(sql, params):
                if not isinstance(run_id, str):  # an id that is not text: no row to look up
                    reason = f"its id is not text ({run_id!r:.60})"
                    out.append(damaged_summary({"run_id": repr(run_id)}, reason))
                    continue
                run = state.run_row(tx, run_id)
                if run is not None:
                    out.append(self._read_summary(tx, run, now, windows))
        return out

    def samples(self, run_id: str, *, since_unix_s: float | None = None) -> list[Sample]:
        """Every sample of ``run_id`` (all members), oldest first: each device's cumulative
        energy since its member joined (J) and power (W) at that time; only those after
        ``since_unix_s`` when given (for live views). Reads only."""
        sql = (
            "SELECT time_unix_s, component, device, energy_j, power_w, host, low_j, high_j "
            "FROM samples_view WHERE run_id = ?"
        )
        params: list[Any] = [run_id]
        if since_unix_s is not None:
            sql += " AND time_unix_s > ?"
            params.append(float(since_unix_s))
        sql += " ORDER BY time_unix_s, device"
        with self._t.transaction(write=False) as tx:
            self._need_run(tx, run_id)
            rows = tx.rows(sql, params)
        out = []
        for r in rows:  # a row that is not what the ledger writes is left out
            sample = sample_from_row(r)
            if sample is not None:
                out.append(sample)
        return out

    def iter_run_ids(self, project: str | None = None) -> Iterator[str]:
        """Every run id, oldest first (ids that are not text, which no writer writes, are
        left out: :meth:`list_runs` lists them as damaged)."""
        sql = "SELECT run_id FROM runs"
        params: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            params.append(project)
        with self._t.transaction(write=False) as tx:
            rows = tx.rows(sql + " ORDER BY started_unix_s, run_id", params)
        yield from (r[0] for r in rows if isinstance(r[0], str))  # an id edited to a non-text
        # value cannot be looked up: list_runs() lists it as damaged

    # --- summaries -----------------------------------------------------------------------

    def _merged_windows(
        self, rows: Sequence[dict[str, Any]], members: dict[str, dict[str, Any]]
    ) -> list[WindowSummary]:
        """Windows of the same path recorded by several members (each rank's ``epoch-1``)
        become one window: the k-th occurrence of a path in each member is merged."""
        seen: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for w in sorted(rows, key=lambda r: (r["member_id"], r["started_unix_s"], r["window_ref"])):
            k = seen.get((w["member_id"], w["path"]), 0)
            seen[(w["member_id"], w["path"])] = k + 1
            groups.setdefault((w["path"], k), []).append(w)
        out = []
        for ws in groups.values():
            start = min(w["started_unix_s"] for w in ws)
            end = max(w["started_unix_s"] + w["duration_s"] for w in ws)
            co2 = [w["co2e_g"] for w in ws]
            metrics: dict[str, float] = {}
            for w in ws:
                for k, v in (w.get("metrics") or {}).items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        metrics[k] = metrics.get(k, 0.0) + float(v)
            comps: list[ComponentEnergy] = []
            for w in ws:
                host = members.get(w["member_id"], {}).get("host", "")
                comps.extend(ce_from_dict(c, host) for c in w["components"])
            out.append(
                WindowSummary(
                    name=ws[0]["name"],
                    path=ws[0]["path"],
                    started_unix_s=start,
                    duration_s=end - start,
                    components=tuple(comps),
                    co2e_g=None if any(c is None for c in co2) else float(sum(co2)),
                    metrics=metrics,
                )
            )
        out.sort(key=lambda w: (w.started_unix_s, w.path))
        return out

    def _summary(
        self, tx: Tx, run: dict[str, Any], now: float, with_windows: bool = True
    ) -> RunSummary:
        run_id = run["run_id"]
        members = state.members(tx, run_id)
        devices = state.devices(tx, run_id)
        parts: list[tuple[ComponentEnergy, float, float]] = []
        durations = []
        errors: list[str] = []
        for m in members:
            start = float(m["started_unix_s"])
            if m["components"] is not None:
                comps = [ce_from_dict(c, m["host"]) for c in m["components"]]
                end = float(m["finished_unix_s"] or m["heartbeat_unix_s"])
            else:
                own = [d for d in devices if d["member_id"] == m["member_id"]]
                comps = [ce_from_dict(c) for c in state.components_from_samples(tx, m, own)]
                end = max([float(m["heartbeat_unix_s"])] + [start + c.duration_s for c in comps])
                if not state.live(m, now):
                    m["errors"] = [
                        *m["errors"],
                        f"{state.member_label(m)} stopped signing at "
                        f"{iso(min(float(m['heartbeat_unix_s']), now))} (lease TTL "
                        f"{float(m['lease_ttl_s']):g} s): energy up to its last sample (not yet "
                        "recorded: 'carbonledger settle' records it)",
                    ]
            durations.append(max(0.0, end - start))
            parts.extend((c, start, start + c.duration_s) for c in comps)
            label = state.member_label(m) + ": " if len(members) > 1 else ""
            errors.extend(label + e for e in m["errors"])
        status = _status(run, members, now)
        extra: dict[str, Any] = {
            "tags": run["tags"],
            "meta": run["meta"],
            "finished_unix_s": state.status_of(members)[1]
            if any(m["signed"] for m in members)
            else run["finished_unix_s"],
            "members": [
                {
                    k: m[k]
                    for k in (
                        "member_id",
                        "host",
                        "pid",
                        "rank",
                        "local_rank",
                        "status",
                        "started_unix_s",
                        "finished_unix_s",
                        "heartbeat_unix_s",
                    )
                }
                for m in members
            ],
        }
        budget = run["meta"].get("budget")
        if isinstance(budget, dict):
            extra["budget"] = budget
            if status == "interrupted" and budget.get("outcome") == "stopped":
                extra["status_reason"] = "budget"
        if isinstance(run["meta"].get("forecast"), dict):
            extra["forecast"] = run["meta"]["forecast"]
        if isinstance(run["meta"].get("metrics"), dict):
            extra["metrics"] = run["meta"]["metrics"]
        if with_windows:
            rows, bad = readable_windows(state.windows_rows(tx, run_id))
            if bad:
                raise ValueError(bad)
            windows = self._merged_windows(rows, {m["member_id"]: m for m in members})
        else:  # each row checked as it is read, none kept: a list needs the count only
            windows = []
            extra["window_count"] = _count_readable_windows(tx, run_id)
        return _account(
            run,
            merge_components(parts),
            status=status,
            duration_s=max(durations, default=0.0),
            windows=tuple(windows),
            errors=tuple(errors),
            hosts=tuple(sorted({m["host"] for m in members})),
            extra=extra,
        )


#: windows read per transaction by :meth:`Queries.iter_windows`
WINDOW_PAGE = 1000


def _count_readable_windows(tx: Tx, run_id: str) -> int:
    """How many window rows the run has, each checked as :func:`readable_windows` checks it
    (ValueError naming the first that cannot be read), streamed: none is kept."""
    n = 0
    for row in tx.stream(
        f"SELECT {', '.join(WINDOW_COLS)} FROM windows WHERE run_id = ?", (run_id,)
    ):
        _good, bad = readable_windows([state.window_row(row)])
        if bad:
            raise ValueError(bad)
        n += 1
    return n


def _status(run: dict[str, Any], members: list[dict[str, Any]], now: float) -> RunStatus:
    """The run's status: from its members' signed ends (the status column of runs recorded
    before signed batches); ``interrupted`` when it has not ended but nobody is live."""
    if is_dead(run, members, now):
        return "interrupted"
    if any(m["signed"] for m in members):
        status: RunStatus = state.status_of(members)[0]  # type: ignore[assignment]
        return status
    column = str(run["status"])
    if column in ("running", "completed", "failed", "interrupted"):
        return column  # type: ignore[return-value]
    return "running"
