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
from carbonledger.ledger.rows import ce_from_dict, iso, merge_components, number
from carbonledger.ledger.transports.base import Transport, Tx
from carbonledger.models import (
    ComponentEnergy,
    RunRecord,
    RunStatus,
    RunSummary,
    Sample,
    WindowSummary,
)

__all__ = ["Queries"]


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

    def summary(self, run_id: str) -> RunSummary:
        now = self._clock()
        with self._t.transaction(write=False) as tx:
            run = self._need_run(tx, run_id)
            return self._summary(tx, run, now)

    def windows(self, run_id: str) -> list[WindowSummary]:
        with self._t.transaction(write=False) as tx:
            self._need_run(tx, run_id)
            members = {m["member_id"]: m for m in state.members(tx, run_id)}
            return self._merged_windows(state.windows_rows(tx, run_id), members)

    def list_runs(self, project: str | None = None, limit: int | None = None) -> list[RunSummary]:
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
                run = state.run_row(tx, str(run_id))
                if run is not None:
                    out.append(self._summary(tx, run, now))
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
        return [
            Sample(
                float(r[0]),
                r[1],
                str(r[2]),
                float(r[3]),
                None if r[4] is None else float(r[4]),
                str(r[5] or ""),
                None if r[6] is None else float(r[6]),
                None if r[7] is None else float(r[7]),
            )
            for r in rows
        ]

    def iter_run_ids(self, project: str | None = None) -> Iterator[str]:
        """Every run id, oldest first (for exports)."""
        sql = "SELECT run_id FROM runs"
        params: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            params.append(project)
        with self._t.transaction(write=False) as tx:
            ids = [str(r[0]) for r in tx.rows(sql + " ORDER BY started_unix_s, run_id", params)]
        yield from ids

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

    def _summary(self, tx: Tx, run: dict[str, Any], now: float) -> RunSummary:
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
        windows = self._merged_windows(
            state.windows_rows(tx, run_id), {m["member_id"]: m for m in members}
        )
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
