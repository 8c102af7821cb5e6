"""Apple silicon through powermetrics, on recorded output (tests/data/powermetrics) and a fake
at the hardware edge: the program's output (FakePowermetrics), or a real process printing a
recording. Untested on Apple hardware."""

from __future__ import annotations

import itertools
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import SensorError
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.registry import Discovery, discover
from carbonledger.sensors.soc.apple import (
    COMMAND,
    PowermetricsParser,
    open_powermetrics,
    parse_powermetrics,
)
from carbonledger.sensors.soc.common import PartsSample, ProcessText, SocReader, TextSource
from carbonledger.testing import FakeClock, FakeHost, FakePowermetrics

DATA = Path(__file__).parent.parent / "data" / "powermetrics"
#: what tests/data/powermetrics/m2-pro.txt holds: (CPU, GPU, ANE) Power in mW, elapsed ms
M2_PRO = [
    (1433, 87, 0, 1003.51),
    (8211, 12034, 0, 1001.27),
    (7926, 11877, 1140, 998.80),
    (2150, 240, 0, 1002.06),
]
HEADER = "*** Sampled system activity"


def m2_text() -> str:
    return (DATA / "m2-pro.txt").read_text()


def as_watts(cpu_mw: float, gpu_mw: float, ane_mw: float) -> dict[str, float]:
    return {"cpu": cpu_mw / 1000, "gpu": gpu_mw / 1000, "ane": ane_mw / 1000}


def samples_of(samples: Sequence[PartsSample]) -> list[tuple[dict[str, float], float | None]]:
    return [(dict(s.power_w), s.elapsed_s) for s in samples]


def pieces(text: str) -> list[str]:
    """The output cut before each sample's header: what powermetrics prints per interval."""
    parts = text.split(HEADER)
    return [parts[0] + HEADER + parts[1]] + [HEADER + p for p in parts[2:]]


def apple(tmp_path: Path, fake: object, clock: FakeClock, **kw: object) -> Discovery:
    host = FakeHost(tmp_path, "Apple M2 Pro", vcpus=12)
    args: dict[str, object] = {
        "scope": "machine",
        "env": {},
        "powercap_root": tmp_path / "no-powercap",
        "cpuinfo": host.cpuinfo,
        "sys_root": host.sys_root,
        "cpu_count": 12,
        "clock": clock,
        "hardware": {"apple-soc": fake},
    }
    args.update(kw)
    return discover(**args)  # type: ignore[arg-type]


def soc_sensors(found: Discovery) -> dict[str, Sensor]:
    return {s.info.device: s for s in found.sensors if s.info.soc == "apple"}


def close(found: Discovery) -> None:
    for s in found.sensors:
        s.close()


# --------------------------------------------------------------------------- the parser


def test_recorded_output_gives_every_sample_in_watts() -> None:
    samples, model = parse_powermetrics(m2_text())
    assert model == "Mac14,9"
    assert samples_of(samples) == [
        (pytest.approx(as_watts(cpu, gpu, ane)), pytest.approx(ms / 1000))
        for cpu, gpu, ane, ms in M2_PRO
    ]


def test_a_sample_is_complete_at_its_combined_line() -> None:
    """No lag of one interval: the sample comes as soon as its Combined Power line does."""
    text = m2_text()
    upto = text.index("\n", text.index("Combined Power")) + 1
    parser = PowermetricsParser()
    (first,) = parser.feed(text[:upto])
    assert dict(first.power_w) == pytest.approx(as_watts(*M2_PRO[0][:3]))
    # the GPU section's repeated GPU Power is not a second sample, nor a second figure
    rest = text[upto : text.index(HEADER, upto)]
    assert "GPU Power" in rest and parser.feed(rest) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=12))
