"""Every test runs in its own user folders: no test reads or writes the real user's config
(signing key, trusted keys), data (ledger, journals) or cache, whatever its own fixtures do.

A real PostgreSQL server for the session (``postgres_server``, ``pg_url``: the ledger's and
the dashboard's PostgreSQL tests share it). The server is Debian's ``postgresql`` (``make
postgres`` installs it): ``initdb`` and ``pg_ctl`` from PATH or
``/usr/lib/postgresql/*/bin``, a data folder in a temporary directory, a free port on
127.0.0.1 and the unix socket in that directory. As root the server runs as the
``postgres`` user. When it cannot start, the PostgreSQL tests are skipped and the reason is
printed in the summary (``-ra``), never silently.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

#: launcher variables that would make a test's tracker join another run
LAUNCHER_VARIABLES = (
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "LOCAL_RANK",
    "RANK",
    "CUDA_VISIBLE_DEVICES",
)


@pytest.fixture(autouse=True)
def _isolated_user_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for name in list(os.environ):
        if name.startswith("CARBONLEDGER_") or name in LAUNCHER_VARIABLES:
            monkeypatch.delenv(name, raising=False)


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PgServer:
    def __init__(self) -> None:
        self.initdb = _find("initdb")
        self.pg_ctl = _find("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="carbonledger-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.prefix: list[str] = []
        self.as_user: str | None = None

    def _cmd(self, args: Sequence[str]) -> list[str]:
        if self.as_user is None:
            return list(args)
        if shutil.which("runuser"):
            return ["runuser", "-u", self.as_user, "--", *args]
        return ["su", self.as_user, "-c", shlex.join(args)]

    def _run(self, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._cmd(args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self) -> str:
        """Start the server; return the reason it cannot start, or '' when it runs."""
        if not (self.initdb and self.pg_ctl):
            return (
                "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
                "/usr/lib/postgresql/*/bin; run 'make postgres' (Debian's postgresql package)"
            )
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the server as"
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = "postgres"
        os.chmod(self.root, 0o700)
        init = self._run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            return f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}"
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = self._run(
            [
                self.pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if start.returncode != 0:
            tail = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
            return f"pg_ctl start failed: {(start.stderr or start.stdout).strip()[-300:]} {tail}"
        return ""

    def stop(self) -> None:
        if self.pg_ctl and self.data.exists():
            self._run(
                [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"], timeout=60
            )
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL (no database) of a PostgreSQL server running for this test session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install carbonledger[postgres]")
    server = _PgServer()
    reason = server.start()
    if reason:
        server.stop()
        pytest.skip(f"PostgreSQL server could not start: {reason}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
