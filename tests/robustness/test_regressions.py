"""The hostile inputs of the robustness issue, one named test each: every one is answered
(one line, exit 2, or a clean refusal), none hangs, none poisons the ledger or clobbers a
file, and the inputs people already have (sacct's field sets, a forecast starting at the
next hour) are read."""

from __future__ import annotations

import json
import math
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbonledger.errors import InputError

from .conftest import Sandbox, count, make_ledger

SACCT_HEADER = "JobID|JobName|State|Start|ElapsedRaw|NCPUS|AllocTRES|TotalCPU|NodeList"


def _error_line(answer: object) -> str:
    err = getattr(answer, "err", "")
    (line,) = err.strip().splitlines()
    return line


# --- tracebacks ------------------------------------------------------------------------------


def test_when_forecast_binary_deep_or_long_is_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    binary = tmp_path / "forecast.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    long_line = tmp_path / "long.csv"
    long_line.write_text("timestamp,intensity_g_per_kwh\n" + "9" * 120_000 + ",1\n")
    for path, needle in ((binary, "not UTF-8"), (deep, "nested too deeply"),
                         (long_line, "line 2")):  # fmt: skip
        answer = sandbox.cli(["when", "--duration", "1h", "--zone", "FR", "--forecast", str(path)])
        assert answer.code == 2 and needle in _error_line(answer), answer.err


def test_import_slurm_binary_or_long_line_is_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    binary = tmp_path / "sacct.bin"
    binary.write_bytes(b"\xff\xfe" * 500)
    long_line = tmp_path / "sacct.txt"
    long_line.write_text("x" * 120_000 + "\n")
    for path, needle in ((binary, "not UTF-8"), (long_line, "header")):
        answer = sandbox.cli(["import", "slurm", str(path), "-l", "imp.sqlite"])
        assert answer.code == 2 and needle in _error_line(answer), answer.err
    assert not (sandbox.work / "imp.sqlite").exists()


def test_report_html_into_a_missing_folder(sandbox: Sandbox) -> None:
    target = sandbox.work / "no" / "such" / "folder" / "r.html"
    answer = sandbox.cli(["report", sandbox.run_ids[0], "--html", str(target)])
    assert answer.code == 2 and "does not exist" in _error_line(answer)
    ok = sandbox.cli(["report", sandbox.run_ids[0], "--html", "r.html"])
    assert ok.code == 0 and (sandbox.work / "r.html").read_text().startswith("<!")


def test_signing_key_variable_naming_a_folder(sandbox: Sandbox, tmp_path: Path) -> None:
    answer = sandbox.cli(["keys"], env={"CARBONLEDGER_SIGNING_KEY": str(tmp_path)}, codes=(1,))
    assert "is a folder" in _error_line(answer) and "Traceback" not in answer.err


# --- hangs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["when", "--duration", "1h", "--zone", "FR", "--forecast", "/dev/zero"],
        ["estimate", "/dev/zero"],
        ["import", "slurm", "/dev/zero", "-l", "never.sqlite"],
        ["import", "impact-framework", "/dev/zero", "-l", "never.sqlite"],
        ["decrypt", "/dev/zero", "-o", "plain.txt", "--key-env", "K"],
    ],
    ids=["when", "estimate", "import-slurm", "import-impact-framework", "decrypt"],
)
def test_a_device_is_refused_at_once(sandbox: Sandbox, args: list[str]) -> None:
    start = time.monotonic()
    answer = sandbox.cli(args, env={"K": "00" * 32})
    assert answer.code == 2 and "a device, not a regular file" in _error_line(answer)
    assert time.monotonic() - start < 2


def test_the_command_line_ends_on_dev_zero_in_a_real_process(tmp_path: Path) -> None:
    """The same as one process per command, as a user runs it (SIGTERM never needed)."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "carbonledger", "estimate", "/dev/zero"],
        capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path,
    )  # fmt: skip
    count("command line")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_monitor_duration_bounds_a_silent_pushgateway(tmp_path: Path) -> None:
    """A Pushgateway that accepts and never answers: --duration 1.5 still ends the command
    in about 1.5 s (each push gets at most the time left), with a warning, exit 0."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections (the kernel does), never answers
    port = silent.getsockname()[1]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    try:
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "carbonledger", "monitor", "--no-ledger", "--quiet",
             "--duration", "1.5", "--interval", "1", "--pushgateway",
             f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )  # fmt: skip
        took = time.monotonic() - start
    finally:
        silent.close()
    count("command line")
    assert done.returncode == 0, done.stderr
    assert "push to http://127.0.0.1" in done.stderr
    assert took < 1.5 + 4.0  # start-up and the end, never 2 s more per push