def test_output_cut_anywhere_parses_the_same(cuts: list[float]) -> None:
    text = m2_text()
    bounds = [0, *sorted({int(c * len(text)) for c in cuts}), len(text)]
    parser = PowermetricsParser()
    out: list[PartsSample] = []
    for a, b in itertools.pairwise(bounds):
        out += parser.feed(text[a:b])
    out += parser.finish()
    assert samples_of(out) == samples_of(parse_powermetrics(text)[0])


def test_partial_and_malformed_output_leaves_out_what_it_cannot_read() -> None:
    """partial.txt: sample 2's GPU Power reads "n/a" (and its GPU section has none), sample 3's
    header has no elapsed time, a stray error line, and the output ends in sample 4 halfway
    through its GPU Power line."""
    samples, _ = parse_powermetrics((DATA / "partial.txt").read_text())
    assert samples_of(samples) == [
        (pytest.approx({"cpu": 1.5, "gpu": 0.1, "ane": 0.0}), 1.0),
        (pytest.approx({"cpu": 9.0, "ane": 0.0}), 1.0),  # complete only at the next header
        (pytest.approx({"cpu": 4.0, "gpu": 2.0, "ane": 0.5}), None),
        (pytest.approx({"cpu": 3.0}), 1.0),
    ]


def test_units_and_the_first_figure_of_a_sample() -> None:
    text = textwrap.dedent(
        f"""\
        {HEADER} (Wed Mar  6 10:15:03 2024 +0100) (500.0ms elapsed) ***
        CPU Power: 2.5 W
        GPU Power: -3 mW
        GPU Power: 700 mW
        ANE Power: 1e3 mW
        ANE Power: 40 mW
        Combined Power (CPU + GPU + ANE): 3240 mW
        """
    )
    (sample,) = parse_powermetrics(text)[0]
    assert dict(sample.power_w) == pytest.approx({"cpu": 2.5, "gpu": 0.7, "ane": 0.04})
    assert sample.elapsed_s == pytest.approx(0.5)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_any_output_never_raises(text: str) -> None:
    parser = PowermetricsParser()
    for sample in parser.feed(f"{HEADER} (1.0ms elapsed) ***\n{text}") + parser.finish():
        assert set(sample.power_w) <= {"cpu", "gpu", "ane"}
        assert all(w >= 0 for w in sample.power_w.values())


# --------------------------------------------------------------------------- the sensors


def test_discovered_as_three_parts_of_one_reading(tmp_path: Path) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    fake.emit(cpu_mw=1200, gpu_mw=300, ane_mw=0)
    found = apple(tmp_path, fake, clock)
    try:
        assert fake.argv == list(COMMAND)
        parts = soc_sensors(found)
        assert list(parts) == ["cpu:soc", "gpu:soc", "npu:ane"]
        infos = [s.info for s in parts.values()]
        assert [i.component for i in infos] == ["cpu", "gpu", "npu"]
        for info in infos:
            assert (info.method, info.measured, info.soc) == ("powermetrics", True, "apple")
            assert info.model == "Apple silicon (Mac14,9)"
            assert "untested on Apple hardware" in info.reason
        # the SoC measures the CPU: no CPU model, no watts assumed for it; RAM is modelled
        cpu = [s.info for s in found.sensors if s.info.component == "cpu"]
        assert [i.device for i in cpu] == ["cpu:soc"]
        assert [a.component for a in found.assumptions] == ["ram"]
        assert found.notes[0].startswith("soc: Apple silicon (Mac14,9) via powermetrics")
        assert any(s.info.method == "ram-model" for s in found.sensors)
        assert not fake.closed
    finally:
        close(found)
    assert fake.closed  # the last part closed stops powermetrics


