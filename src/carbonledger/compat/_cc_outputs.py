"""Where the CodeCarbon drop-in sends its records: CodeCarbon's CSV files, a Python logger,
an HTTP endpoint, a Prometheus Pushgateway, and the user's own output handlers.

The CSV files behave as CodeCarbon 3.3.2's ``FileOutput``:

* ``emissions.csv`` (``output_file`` in ``output_dir``) gets one row per ``flush()`` and
  ``stop()``, with CodeCarbon's 38 columns. A new or empty file gets the header.
* An existing file whose header holds the same columns (in any order) is appended to in its
  own column order. A header with other columns (an older CodeCarbon version, or another
  tool) is kept aside: the file is renamed ``emissions.csv.bak`` (or ``emissions.csv_0.bak``,
  ``_1``... when that exists) and a new file begun, with a warning.
* ``on_csv_write="update"`` replaces this run's row instead of appending (appends, with a
  warning, when the file already holds several rows of this run).
* Tasks go to ``emissions_<experiment_name>_<run_id>.csv`` beside it, rewritten with every
  finished task each time, without the columns that are empty in every row (as CodeCarbon;
  the utilisation columns, which CodeCarbon always fills, stay, empty).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from carbonledger._files import atomic_write
from carbonledger.compat._base import LOG, post_json
from carbonledger.compat._cc_data import EmissionsData, TaskEmissionsData
from carbonledger.report.export import CODECARBON_COLUMNS

__all__ = [
    "BaseOutput",
    "CsvFileOutput",
    "HTTPOutput",
    "LoggerOutput",
    "backup",
]


#: task-file columns CodeCarbon always fills (with 0.0 there); kept, empty, when not known
_ALWAYS = frozenset(
    {"cpu_utilization_percent", "gpu_utilization_percent", "ram_utilization_percent", "ram_used_gb"}
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def backup(path: Path, ext: str = ".bak") -> Path:
    """Rename ``path`` to ``<name>.bak``, or ``<name>_<n>.bak`` when that exists (never
    overwriting an earlier backup); returns the backup's path."""
    target = path.with_name(f"{path.name}{ext}")
    index = 0
    while target.exists():
        target = path.with_name(f"{path.name}_{index}{ext}")
        index += 1
    path.rename(target)
    return target


class BaseOutput:
    """A place records go, as CodeCarbon's ``BaseOutput``: subclass it and pass instances in
    ``output_handlers``. ``out`` is called by ``flush()`` and ``stop()`` with the run's
    total and the change since the previous call; ``task_out`` with every finished task."""

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """A run's record (flush or stop)."""

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """Not called by the drop-in (it has no periodic outputs); kept for subclasses."""

    def task_out(self, data: list[TaskEmissionsData], experiment_name: str) -> None:
        """Every finished task's record (flush or stop)."""

    def exit(self) -> None:
        """The run ended."""


class LoggerOutput(BaseOutput):
    """Log each record as JSON to ``logger`` at ``severity`` (CodeCarbon's ``LoggerOutput``)."""

    def __init__(self, logger: logging.Logger, severity: int = logging.INFO) -> None:
        self.logger = logger
        self.logging_severity = severity

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        try:
            self.logger.log(self.logging_severity, msg=json_of(total))
        except Exception as exc:
            LOG.error("could not log the emissions record: %s", exc)

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self.out(total, delta)


def json_of(record: EmissionsData) -> str:
    import json

    return json.dumps(asdict(record), default=str)


class HTTPOutput(BaseOutput):
    """``POST`` each record's JSON (plus ``user``) to ``endpoint_url`` (CodeCarbon's
    ``HTTPOutput``), within :data:`carbonledger.compat._base.HTTP_DEADLINE_S` seconds."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        payload: dict[str, Any] = asdict(total)
        payload["user"] = _user()
        post_json(self.endpoint_url, payload)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return ""


class CsvFileOutput(BaseOutput):
    """CodeCarbon's CSV files (see the module's description)."""

    def __init__(self, output_file: str, output_dir: str, on_csv_write: str = "append") -> None:
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / output_file
        self.on_csv_write = on_csv_write

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        row = {k: _cell(v) for k, v in total.values.items()}
        header = self._header()
        if header is not None and sorted(header) != sorted(row):
            kept = backup(self.path)
            LOG.warning(
                "The CSV format has changed, backing up old emission file: %s kept as %s",
                self.path,
                kept,
            )
            header = None
        if header is None:
            self._rewrite(list(CODECARBON_COLUMNS), [row])
        elif self.on_csv_write == "append":
            self._append(header, row)
        else:
            self._update(header, row, total.run_id)

    def _header(self) -> list[str] | None:
        """The file's header, or None for a missing or empty file."""
        if not self.path.is_file():
            return None
        if self.path.stat().st_size == 0:
            LOG.warning("File %s exists but is empty. Treating as new file.", self.path)
            return None
        with self.path.open(newline="") as fh:
            return next(csv.reader(fh), None)

    def _append(self, header: Sequence[str], row: Mapping[str, str]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([row[c] for c in header])
        with self.path.open("a", newline="") as fh:
            fh.write(buf.getvalue())

    def _update(self, header: list[str], row: Mapping[str, str], run_id: str) -> None:
        with self.path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        mine = [r for r in rows if r.get("run_id") == run_id]
        if len(mine) > 1:
            LOG.warning(
                "CSV contains more than 1 (%d) rows with current run ID (%s). "
                "Appending instead of updating.",
                len(mine),
                run_id,
            )
        else:
            rows = [r for r in rows if r.get("run_id") != run_id]
        self._rewrite(header, [*rows, row])

    def _rewrite(self, header: list[str], rows: Sequence[Mapping[str, str]]) -> None:
        write_rows(self.path, header, rows)

    def task_out(self, data: list[TaskEmissionsData], experiment_name: str) -> None:
        if not data:
            return
        path = self.output_dir / f"emissions_{experiment_name}_{data[0].run_id}.csv"
        records = [d.values for d in data]
        columns = [c for c in records[0] if c in _ALWAYS or any(r[c] is not None for r in records)]
        write_rows(path, columns, [{c: _cell(r[c]) for c in columns} for r in records])


def write_rows(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write ``header`` and ``rows`` to ``path`` at once (:func:`carbonledger._files.atomic_write`:
    a reader sees the old file or the new one; a special file there is refused)."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(header), lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue())
