"""A run's windows summarised by name pattern (text and HTML), the power series from each
sample's own interval (no 0 W dips, gaps as gaps), charts in their table's unit, and the
summaries' readable repr."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.models import ComponentEnergy, Reading, RunSummary, Sample, WindowSummary
from carbonledger.report import format as fmt
from carbonledger.report.samples import power_series
from carbonledger.report.text import WINDOW_LIST_LIMIT, format_summary
from carbonledger.report.windows import group_windows, window_pattern

CTX = CarbonContext("FR", "argument", 50.0, "test figure, 2023", 1.0, "argument")


def _window(path: str, start_s: float, energy_j: float, duration_s: float) -> WindowSummary:
    comp = ComponentEnergy("gpu", "gpu:0", "nvml", True, energy_j, duration_s)
    name = path.rsplit("/", 1)[-1]
    return WindowSummary(name, path, start_s, duration_s, (comp,), co2e_g=energy_j * 1e-5)


def _run(windows: list[WindowSummary], **extra: Any) -> RunSummary:
    total = sum(w.energy_j for w in windows) or 1.0
    comp = ComponentEnergy("gpu", "gpu:0", "nvml", True, total, 3600.0)
    facts = RunFacts("0123456789abcdef0123456789abcdef", "lm", "steps", "completed", 0.0, 3600.0)
    return account(facts, (comp,), CTX, windows=tuple(windows), extra=dict(extra))


def _steps(n: int) -> list[WindowSummary]:
    """``n`` step windows of 0.1 s whose energy grows with the step (2.0 J .. 2.0 + n/1000),
    and 10 epochs around them."""
    out = [_window(f"step-{i}", 0.1 * i, 2.0 + i / 1000, 0.1) for i in range(n)]
    out += [_window(f"epoch-{e}", 0.1 * n * e / 10, 0.2 * n / 10, 0.1 * n / 10) for e in range(10)]
    return out


def test_window_pattern_replaces_every_number() -> None:
    assert window_pattern("epoch-12/step-003") == "epoch-#/step-#"
    assert window_pattern("validation") == "validation"


def test_many_windows_are_summarised_by_pattern_with_statistics() -> None:
    windows = _steps(20_000)
    summary = _run(windows)
    text = format_summary(summary)
    lines = text.splitlines()
    assert len(lines) < 20, len(lines)  # not a line per window
    assert "windows: 20,010 in 2 name patterns (digits as #)" in text
    steps = next(x for x in lines if x.startswith("  windows step-#"))
    energies = sorted(2.0 + i / 1000 for i in range(20_000))
    assert f"20,000, {fmt.energy(sum(energies))}" in steps
    assert f"p50 {fmt.energy(statistics.median(energies))}" in steps
    p90 = statistics.quantiles(energies, n=10, method="inclusive")[8]
    assert f"p90 {fmt.energy(p90)}" in steps and f"max {fmt.energy(energies[-1])}" in steps
    largest = lines[lines.index(steps) + 1]
    assert largest.startswith("    largest: step-19999 ") and "step-19998" in largest
    every = format_summary(summary, windows="all")
    assert len(every.splitlines()) == len(lines) - 5 + 20_010  # the 5 lines become 20,010
    assert "window step-12345: " in every


def test_few_windows_are_listed_one_by_one() -> None:
    windows = [_window("epoch-1", 0.0, 0.0000257, 0.000292), _window("epoch-2", 1.0, 5.0, 1.0)]
    text = format_summary(_run(windows))
    assert "  window epoch-1: 25.7 µJ in 292 µs" in text  # scaled, never 0.0257 mJ
    assert len(_steps(0)) <= WINDOW_LIST_LIMIT
    grouped = format_summary(_run(windows), windows="patterns")
    assert "windows epoch-#: 2, 5.00 J in 1.00 s" in grouped


def test_statistics_from_the_tracker_count_windows_not_kept() -> None:
    kept = [_window("step-1", 0.0, 2.0, 0.1)]
    stats = {
        "step-#": {"count": 5000, "energy_j": 10_000.0, "mean_energy_j": 2.0,
                   "min_energy_j": 1.5, "max_energy_j": 3.0, "duration_s": 500.0,
                   "co2e_g": 0.14},
    }  # fmt: skip
    (group,) = group_windows(_run(kept, window_stats=stats))
    assert (group.count, group.energy_j, group.max_energy_j) == (5000, 10_000.0, 3.0)
    assert group.p50_energy_j is None  # only totals are known
    text = format_summary(_run(kept, window_stats=stats))
    assert "windows step-#: 5,000, 2.78 Wh in 8.33 min; per window mean 2.00 J, max 3.00 J" in text


def test_html_report_summarises_many_windows_and_stays_small() -> None:
    pytest.importorskip("plotly")
    from carbonledger.report.data import RunReport
    from carbonledger.report.html import WINDOW_TABLE_LIMIT, run_body, windows_html

    summary = _run(_steps(20_000))
    table = windows_html(summary)
    assert table.count("<tr>") == 3  # the header and one row per pattern
    assert "step-19999 (22.0 J)" in table
    body = run_body(RunReport(summary, ()))
    assert "step-12345" not in body  # no window listed one by one, chart included
    assert len(body) < 200_000, len(body)
    few = _run([_window(f"epoch-{i}", i, 1.0, 1.0) for i in range(3)])
    assert windows_html(few).count("<tr>") == 4 and WINDOW_TABLE_LIMIT >= 3


def _samples(power_w: list[float | None], dt_s: float = 1.0) -> list[Sample]:
    """A device's samples as the ledger returns them: cumulative energy at each tick of a
    steady 50 W draw; ``None`` where the sensor's own reading said 0 W (a read right after
    another, or the final read at the run's end)."""
    out, energy = [], 0.0
    for i, p in enumerate(power_w):
        energy += 50.0 * dt_s if i else 0.0
        out.append(Sample(1000.0 + i * dt_s, "cpu", "cpu", energy, p, "vm"))
    return out