def test_each_sample_adds_power_times_its_elapsed_time(tmp_path: Path) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    fake.emit(cpu_mw=1200, gpu_mw=300, ane_mw=0)  # before the sensors: not counted
    found = apple(tmp_path, fake, clock)
    parts = soc_sensors(found)
    try:
        assert all(s.read().energy_j == 0.0 for s in parts.values())
        fake.emit(cpu_mw=8000, gpu_mw=12000, ane_mw=0, elapsed_ms=1000)
        fake.emit(cpu_mw=6000, gpu_mw=10000, ane_mw=1500, elapsed_ms=500)
        clock.advance(1.5)
        cpu, gpu, ane = (parts[d].read() for d in ("cpu:soc", "gpu:soc", "npu:ane"))
        assert cpu.energy_j == pytest.approx(8 * 1.0 + 6 * 0.5)
        assert gpu.energy_j == pytest.approx(12 * 1.0 + 10 * 0.5)
        assert ane.energy_j == pytest.approx(0 + 1.5 * 0.5)
        assert (cpu.power_w, gpu.power_w, ane.power_w) == pytest.approx((6.0, 10.0, 1.5))
        assert cpu.time_s == 1.5
        # until the next sample, the energy stays where the samples put it
        clock.advance(0.7)
        assert parts["cpu:soc"].read().energy_j == pytest.approx(11.0)
    finally:
        close(found)


def test_recorded_output_through_the_sensors(tmp_path: Path) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    first, *rest = pieces(m2_text())
    fake.emit_text(first)
    found = apple(tmp_path, fake, clock)
    parts = soc_sensors(found)
    try:
        for piece in rest:
            fake.emit_text(piece)
            clock.advance(1.0)
        energies = {d: s.read().energy_j for d, s in parts.items()}
        later = M2_PRO[1:]
        assert energies == {
            "cpu:soc": pytest.approx(sum(c / 1000 * ms / 1000 for c, _, _, ms in later)),
            "gpu:soc": pytest.approx(sum(g / 1000 * ms / 1000 for _, g, _, ms in later)),
            "npu:ane": pytest.approx(sum(a / 1000 * ms / 1000 for _, _, a, ms in later)),
        }
    finally:
        close(found)


def test_partial_output_holds_the_missing_figures_and_reports_each_kind_once(
    tmp_path: Path,
) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    first, *rest = pieces((DATA / "partial.txt").read_text())
    fake.emit_text(first)
    found = apple(tmp_path, fake, clock)
    parts = soc_sensors(found)
    cpu, gpu, ane = (parts[d] for d in ("cpu:soc", "gpu:soc", "npu:ane"))
    errors: dict[str, list[str]] = {d: [] for d in parts}

    def read_all() -> dict[str, float]:
        out = {}
        for device, sensor in parts.items():
            for _ in range(3):  # a problem is raised once, the next read has the energy
                try:
                    out[device] = sensor.read().energy_j
                    break
                except SensorError as exc:
                    errors[device].append(str(exc))
        return out

    try:
        for piece in rest:
            fake.emit_text(piece)
            clock.advance(1.0)
            read_all()
        fake.exit(0)
        energies = read_all()
        # sample 2 held GPU at 0.1 W; sample 3 (no elapsed) took sample 2's 1 s; sample 4
        # (cut short) had only its CPU figure: GPU and ANE held at 2 W and 0.5 W
        assert energies == {
            "cpu:soc": pytest.approx(9.0 + 4.0 + 3.0),
            "gpu:soc": pytest.approx(0.1 + 2.0 + 2.0),
            "npu:ane": pytest.approx(0.0 + 0.5 + 0.5),
        }
        no_gpu = "without a readable GPU Power: its previous power was held over that sample"
        no_elapsed = "without its elapsed time: the previous sample's was used"
        assert [no_gpu in e for e in errors["gpu:soc"]].count(True) == 1
        assert all(sum(no_elapsed in e for e in errs) == 1 for errs in errors.values())
        assert sum("readable ANE Power" in e for e in errors["npu:ane"]) == 1
        assert not any("GPU Power" in e or "ANE Power" in e for e in errors["cpu:soc"])
        # the end of powermetrics, once its last samples were returned
        for sensor in (cpu, gpu, ane):
            with pytest.raises(SensorError, match=r"exited with code 0.*not measured"):
                sensor.read()
    finally:
        close(found)


