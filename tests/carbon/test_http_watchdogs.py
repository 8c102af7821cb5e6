"""One thread watches every HTTP call's deadline: calls at the same time keep their own
deadlines, a call starts no thread of its own, and a forked child still has its deadlines."""

from __future__ import annotations

import os
import threading
import time
import warnings

import pytest

from carbonledger._http import DeadlineError, fetch

from .conftest import LocalServer, Reply


def test_concurrent_calls_keep_their_own_deadlines(server: LocalServer) -> None:
    server.routes[("GET", "/slow")] = Reply(200, "x" * 40, trickle_s=1.0)
    server.routes[("GET", "/ok")] = Reply(body="fine")
    outcome: dict[str, tuple[str, float]] = {}

    def call(name: str, path: str, timeout_s: float) -> None:
        t0 = time.monotonic()
        try:
            fetch(server.url(path), timeout_s=timeout_s)
            outcome[name] = ("ok", time.monotonic() - t0)
        except DeadlineError:
            outcome[name] = ("deadline", time.monotonic() - t0)

    threads = [
        threading.Thread(target=call, args=("long", "/slow", 1.5)),
        threading.Thread(target=call, args=("short", "/slow", 0.4)),
        threading.Thread(target=call, args=("fast", "/ok", 5.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome["fast"][0] == "ok" and outcome["fast"][1] < 1.0
    assert outcome["short"][0] == "deadline" and 0.35 < outcome["short"][1] < 1.2
    assert outcome["long"][0] == "deadline" and 1.4 < outcome["long"][1] < 2.5


def test_calls_start_no_thread_of_their_own(server: LocalServer) -> None:
    server.routes[("GET", "/ok")] = Reply(body="fine")
    for _ in range(20):
        assert fetch(server.url("/ok"), timeout_s=5).text == "fine"
    watchers = [t for t in threading.enumerate() if t.name == "carbonledger-http"]
    assert len(watchers) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_keeps_its_deadlines(server: LocalServer) -> None:
    server.routes[("GET", "/ok")] = Reply(body="fine")
    # a byte every 0.1 s: every read is short, only the watcher ends the call (in 6 s else)
    server.routes[("GET", "/slow")] = Reply(200, "x" * 60, trickle_s=0.1)
    fetch(server.url("/ok"), timeout_s=5)  # the parent's watcher runs
    with warnings.catch_warnings():  # Python 3.12 warns of fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: its own watcher, or the trickle would hold it for 6 s
        code = 1
        try:
            t0 = time.monotonic()
            try:
                fetch(server.url("/slow"), timeout_s=0.5)
            except DeadlineError:
                code = 0 if time.monotonic() - t0 < 2 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