def test_power_is_the_energy_over_each_samples_own_interval() -> None:
    readings: list[float | None] = [50.0] * 32
    for i in (7, 19, 31):  # two dips in the run and the last sample, as in a BERT run
        readings[i] = 0.0
    (series,) = power_series(_samples(readings))
    assert len(series.power_w) == 31  # the first sample has no interval of its own
    assert series.power_w == pytest.approx([50.0] * 31)
    assert series.times_unix_s[-1] == 1031.0  # the last sample is there, at 50 W
    assert series.label == "cpu"  # never "cpu cpu @vm": one host, the device once


def test_a_pause_in_sampling_is_a_gap_not_a_zero() -> None:
    samples = _samples([50.0] * 10)
    late = [Sample(s.time_unix_s + 30.0, s.component, s.device, s.energy_j + 1500.0, 50.0, "vm")
            for s in _samples([50.0] * 5)]  # fmt: skip
    (series,) = power_series(samples + late)
    assert None in series.power_w
    gap = series.power_w.index(None)
    assert 1009.0 < series.times_unix_s[gap] < 1039.0
    assert all(p == pytest.approx(50.0) for p in series.power_w if p is not None)
    assert 0.0 not in series.power_w
    restarted = [*samples, Sample(1020.0, "cpu", "cpu", 25.0, 0.0, "vm")]  # counter from 0
    (series,) = power_series(restarted)
    assert series.power_w[-1] is None and 0.0 not in series.power_w


def test_hosts_are_named_only_when_the_run_spans_several() -> None:
    two = _samples([50.0] * 3) + [
        Sample(s.time_unix_s, "gpu", "gpu:0", s.energy_j, None, "node2")
        for s in _samples([1.0] * 3)
    ]
    assert {s.label for s in power_series(two)} == {"cpu @vm", "gpu:0 @node2"}