def test_the_end_of_powermetrics_comes_after_its_last_samples(tmp_path: Path) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    fake.emit(cpu_mw=1000, gpu_mw=0, ane_mw=0)
    found = apple(tmp_path, fake, clock)
    cpu = soc_sensors(found)["cpu:soc"]
    try:
        fake.emit(cpu_mw=4000, gpu_mw=0, ane_mw=0, elapsed_ms=2000)
        fake.exit(1, "powermetrics: sampler stopped")
        assert cpu.read().energy_j == pytest.approx(8.0)
        with pytest.raises(SensorError, match="code 1: powermetrics: sampler stopped"):
            cpu.read()
    finally:
        close(found)


def test_process_scope_attributes_the_cpu_part(tmp_path: Path) -> None:
    fake = FakePowermetrics()
    fake.emit(cpu_mw=1000, gpu_mw=100, ane_mw=10)
    found = apple(tmp_path, fake, FakeClock(), scope="process")
    try:
        by = {s.info.device: s.info for s in found.sensors}
        assert (by["cpu:soc"].method, by["cpu:soc"].host_wide) == ("powermetrics-share", False)
        assert "process tree's share" in by["cpu:soc"].reason
        assert by["cpu:soc"].soc == "apple"
        # the GPU and ANE are the machine's, counted once per host
        assert by["gpu:soc"].host_wide and by["npu:ane"].host_wide
        assert by["gpu:soc"].method == "powermetrics"
    finally:
        close(found)


def test_gpu_disabled_leaves_out_the_gpu_part(tmp_path: Path) -> None:
    fake = FakePowermetrics()
    fake.emit(cpu_mw=1000, gpu_mw=100, ane_mw=10)
    found = apple(tmp_path, fake, FakeClock(), gpu=False)
    try:
        assert list(soc_sensors(found)) == ["cpu:soc", "npu:ane"]
        assert any("gpu:soc not counted" in n for n in found.notes)
    finally:
        close(found)


def test_a_part_missing_from_the_first_sample_is_listed_unavailable(tmp_path: Path) -> None:
    fake = FakePowermetrics()
    fake.emit_text(f"{HEADER} (1000ms elapsed) ***\nCPU Power: 900 mW\nGPU Power: 20 mW\n")
    fake.emit_text(f"{HEADER} (1000ms elapsed) ***\n")  # closes the first sample
    found = apple(tmp_path, fake, FakeClock())
    try:
        assert list(soc_sensors(found)) == ["cpu:soc", "gpu:soc"]
        ane = next(c for c in found.candidates if c.device == "npu:ane")
        assert not ane.available and "no readable ANE Power" in ane.reason
    finally:
        close(found)


def test_powermetrics_that_fails_is_listed_with_its_reason(tmp_path: Path) -> None:
    fake = FakePowermetrics()
    fake.exit(1, "powermetrics must be invoked as the superuser")
    found = apple(tmp_path, fake, FakeClock())
    try:
        assert soc_sensors(found) == {}
        (why,) = [c for c in found.candidates if c.device == "soc:apple"]
        assert not why.available and "superuser" in why.reason and "sudo" in why.fix
        assert fake.closed
        # the CPU is then estimated, as on any host without a measured CPU
        assert any(s.info.component == "cpu" and not s.info.measured for s in found.sensors)
    finally:
        close(found)


def test_no_sample_in_time(tmp_path: Path) -> None:
    fake = FakePowermetrics()  # prints its preamble, then nothing
    why = open_powermetrics(fake, clock=FakeClock(), timeout_s=0.1)
    assert why == "powermetrics printed no complete sample within 0.1 s"
    assert fake.closed


