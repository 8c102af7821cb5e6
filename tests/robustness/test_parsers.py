"""Every parser and importer, given hostile text (hypothesis): it returns values in range or
raises :class:`~carbonledger.errors.InputError` (a ``ValueError``) saying what is wrong,
never another exception, never a hang. Forecast CSV/JSON, sacct output, prediction specs,
config files, key files, ledger locations, durations, sizes, numbers."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger import _inputs
from carbonledger.errors import InputError

from .conftest import count, watchdog

FAST = settings(
    max_examples=250,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: hostile pieces to splice into structured input
PIECES = st.sampled_from(
    ["", "nan", "inf", "-inf", "1e309", "-1", "1e300", "0", "x", "\x00", "\n", '"', "'", "|",
     ",", "[", "{", "9" * 400, "2024-13-45T99:99:99", "0000-00-00", "9999-12-31T23:59:59",
     "-2024-01-01", "1e308", "\u2028", "\ufeff", "=", "mem=1e308G", "gres/gpu=-3"]
)  # fmt: skip
FIELD = st.one_of(PIECES, st.text(max_size=20), st.floats().map(repr), st.integers().map(str))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)  # fmt: skip


@contextmanager
def _file(data: bytes, suffix: str = "") -> Iterator[str]:
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        os.write(fd, data)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


def _answered(kind: str, parse: Callable[[], Any]) -> Any:
    """Run ``parse``: its result, or None when it refused with InputError; anything else (or
    a hang) fails the test."""
    count(kind)
    with watchdog(3.0):
        try:
            return parse()
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc).strip(), repr(exc)
            return None


def _check_forecast(data: bytes, suffix: str) -> None:
    from carbonledger.carbon.providers.file import FileIntensityProvider

    with _file(data, suffix) as path:
        provider = _answered("forecast file", lambda: FileIntensityProvider(path))
    if provider is None:
        return
    for hours in provider._hours.values():
        for hour, value in hours.items():
            assert 0 <= hour <= _inputs.MAX_UNIX_S and 0 <= value <= 2000


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_forecast_files_of_any_bytes(data: bytes) -> None:
    _check_forecast(data, ".csv")
    _check_forecast(data, ".json")


@FAST
@given(st.lists(st.tuples(FIELD, FIELD, FIELD), max_size=6))
def test_forecast_csv_rows_of_hostile_fields(rows: list[tuple[str, str, str]]) -> None:
    lines = ["timestamp,intensity_g_per_kwh,zone"] + [",".join(r) for r in rows]
    _check_forecast("\n".join(lines).encode("utf-8", "surrogatepass"), ".csv")


@FAST
@given(JSON_VALUES)
def test_forecast_json_of_any_shape(value: Any) -> None:
    _check_forecast(json.dumps(value).encode(), ".json")
    rows = [{"timestamp": value, "intensity_g_per_kwh": value}]
    _check_forecast(json.dumps(rows).encode(), ".json")


SACCT_FIELDS = ["JobID", "State", "Start", "ElapsedRaw", "NCPUS", "AllocTRES", "TotalCPU"]


@FAST
@given(st.lists(st.lists(FIELD, min_size=7, max_size=7), max_size=4), st.booleans())
def test_sacct_rows_of_hostile_fields(rows: list[list[str]], parsable: bool) -> None:
    from carbonledger.run.slurm import parse_sacct

    end = "|" if parsable else ""
    text = "|".join(SACCT_FIELDS) + end + "\n"
    for row in rows:
        row[0] = row[0].replace(".", "") or "1"  # mostly allocations, not steps
        text += "|".join(row) + end + "\n"
    jobs = _answered("sacct", lambda: parse_sacct(text))
    for job in jobs or ():
        assert 0 <= job.duration_s <= _inputs.MAX_DURATION_S
        assert 0 <= job.started_unix_s <= _inputs.MAX_UNIX_S
        assert job.cpus >= 0 and job.gpus >= 0 and 0 <= job.mem_bytes <= 1e18
        assert job.cpu_utilisation is None or 0 <= job.cpu_utilisation <= 1


@FAST
@given(st.text(max_size=400))
def test_sacct_of_any_text(text: str) -> None:
    from carbonledger.run.slurm import parse_sacct

    _answered("sacct", lambda: parse_sacct(text))


@settings(FAST, deadline=6000)  # YAML nested by indentation ends in a slow RecursionError
@given(st.text(max_size=300) | st.sampled_from(["[" * 5000, "{a: " * 3000, "&a [*a, *a]"]))
def test_specs_of_any_text(text: str) -> None:
    from carbonledger.predict import parse_spec

    def parse() -> Any:
        spec = parse_spec(text, "spec.yaml")
        return spec.training(), spec.inference()

    _answered("spec", parse)


SPEC_KEYS = {
    "model": ["params", "active_params"],
    "training": ["tokens", "recompute", "flops"],
    "hardware": ["accelerator", "devices", "lifetime_years"],
    "measured": ["device_hours", "mfu", "avg_power_w"],
    "datacenter": ["pue", "grid_g_per_kwh", "zone"],
}


@FAST
@given(st.data())
def test_specs_with_hostile_values(data: st.DataObject) -> None:
    import yaml

    from carbonledger.predict import parse_spec

    spec: dict[str, dict[str, Any]] = {
        "model": {"params": "7B"},
        "training": {"tokens": "2T"},
        "hardware": {"accelerator": "H100", "devices": 8},
        "datacenter": {"grid_g_per_kwh": 100},
    }
    for _ in range(data.draw(st.integers(1, 3))):
        section = data.draw(st.sampled_from(sorted(SPEC_KEYS)))
        key = data.draw(st.sampled_from(SPEC_KEYS[section]))
        value = data.draw(FIELD | st.floats() | st.integers())
        spec.setdefault(section, {})[key] = value
    text = yaml.safe_dump(spec)

    def parse() -> Any:
        est = parse_spec(text, "spec.yaml").training()
        if est is not None:
            for name in ("energy_mwh", "co2e_t", "device_hours"):
                value = getattr(est, name, 0.0)
                assert math.isfinite(value) and value >= 0, (name, value, text)
        return est

    _answered("spec", parse)


CONFIG_KEYS = ["project", "country", "pue", "grid_g_per_kwh", "interval_s", "cpu_watts",
               "ram_watts", "scope", "ledger", "gpu", "market_g_per_kwh"]  # fmt: skip
TOML_VALUES = st.sampled_from(
    ['""', '"x"', "1e309", "nan", "inf", "-1", "0", "1e300", "true", "[1]", "{a = 1}",
     '"mysql://x"', '"a\\u0000b"', "99999999999999999999999999", "2024-01-01", '"1.2"']
)  # fmt: skip


@FAST
@given(st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), TOML_VALUES), max_size=4))
def test_config_files_with_hostile_values(pairs: list[tuple[str, str]]) -> None:
    from carbonledger.run.settings import resolve

    text = "".join(f"{k} = {v}\n" for k, v in dict(pairs).items())
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "carbonledger.toml").write_text(text)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            settings_ = _answered(
                "config file", lambda: resolve({}, env={"XDG_CONFIG_HOME": folder})
            )
        finally:
            os.chdir(cwd)
    if settings_ is not None:
        loc, sampling = settings_.location, settings_.sampling
        assert loc.pue is None or 1 <= loc.pue <= 3
        assert loc.grid_g_per_kwh is None or 0 <= loc.grid_g_per_kwh <= 2000
        assert 0.01 <= sampling.interval_s <= 86400
        for watts in (sampling.cpu_watts, sampling.ram_watts):
            assert watts is None or 0 < watts <= _inputs.MAX_WATTS


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_config_files_of_any_bytes(data: bytes) -> None:
    from carbonledger.run.config import load_settings

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "carbonledger.toml").write_bytes(data)
        _answered("config file", lambda: load_settings(env={"XDG_CONFIG_HOME": folder}, cwd=folder))


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_key_files_of_any_bytes(data: bytes) -> None:
    from carbonledger.ledger.keys import load_or_create_signing_key, load_trusted_keys
    from carbonledger.report.crypto import load_key

    with _file(data) as path:
        os.chmod(path, 0o600)
        key = _answered("key file", lambda: load_key(key_file=path))
        assert key is None or len(key) == 32
        _answered("key file", lambda: load_trusted_keys([path], env={}, user_file=False))
        count("key file")
        with watchdog(3.0):
            try:
                load_or_create_signing_key(path, create=False)
            except (InputError, Exception) as exc:
                from carbonledger.errors import CarbonLedgerError

                assert isinstance(exc, CarbonLedgerError), repr(exc)


@FAST
@given(
    st.text(max_size=60)
    | st.sampled_from(
        ["mysql://x", "sqlite:///x", "postgresql:/x", "file:///etc/passwd", "/dev/zero", "-"]
    )
)
def test_ledger_locations(target: str) -> None:
    from carbonledger.ledger import open_ledger
    from carbonledger.ledger.transports import check_target, scheme_of

    checked = _answered("ledger location", lambda: check_target(target))
    if checked is None or scheme_of(checked) in ("postgresql", "postgres"):
        return
    with tempfile.TemporaryDirectory() as folder:
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            count("ledger location")
            with watchdog(3.0):
                try:
                    open_ledger(checked, create=False, read_only=True).close()
                except Exception as exc:
                    from carbonledger.errors import CarbonLedgerError

                    assert isinstance(exc, CarbonLedgerError), repr(exc)
        finally:
            os.chdir(cwd)


@FAST
@given(st.text(max_size=30) | st.builds(lambda n, u: f"{n}{u}", st.floats().map(repr) |
       st.integers().map(str), st.sampled_from(["", "s", "m", "min", "h", "d", "x", " h"])))  # fmt: skip
def test_durations(text: str) -> None:
    seconds = _answered("duration", lambda: _inputs.duration_s(text, "--duration"))
    assert seconds is None or 0 < seconds <= _inputs.MAX_DURATION_S


@FAST
@given(st.floats(0.001, 1e5), st.sampled_from(["s", "m", "h", "d"]))
def test_durations_read_back(number: float, unit: str) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    seconds = _answered("duration", lambda: _inputs.duration_s(f"{number!r}{unit}"))
    if number * scale <= _inputs.MAX_DURATION_S:
        assert seconds is not None and math.isclose(seconds, number * scale)


@FAST
@given(FIELD)
def test_memory_sizes_of_sacct(size: str) -> None:
    from carbonledger.run.slurm import parse_sacct

    text = ("JobID|Start|ElapsedRaw|NCPUS|AllocTRES\n"
            f"1|2024-05-01T00:00:00|60|1|cpu=1,mem={size}\n")  # fmt: skip
    jobs = _answered("size", lambda: parse_sacct(text))
    for job in jobs or ():
        assert 0 <= job.mem_bytes <= 1e18


NUMBER_CHECKS: list[tuple[Callable[..., float], float, float]] = [
    (_inputs.watts, 0.0, _inputs.MAX_WATTS),
    (_inputs.pue, 1.0, 3.0),
    (_inputs.intensity_g_per_kwh, 0.0, 2000.0),
    (_inputs.timeout_s, 0.0, 600.0),
    (_inputs.unix_time_s, 0.0, _inputs.MAX_UNIX_S),
]


@FAST
@given(st.sampled_from(range(len(NUMBER_CHECKS))),
       st.one_of(st.floats(), st.integers(), st.text(max_size=10), st.booleans(), st.none()))  # fmt: skip
def test_numbers(which: int, value: Any) -> None:
    check, low, high = NUMBER_CHECKS[which]
    out = _answered("number", lambda: check(value, "value"))
    assert out is None or (low <= out <= high and not isinstance(value, (bool, str)))