class _DippingSensor:
    """A 100 W measured device whose instantaneous power reads 0 W every third read, as a
    counter-based sensor does when read twice within one counter update."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._reads = 0
        self._lock = threading.Lock()

    @property
    def info(self) -> cl.SensorInfo:
        return cl.SensorInfo("gpu", "gpu:0", "fake-counter", True, model="Fake GPU")

    def read(self) -> Reading:
        with self._lock:
            self._reads += 1
            now = time.monotonic()
            return Reading(now, 100.0 * (now - self._t0), 0.0 if self._reads % 3 == 0 else 100.0)

    def close(self) -> None:
        pass


def test_a_recorded_runs_power_chart_has_no_dips(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    from carbonledger.report.data import gather
    from carbonledger.report.figures import run_figures

    ledger = tmp_path / "ledger.db"
    tracker = cl.Tracker(sensors=[_DippingSensor()], ledger=str(ledger), interval_s=0.1,
                         handle_signals=False, country="FR")  # fmt: skip
    tracker.start()
    for i in range(4):
        with tracker.window(f"step-{i}"):
            time.sleep(0.25)
    run_id = tracker.stop().run_id
    with cl.open_ledger(str(ledger), read_only=True) as led:
        report = gather(led, run_id)
    assert any(s.power_w == 0.0 for s in report.samples)  # the sensor did read 0 W
    figures = dict(run_figures(report))
    (trace,) = figures["power"].data
    values = [v for v in trace.y if v is not None]
    assert len(values) >= 5
    assert min(values) > 50.0 and max(values) < 200.0  # ~100 W at every point, the last too
    assert figures["power"].layout.yaxis.title.text == "power (W)"


def test_charts_are_in_the_unit_of_their_table() -> None:
    pytest.importorskip("plotly")
    from carbonledger.report.data import RunReport
    from carbonledger.report.figures import project_figures, run_figures

    small = [ComponentEnergy("cpu", "cpu", "vcpu-model", False, 300.0, 60.0, 200.0, 400.0)]
    summary = account(RunFacts("r1", "p", "e", "completed", 0.0, 60.0), tuple(small), CTX)
    figures = dict(run_figures(RunReport(summary, ())))
    energy = figures["energy"]
    assert energy.layout.yaxis.title.text == "energy (J)"  # the table says "300 J", not Wh
    (bar,) = energy.data
    assert list(bar.y) == [300.0] and list(bar.hovertext) == ["300 J"]
    assert bar.x[0] == "cpu"  # not "cpu cpu"
    (per_run,) = [f for n, f in project_figures([summary]) if n == "per_run"]
    assert per_run.layout.yaxis.title.text == f"CO2e ({fmt.mass(summary.co2e_g).split()[1]})"
    assert per_run.data[0].y[0] == pytest.approx(
        float(fmt.mass(summary.co2e_g).split()[0]), rel=0.01
    )


def test_summaries_have_a_readable_repr_and_an_html_one() -> None:
    summary = _run(_steps(50))
    text = repr(summary)
    assert len(text) < 160, text
    assert text.startswith("<RunSummary 0123456789ab… lm/steps completed: ")
    assert "(100% measured)" in text and "CO2e" in text and text.endswith("1.00 h>")
    window = summary.windows[0]
    assert (
        repr(window)
        == f"<WindowSummary step-0: 2.00 J (100% measured), {fmt.mass(2e-5)} CO2e, 100 ms>"
    )
    card = summary._repr_html_()
    assert card.startswith("<div>") and "<table>" in card and "gpu:0" in card
    assert "lm / steps" in card and fmt.energy(summary.energy_j) in card


@pytest.mark.parametrize(("members", "steps"), [(1, 12), (1, 300), (2, 40)])
def test_windows_streamed_from_the_ledger_print_as_the_whole_summary_does(
    tmp_path: Path, members: int, steps: int
) -> None:
    """``show`` reads a run without its windows and digests them as they stream from the
    ledger (one member) or merged (several): the text is the same as the whole summary's."""
    from carbonledger.report.windows import digest_windows
    from carbonledger.testing import FakeSensor

    ledger = str(tmp_path / "l.sqlite")
    run_id = "streamed-windows"
    for k in range(members):
        info = cl.SensorInfo("gpu", f"gpu:{k}", "fake", True, uid=f"GPU-{k}")
        with cl.Tracker(
            "digest", run_id=run_id, grid_g_per_kwh=100, ledger=ledger, interval_s=60,
            sensors=[FakeSensor(info, 50.0 + k, time.monotonic)], handle_signals=False,
        ) as run:  # fmt: skip
            for i in range(steps):
                with run.window(f"step-{i}"):
                    pass
            with run.window("evaluation"):
                time.sleep(0.01)
    with cl.open_ledger(ledger, read_only=True) as led:
        whole = led.summary(run_id)
        bare = led.summary(run_id, windows=False)
        digest = digest_windows(
            led.iter_windows(run_id), bare.extra.get("window_stats"), keep=WINDOW_LIST_LIMIT + 1
        )
    assert bare.windows == () and digest.count == len(whole.windows) == steps + 1
    assert digest.groups == tuple(group_windows(whole))
    for mode in ("auto", "patterns"):
        assert format_summary(bare, windows=mode, digest=digest) == format_summary(
            whole, windows=mode
        )


def test_iter_windows_reads_page_by_page_and_leaves_the_ledger_free(tmp_path: Path) -> None:
    """2,500 windows (three pages) come out as ``windows()`` gives them, and the ledger
    answers other calls while the iteration is under way."""
    ledger = str(tmp_path / "l.sqlite")
    with cl.Tracker(
        "pages", grid_g_per_kwh=100, ledger=ledger, interval_s=60, handle_signals=False
    ) as run:
        for i in range(2_500):
            run.begin_window(f"step-{i}")
            run.end_window(f"step-{i}")
    with cl.open_ledger(ledger, read_only=True) as led:
        seen = []
        for k, w in enumerate(led.iter_windows(run.run_id)):
            seen.append(w)
            if k in (10, 1_500):  # inside the first page, and the second
                assert led.summary(run.run_id, windows=False).extra["window_count"] == 2_500
        assert seen == led.windows(run.run_id)
        assert [w.name for w in seen[:3]] == ["step-0", "step-1", "step-2"]
