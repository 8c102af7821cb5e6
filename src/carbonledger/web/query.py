"""The runs table's query string: filters, sort order and page, parsed from a URL and written
back into one, so that every view of the table is a link people can share.

``?project=P&experiment=E&status=S&tag=K=V&tag=K2&from=2024-05-01&to=2024-05-31&sort=co2e
&order=asc&page=2&per=50``: every parameter is optional; ``tag`` may repeat (all must
match; ``K`` alone: the tag is set); ``from`` and ``to`` are UTC days, both included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.aggregate import RunFilter

__all__ = [
    "DEFAULT_PER",
    "MAX_PER",
    "SORTS",
    "STATUSES",
    "TableQuery",
    "parse_query",
    "request_query",
]

#: rows per page unless asked
DEFAULT_PER = 50
#: the most rows a page shows
MAX_PER = 500
STATUSES = ("running", "completed", "failed", "interrupted")

#: sort key -> (column heading, the value sorted on)
SORTS: dict[str, tuple[str, Callable[[RunSummary], object]]] = {
    "started": ("started (UTC)", lambda s: s.started_unix_s),
    "project": ("project", lambda s: s.project),
    "experiment": ("experiment", lambda s: s.experiment),
    "duration": ("duration", lambda s: s.duration_s),
    "energy": ("energy", lambda s: s.energy_j),
    "co2e": ("CO2e", lambda s: s.co2e_g),
    "measured": ("measured", lambda s: s.measured_share),
    "status": ("status", lambda s: s.status),
}


def _day(text: str, name: str) -> float:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise InputError(f"{name}={text!r} is not a day: write YYYY-MM-DD (UTC)") from None
    return day.timestamp()


@dataclass(frozen=True)
class TableQuery:
    """One view of the runs table: which runs (:class:`RunFilter`, with the days as given),
    in which order, which page."""

    filter: RunFilter = field(default_factory=RunFilter)
    since_day: str = ""
    until_day: str = ""
    sort: str = "started"
    descending: bool = True
    page: int = 1
    per: int = DEFAULT_PER

    def params(self) -> list[tuple[str, str]]:
        """The query's parameters, defaults left out (the canonical, shareable form)."""
        f = self.filter
        out: list[tuple[str, str]] = []
        for name, value in (("project", f.project), ("experiment", f.experiment),
                            ("status", f.status)):  # fmt: skip
            if value is not None:
                out.append((name, value))
        out += [("tag", k if v is None else f"{k}={v}") for k, v in f.tags]
        if self.since_day:
            out.append(("from", self.since_day))
        if self.until_day:
            out.append(("to", self.until_day))
        if self.sort != "started" or not self.descending:
            out += [("sort", self.sort), ("order", "desc" if self.descending else "asc")]
        if self.per != DEFAULT_PER:
            out.append(("per", str(self.per)))
        if self.page != 1:
            out.append(("page", str(self.page)))
        return out

    def url(self, path: str = "/", **changes: object) -> str:
        """``path`` with this query (changed by ``changes``: fields of this class)."""
        query = replace(self, **changes) if changes else self  # type: ignore[arg-type]
        params = query.params()
        return path + ("?" + urlencode(params) if params else "")

    def sorted(self, runs: Iterable[RunSummary]) -> list[RunSummary]:
        """``runs`` in this query's order (ties: newest first, then by run id)."""
        key = SORTS[self.sort][1]
        ordered = sorted(runs, key=lambda s: (-s.started_unix_s, s.run_id))
        return sorted(ordered, key=key, reverse=self.descending)  # type: ignore[arg-type]

    def page_of(self, runs: list[RunSummary]) -> list[RunSummary]:
        start = (self.page - 1) * self.per
        return runs[start : start + self.per]


def parse_query(items: Iterable[tuple[str, str]]) -> TableQuery:
    """The :class:`TableQuery` of a URL's parameters (empty ones ignored).

    :raises InputError: for a value that is not one (an unknown status or sort, a day that
        is not YYYY-MM-DD, a page below 1...), naming it.
    """
    single: dict[str, str] = {}
    tags: list[tuple[str, str | None]] = []
    for name, value in items:
        if not value:
            continue
        if name == "tag":
            key, sep, tag_value = value.partition("=")
            if not key:
                raise InputError(f"tag={value!r}: write KEY=VALUE or KEY")
            tags.append((key, tag_value if sep else None))
        else:
            single[name] = value
    status = single.get("status")
    if status is not None and status not in STATUSES:
        raise InputError(f"status={status!r}: one of {', '.join(STATUSES)}")
    sort = single.get("sort", "started")
    if sort not in SORTS:
        raise InputError(f"sort={sort!r}: one of {', '.join(SORTS)}")
    order = single.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InputError(f"order={order!r}: asc or desc")
    numbers = {}
    for name, default, top in (("page", 1, None), ("per", DEFAULT_PER, MAX_PER)):
        text = single.get(name, str(default))
        try:
            number = int(text)
        except ValueError:
            raise InputError(f"{name}={text!r} is not a whole number") from None
        if number < 1 or (top is not None and number > top):
            raise InputError(f"{name}={number}: from 1" + (f" to {top}" if top else ""))
        numbers[name] = number
    since_day, until_day = single.get("from", ""), single.get("to", "")
    since = _day(since_day, "from") if since_day else None
    until = _day(until_day, "to") + timedelta(days=1).total_seconds() if until_day else None
    if since is not None and until is not None and until <= since:
        raise InputError(f"from={since_day} is after to={until_day}")
    run_filter = RunFilter(
        project=single.get("project"),
        experiment=single.get("experiment"),
        status=status,
        tags=tuple(tags),
        since_unix_s=since,
        until_unix_s=until,
    )
    return TableQuery(
        run_filter, since_day, until_day, sort, order == "desc", numbers["page"], numbers["per"]
    )


def request_query(request: Any) -> TableQuery:
    """The table query of a request's URL (a FastAPI ``Request``); a malformed one is an
    HTTP 400 that says what was wrong."""
    from fastapi import HTTPException

    try:
        return parse_query(request.query_params.multi_items())
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