# --- accepted with exit 0 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--no-ledger", "--country", "", "--", "true"], "--country must not be empty"),
        (["run", "--no-ledger", "--on-budget", "explode", "--", "true"], "--on-budget"),
        (
            [
                "run",
                "--no-ledger",
                "--forecast",
                "/missing.csv",
                "--start-within",
                "1h",
                "--duration",
                "1h",
                "--",
                "true",
            ],
            "/missing.csv",
        ),
        (["when", "--duration", "1h", "--zone", "FR", "--timeout", "nan"], "--timeout"),
        (["when", "--duration", "1h", "--zone", "FR", "--timeout", "-1"], "--timeout"),
        (["when", "--duration", "1h", "--zone", "FR", "--timeout", "1e9"], "at most 600"),
        (["monitor", "--no-ledger", "--pushgateway", "ftp://x"], "--pushgateway"),
        (["monitor", "--no-ledger", "--pushgateway", "file:///etc/passwd"], "http://"),
        (
            [
                "estimate",
                "--params",
                "7e9",
                "--tokens",
                "1e12",
                "--accelerator",
                "H100",
                "--devices",
                "1e30",
                "--grid",
                "100",
            ],
            "devices must be at most",
        ),
        (
            [
                "estimate",
                "--params",
                "1e300",
                "--tokens",
                "1e12",
                "--accelerator",
                "H100",
                "--devices",
                "8",
                "--grid",
                "100",
            ],
            "params must be at most",
        ),
        (["runs", "--ledger", "mysql://x"], "mysql://"),
        (
            ["run", "--contry", "FR", "python", "train.py"],
            "no such option --contry; did you mean --country?",
        ),
    ],
    ids=[
        "country-empty",
        "on-budget",
        "forecast-missing",
        "timeout-nan",
        "timeout-negative",
        "timeout-huge",
        "pushgateway-ftp",
        "pushgateway-file",
        "devices-1e30",
        "params-1e300",
        "ledger-mysql",
        "mistyped-option",
    ],
)
def test_bad_option_is_exit_2_naming_it(sandbox: Sandbox, args: list[str], needle: str) -> None:
    answer = sandbox.cli(args)
    assert answer.code == 2 and needle in _error_line(answer), answer.err


# --- poisoned ledger ----------------------------------------------------------------------------