def test_a_launcher_that_raises_something_unexpected_does_not_stop_discovery(
    tmp_path: Path,
) -> None:
    def broken(argv: Sequence[str]) -> TextSource:
        raise ValueError("a broken launcher")

    found = discover(
        scope="machine",
        gpu=False,
        env={},
        powercap_root=tmp_path / "none",
        hardware={"apple-soc": broken},
    )
    try:
        assert any(
            n.startswith("apple-soc: probing failed (ValueError: a broken launcher)")
            for n in found.notes
        )
        assert any(s.info.component == "cpu" for s in found.sensors)
    finally:
        close(found)


@pytest.mark.skipif(sys.platform == "darwin", reason="this checks a host that is not a Mac")
def test_elsewhere_it_is_listed_unavailable(tmp_path: Path) -> None:
    found = discover(scope="machine", gpu=False, env={}, powercap_root=tmp_path / "none")
    try:
        (why,) = [c for c in found.candidates if c.device == "soc:apple"]
        assert (why.component, why.available, why.soc) == ("soc", False, "apple")
        assert "not macOS" in why.reason
        assert all(s.info.soc == "" for s in found.sensors)
    finally:
        close(found)


# --------------------------------------------------------------------------- a real process


def test_a_real_process_printing_a_recording(tmp_path: Path) -> None:
    """ProcessText runs a program (here a script standing in for powermetrics) with
    non-blocking pipes: the recording is read as printed, its exit and errors reported."""
    script = tmp_path / "powermetrics"
    script.write_text(
        textwrap.dedent(
            f"""\
            import sys, time
            open({str(tmp_path / "argv")!r}, "w").write(" ".join(sys.argv[1:]))
            text = open({str(DATA / "m2-pro.txt")!r}).read()
            first, rest = text.split("GPU usage", 1)
            sys.stdout.write(first); sys.stdout.flush()
            time.sleep(0.3)
            sys.stdout.write("GPU usage" + rest); sys.stdout.flush()
            sys.stderr.write("powermetrics: done\\n")
            sys.exit(3)
            """
        )
    )

    def launch(argv: Sequence[str]) -> TextSource:
        return ProcessText([sys.executable, str(script), *argv[1:]])

    clock = FakeClock()
    found = apple(tmp_path, launch, clock)  # type: ignore[arg-type]
    parts = soc_sensors(found)
    try:
        assert (tmp_path / "argv").read_text() == " ".join(COMMAND[1:])
        cpu = parts["cpu:soc"]
        deadline = 100
        while deadline:
            try:
                energy_j = cpu.read().energy_j
            except SensorError as exc:
                assert "exited with code 3: powermetrics: done" in str(exc)
                break
            deadline -= 1
            time.sleep(0.05)
        assert deadline, "the process never ended"
        later = M2_PRO[1:]
        assert energy_j == pytest.approx(sum(c / 1000 * ms / 1000 for c, _, _, ms in later))
    finally:
        close(found)


def test_process_text_reports_a_program_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ProcessText([str(tmp_path / "no-such-program")])
    why = open_powermetrics(
        lambda argv: ProcessText([str(tmp_path / "no-such-program")]),
        clock=FakeClock(),
    )
    assert isinstance(why, str) and why.startswith("powermetrics could not be started")


def test_reader_counts_nothing_before_a_readable_sample() -> None:
    fake = FakePowermetrics()
    reader = SocReader(
        fake, PowermetricsParser(), name="powermetrics", labels={}, clock=FakeClock()
    )
    fake.emit_text(f"{HEADER} (1000ms elapsed) ***\nCPU Power: ?? mW\n")
    fake.emit(cpu_mw=500, gpu_mw=0, ane_mw=0)
    with reader.lock:
        reader.poll()
        assert reader.samples == 1 and reader.parts == ("cpu", "gpu", "ane")
        assert reader.energy_j("cpu") == 0.0
        assert reader.power_w("cpu") == pytest.approx(0.5)
    reader.close()
    assert fake.closed
