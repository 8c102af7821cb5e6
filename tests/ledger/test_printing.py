"""Names, tags and ids reach the terminal escaped: no control character or bidirectional
override from a run's record is printed as is."""

from __future__ import annotations

from carbonledger.models import ComponentEnergy, RunSummary, WindowSummary
from carbonledger.report.text import format_summary, printable


def test_printable_escapes_controls_and_overrides() -> None:
    assert printable("resnet-50 é 日本") == "resnet-50 é 日本"
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("x\r\ny\t\x7f\x9b") == "x\\x0d\\x0ay\\x09\\x7f\\x9b"
    assert printable("abc\u202edcba") == "abc\\u202edcba"
    assert printable("\u2066z") == "\\u2066z"


def test_format_summary_escapes_every_name() -> None:
    cpu = ComponentEnergy("cpu", "cpu:\x1b]0;pwned\x07", "rapl\r", True, 3600.0, 10.0)
    summary = RunSummary(
        run_id="run\x1b[1A",
        project="p\u202e",
        experiment="e\n",
        status="completed",
        started_unix_s=0.0,
        duration_s=10.0,
        components=(cpu,),
        intensity_g_per_kwh=50.0,
        intensity_source="table\x1b",
        location="FR\r",
        location_source="arg",
        pue=1.0,
        pue_source="arg",
        windows=(WindowSummary("w", "epoch\x1b", 0.0, 1.0, (cpu,)),),
        errors=("boom\x1b[31m",),
    )
    text = format_summary(summary, equivalents=False)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text and "\x07" not in text
    assert text.count("\n") == len(text.splitlines()) - 1  # no line but the ones we make
    assert "run\\x1b[1A" in text and "boom\\x1b[31m" in text