def test_import_impact_framework_of_an_alias_bomb_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A small YAML file whose aliases make a tree of 2**39 leaves: refused at once."""
    text = "x0: &x0 {outputs: [{duration: 1, energy: 1}]}\n"
    for i in range(1, 40):
        text += f"x{i}: &x{i} {{children: {{a: *x{i - 1}, b: *x{i - 1}}}}}\n"
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(text + "tree: *x39\n")
    answer = sandbox.cli(["import", "impact-framework", str(bomb), "-l", "bomb.sqlite"])
    assert answer.code == 2 and "larger than 100,000 nodes" in _error_line(answer), answer.err
    assert not (sandbox.work / "bomb.sqlite").exists()


def test_import_slurm_refuses_an_elapsed_time_of_1e308(sandbox: Sandbox, tmp_path: Path) -> None:
    sacct = tmp_path / "sacct.txt"
    sacct.write_text(
        f"{SACCT_HEADER}\n7|big|COMPLETED|2024-05-01T00:00:00|1e308|4|cpu=4,mem=8G||n1\n"
    )
    answer = sandbox.cli(
        ["import", "slurm", str(sacct), "-l", "poisoned.sqlite", "--grid-g-per-kwh", "1"]
    )
    assert answer.code == 2 and "ElapsedRaw" in _error_line(answer)
    assert not (sandbox.work / "poisoned.sqlite").exists()


def test_import_slurm_refuses_gpu_watts_nan(sandbox: Sandbox) -> None:
    sacct = sandbox.path("sacct.txt")
    answer = sandbox.cli(["import", "slurm", sacct, "-l", "nan.sqlite", "--gpu-watts", "nan"])
    assert answer.code == 2 and "--gpu-watts" in _error_line(answer)


def test_nothing_out_of_range_is_encoded_or_decoded() -> None:
    from carbonledger.events import (
        GENESIS,
        Batch,
        DecodeError,
        MemberFinished,
        decode_batch,
        encode_batch,
    )
    from carbonledger.models import ComponentEnergy

    cpu = ComponentEnergy("cpu", "cpu0", "m", True, 1.0, 1.0)
    for finished, energy in ((1e308, 1.0), (-5.0, 1.0), (1_700_000_000.0, 1e300)):
        comps = (ComponentEnergy("cpu", "cpu0", "m", True, energy, 1.0),)
        batch = Batch("r", "m", 1, GENESIS, 1_700_000_000.0, (MemberFinished("completed", comps,
                                                                           finished),))  # fmt: skip
        with pytest.raises(ValueError, match="out of range"):
            encode_batch(batch)
        count("batch")
    good = encode_batch(Batch("r", "m", 1, GENESIS, 1.7e9, (MemberFinished("completed", (cpu,),
                                                                            1.7e9),)))  # fmt: skip
    poisoned = good.replace('"finished_unix_s":1700000000.0', '"finished_unix_s":1e300')
    assert poisoned != good
    with pytest.raises(DecodeError, match="out of range"):
        decode_batch(poisoned)


def test_bad_rows_of_one_run_leave_the_others_readable(tmp_path: Path) -> None:
    """The issue's four rows: a member's components {"x":1} (the signed end overrules the
    column: B reads as signed), a window's invalid JSON, a non-numeric intensity, a start
    time of 1e300 (B is listed as damaged). Verify names B each time."""
    import shutil
    import sqlite3

    box = Sandbox(tmp_path)
    runs = ["aaaa1111run00001", "bbbb2222run00002", "cccc3333run00003"]
    Path(box.ledger).parent.mkdir(parents=True)
    with box.environment():
        make_ledger(box.ledger, runs)
    template = tmp_path / "template.sqlite"
    shutil.copy(box.ledger, template)
    edits = [  # (the edit, what B then reads as)
        ("UPDATE members SET components = '{\"x\":1}' WHERE run_id = ?", "completed"),
        ("UPDATE windows SET components = '[{' WHERE run_id = ?", "damaged"),
        ("UPDATE runs SET intensity_g_per_kwh = 'lots' WHERE run_id = ?", "damaged"),
        ("UPDATE runs SET started_unix_s = 1e300 WHERE run_id = ?", "damaged"),
    ]
    for sql, status in edits:
        for suffix in ("-wal", "-shm"):
            Path(box.ledger + suffix).unlink(missing_ok=True)
        shutil.copy(template, box.ledger)
        conn = sqlite3.connect(box.ledger, isolation_level=None)
        conn.execute(sql, (runs[1],))
        conn.close()
        listed = json.loads(box.cli(["runs", "--json", "--limit", "0"]).out)
        by_id = {r["run_id"]: r for r in listed}
        assert set(by_id) == set(runs), sql
        assert by_id[runs[1]]["status"] == status, sql
        assert by_id[runs[0]]["status"] == by_id[runs[2]]["status"] == "completed", sql
        assert runs[1][:8] in box.cli(["runs"]).out
        exported = box.cli(["export", "--jsonl", "-"]).out.splitlines()
        assert len(exported) == 3 and all(json.loads(line) for line in exported)
        assert box.cli(["report", runs[0], "--json"]).code == 0
        shown = box.cli(["show", runs[1], "--json"], codes=(1,))
        assert json.loads(shown.out)["status"] == by_id[runs[1]]["status"]
        verify = box.cli(["verify", "--json"], codes=(1,))
        assert any(p["ref"] == runs[1] for p in json.loads(verify.out)["problems"]), sql


# --- a clobbered file ---------------------------------------------------------------------------


def test_export_never_replaces_a_fifo_or_a_device(sandbox: Sandbox, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    answer = sandbox.cli(["export", "--jsonl", str(fifo)])
    assert answer.code == 2 and "FIFO" in _error_line(answer)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    device = sandbox.cli(["export", "--jsonl", "/dev/null"])
    assert device.code == 2 and "a device" in _error_line(device)
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


# --- the Python API ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"tags": ["a"]}, "tags must be a mapping"),
        ({"sensors": [1, 2]}, "sensors[0] must be a sensor"),
        ({"env": 5}, "env must be a mapping"),
        ({"command": 5}, "command must be a list"),
        ({"ledger": "a\x00b.sqlite"}, "NUL"),
        ({"pid": 2**63}, "pid must be a whole number between 1 and"),
        ({"ram_watts": 1e308}, "ram_watts must be a positive number of watts"),
        ({"expected_epochs": math.nan}, "expected_epochs must be a whole number"),
        ({"interval_s": "1"}, "interval_s must be a number"),
        ({"pue": "1.2"}, "pue must be a number between 1.0 and 3.0"),
        ({"country": ""}, "country must not be empty"),
        ({"ledger": "mysql://x"}, "mysql://"),
        ({"on_budget": "explode"}, "on_budget must be 'warn' or 'stop'"),
        ({"budget_kg": -1}, "budget_kg must be"),
        ({"ledger": 5}, "ledger must be a file path, a postgresql:// URL, a Ledger"),
        ({"wue_l_per_kwh": -1.0}, "wue_l_per_kwh"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_tracker_arguments_of_the_wrong_type_or_range(
    kwargs: dict[str, object], needle: str, tmp_path: Path
) -> None:
    import carbonledger as cl

    count("Python API")
    with pytest.raises(InputError) as err:
        cl.Tracker(**kwargs)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)
    assert needle in str(err.value)
    assert not (Path.cwd() / "a").exists()


# --- files that must not be loose ----------------------------------------------------------------


def test_a_trusted_keys_file_others_can_write_is_refused(sandbox: Sandbox) -> None:
    trusted = Path(sandbox.env["XDG_CONFIG_HOME"]) / "carbonledger" / "trusted_keys"
    trusted.parent.mkdir(parents=True, exist_ok=True)
    trusted.write_text((Path(sandbox.path("signer.pub"))).read_text())
    try:
        trusted.chmod(0o666)
        answer = sandbox.cli(["verify"])
        assert answer.code == 2 and "chmod 644" in _error_line(answer), answer.err
        trusted.chmod(0o644)
        assert sandbox.cli(["verify"]).code == 0
    finally:
        trusted.unlink()


def test_an_export_key_others_can_read_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    key = tmp_path / "loose.key"
    key.write_bytes(bytes(range(32)))
    key.chmod(0o644)
    answer = sandbox.cli(["export", "--jsonl", "e.enc", "--encrypt", "--key-file", str(key)])
    assert answer.code == 2 and "chmod 600" in _error_line(answer)
    assert not (sandbox.work / "e.enc").exists()


# --- messages that mislead ----------------------------------------------------------------------


def test_sync_names_the_ledger_it_replayed_into(tmp_path: Path) -> None:
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    box = Sandbox(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with box.environment():
        clock = FakeClock()
        sensor = FakeSensor(SensorInfo("cpu", "cpu0", "fake", True, True), 10.0, clock)
        with cl.Tracker("p", ledger=str(blocker / "l.sqlite"), sensors=[sensor], clock=clock,
                        grid_g_per_kwh=100, handle_signals=False, embodied=False):  # fmt: skip
            clock.advance(5)
    good = str(tmp_path / "good.sqlite")
    answer = box.cli(["sync", "--ledger", good])
    assert answer.code == 0 and f"-> {good}" in answer.out and str(blocker) not in answer.out


def test_a_ledger_at_the_file_size_limit_says_the_disk_is_full(tmp_path: Path) -> None:
    script = (
        "import sys\nsys.path.insert(0, sys.argv[2])\n"
        "from tests.robustness.conftest import make_ledger\n"
        "make_ledger(sys.argv[1], ['r%d' % i for i in range(40)])\n"
    )
    root = str(Path(__file__).resolve().parents[2])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, resource.RLIM_INFINITY))

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "l.sqlite"), root],
        capture_output=True, text=True, timeout=120, env=env, preexec_fn=limit,
    )  # fmt: skip
    assert "the disk is full" in done.stderr and "ulimit -f" in done.stderr, done.stderr[-2000:]
    assert "disk I/O error)" not in done.stderr.replace("disk I/O error:", "")


def test_a_short_password_is_masked_only_where_it_is_the_password() -> None:
    from carbonledger.ledger.transports.postgres import mask_secret

    url = "postgresql://ada:p@db.example:5432/runs"
    text = f'connection to server at "db.example", port 5432 failed for {url}; password=p'
    masked = mask_secret(text, url)
    assert "port 5432" in masked and "***ort" not in masked
    assert ":p@" not in masked and "password=***" in masked
    long_url = "postgresql://ada:s3cret-pw@h/db"
    assert "s3cret-pw" not in mask_secret("auth failed: s3cret-pw rejected", long_url)


def test_a_ledger_on_a_read_only_file_system_is_called_read_only(tmp_path: Path) -> None:
    source, mount = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    mount.mkdir()
    box = Sandbox(tmp_path / "box")
    with box.environment():
        make_ledger(str(source / "l.sqlite"), ["r1"])
    binds = (["mount", "--bind", str(source), str(mount)],
             ["mount", "-o", "remount,bind,ro", str(mount)])  # fmt: skip
    for cmd in binds:
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            pytest.skip("cannot make a read-only bind mount here (needs root)")
    try:
        ledger = str(mount / "l.sqlite")
        assert box.cli(["runs", "-l", ledger]).code == 0  # reading works
        answer = box.cli(["metric", "r1", "loss", "1", "-l", ledger], codes=(1,))
        line = _error_line(answer)
        assert "read-only" in line and "restore a backup" not in line, line
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# --- inputs people already have -----------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["parsable2", "parsable", "noheader", "alloccpus-elapsed-cputimeraw"]
)
def test_sacct_field_sets_sites_keep(variant: str) -> None:
    from carbonledger.run.slurm import SACCT_FIELDS, parse_sacct

    count("sacct")
    fields = SACCT_FIELDS.split(",")
    row = {"JobID": "42", "JobName": "train", "Partition": "gpu", "Account": "ml",
           "User": "ada", "State": "COMPLETED", "Start": "2024-05-01T10:00:00",
           "End": "2024-05-01T12:00:00", "ElapsedRaw": "7200", "NNodes": "1", "NCPUS": "16",
           "AllocTRES": "cpu=16,mem=64G,gres/gpu:a100=2", "TotalCPU": "16:00:00",
           "NodeList": "n1"}  # fmt: skip
    if variant == "alloccpus-elapsed-cputimeraw":
        fields = ["JobID", "State", "Start", "Elapsed", "AllocCPUS", "AllocTRES", "CPUTimeRAW"]
        row.update(Elapsed="02:00:00", AllocCPUS="16", CPUTimeRAW="115200")
    line = "|".join(row[f] for f in fields)
    header = "|".join(fields)
    text = {
        "parsable2": f"{header}\n{line}\n",
        "parsable": f"{header}|\n{line}|\n",
        "noheader": f"{line}\n",
        "alloccpus-elapsed-cputimeraw": f"{header}\n{line}\n",
    }[variant]
    (job,) = parse_sacct(text)
    assert (job.job_id, job.duration_s, job.cpus, job.gpus) == ("42", 7200.0, 16, 2)
    expected_util = None if variant == "alloccpus-elapsed-cputimeraw" else 0.5
    assert job.cpu_utilisation == expected_util


def test_sacct_without_a_needed_field_names_it() -> None:
    from carbonledger.run.slurm import parse_sacct

    with pytest.raises(InputError, match=r"the CPU count \(NCPUS or AllocCPUS\)"):
        parse_sacct("JobID|Start|ElapsedRaw|AllocTRES\n1|2024-05-01T00:00:00|60|cpu=1\n")
    with pytest.raises(InputError, match=r"the elapsed time \(ElapsedRaw or Elapsed\)"):
        parse_sacct("JobID|Start|NCPUS|AllocTRES\n1|2024-05-01T00:00:00|1|cpu=1\n")


def test_a_forecast_starting_at_the_next_hour_still_plans(sandbox: Sandbox, tmp_path: Path) -> None:
    """An hourly file that begins at the next full hour: the start now is not covered and is
    skipped; the 3x cleaner hours 14 h later are chosen."""
    now = time.time()
    first = (int(now) // 3600 + 1) * 3600
    rows = ["timestamp,intensity_g_per_kwh"]
    for h in range(24):
        rows.append(f"{first + 3600 * h},{100 if 14 <= h < 17 else 300}")
    path = tmp_path / "next-hour.csv"
    path.write_text("\n".join(rows) + "\n")
    answer = sandbox.cli(["when", "--duration", "2h", "--within", "20h", "--zone", "FR",
                          "--forecast", str(path), "--json"])  # fmt: skip
    plan = json.loads(answer.out)
    assert not plan["fallback_used"], plan
    assert plan["start_unix_s"] == first + 14 * 3600
    assert plan["intensity_at_start_g_per_kwh"] == 100 and plan["intensity_now_g_per_kwh"] is None
