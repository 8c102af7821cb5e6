"""The per-user TDP lookup cache: same answers as the table, robust to a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonledger.sensors.cpu import tdp as cpu_model


@pytest.fixture
def cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "carbonledger" / "cpu-tdp.json"


@pytest.mark.parametrize(
    "name", ["AMD EPYC 7763 64-Core Processor", "Intel(R) Xeon(R) Processor", "Pentium 4 Turbo 9"]
)
def test_cached_answer_equals_table_answer(cache_home: Path, name: str) -> None:
    first = cpu_model.lookup_tdp(name)
    assert cache_home.exists()
    assert name in json.loads(cache_home.read_text())["entries"]
    second = cpu_model.lookup_tdp(name)
    assert first == second == cpu_model.find_tdp(name)


def test_cache_is_used_when_stamp_matches(cache_home: Path) -> None:
    name = "AMD EPYC 7763 64-Core Processor"
    cpu_model.lookup_tdp(name)
    data = json.loads(cache_home.read_text())
    data["entries"][name]["tdp_w"] = 1.0  # proves the cache is read (never do this by hand)
    cache_home.write_text(json.dumps(data))
    assert cpu_model.lookup_tdp(name).tdp_w == 1.0
    data["table"] = "0:0"  # a different table: the cache no longer applies
    cache_home.write_text(json.dumps(data))
    assert cpu_model.lookup_tdp(name).tdp_w == cpu_model.find_tdp(name).tdp_w


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"table": 1, "entries": 5}'])
def test_bad_cache_file_falls_back(cache_home: Path, content: str) -> None:
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text(content)
    name = "AMD EPYC 7763 64-Core Processor"
    assert cpu_model.lookup_tdp(name) == cpu_model.find_tdp(name)


def test_unwritable_cache_still_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    name = "AMD EPYC 7763 64-Core Processor"
    assert cpu_model.lookup_tdp(name) == cpu_model.find_tdp(name)


def test_a_fifo_or_an_oversized_cache_is_ignored_and_left_alone(cache_home: Path) -> None:
    import os
    import stat

    from carbonledger._files import CACHE_MAX_BYTES

    name = "AMD EPYC 7763 64-Core Processor"
    cache_home.parent.mkdir(parents=True)
    os.mkfifo(cache_home)  # nobody writes to it: reading it would block for ever
    assert cpu_model.lookup_tdp(name) == cpu_model.find_tdp(name)
    assert stat.S_ISFIFO(os.lstat(cache_home).st_mode)  # not replaced, not written into
    cache_home.unlink()
    cache_home.write_text('{"pad": "' + "x" * CACHE_MAX_BYTES + '"}')
    assert cpu_model.lookup_tdp(name) == cpu_model.find_tdp(name)
    assert name in json.loads(cache_home.read_text())["entries"]  # rewritten, small again
