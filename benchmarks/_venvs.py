"""The benchmark's venvs (one per tool, plus an empty one) and the machine description."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


class MetricError(Exception):
    """A measurement or an install that failed; its message goes into the table cell."""


@dataclass
class Venv:
    name: str
    path: Path
    error: str | None = None
    note: str = ""

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env(home: str | None = None) -> dict[str, str]:
    """The environment for the tools' interpreters: none of ours leaks into theirs. With
    ``home``, the user's home, config, data and cache folders all point inside it, so a
    tool's first-run files (keys, caches, spools) never touch the real user's."""
    env = dict(os.environ)
    for name in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    for name in list(env):
        if name.startswith(("CARBONLEDGER_", "CODECARBON_")):
            env.pop(name)
    if home is not None:
        env["HOME"] = home
        for var, sub in (
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
            ("XDG_STATE_HOME", ".local/state"),
        ):
            env[var] = os.path.join(home, sub)
    return env


# ----------------------------------------------------------------------------- machine


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def source_revision() -> str:
    """The commit of the tree being benchmarked, and whether src/ has uncommitted changes."""
    try:
        git = ["git", "-C", str(REPO)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in src/" if dirty else "")


def _first(path: str, prefix: str) -> str | None:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    cpu = _first("/proc/cpuinfo", "model name") or platform.machine()
    mem_kb = _first("/proc/meminfo", "MemTotal")
    flags = _first("/proc/cpuinfo", "flags") or ""
    rapl = sorted(Path("/sys/class/powercap").glob("intel-rapl:*/energy_uj"))
    readable = any(os.access(p, os.R_OK) for p in rapl)
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "memory_gb": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "virtualisation": "hypervisor" if "hypervisor" in flags.split() else "bare metal",
        "python": platform.python_version(),
        "python_executable": getattr(sys, "_base_executable", sys.executable),
        "platform": platform.platform(),
        "rapl": "readable" if readable else ("present, unreadable" if rapl else "none"),
        "nvidia_gpu": bool(shutil.which("nvidia-smi")) or Path("/proc/driver/nvidia").exists(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg_at_start": loadavg(),
        "carbonledger_source": source_revision(),
    }


# ----------------------------------------------------------------------------- venvs


def _pip(python: Path, args: Sequence[str], timeout: float = 1800) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", "--no-input", *args]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        # pip's "ignored location" warnings are noise; keep the real error lines
        lines = [
            ln
            for ln in (proc.stderr + proc.stdout).splitlines()
            if "is ignored: it is neither" not in ln
        ]
        raise MetricError(f"pip install {' '.join(args)} failed:\n" + "\n".join(lines[-25:]))


def _stamp_data(name: str, requirements: Sequence[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "python": platform.python_version(),
        # by its real path: `make bench` (.venv/bin/python) and `python3` reach the same
        # binary under different names, and must reuse the same venvs
        "base": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        "requirements": list(requirements),
    }
    if name == "carbonledger":
        try:
            pyproject = (REPO / "pyproject.toml").read_bytes()
            data["pyproject"] = hashlib.sha256(pyproject).hexdigest()[:16]
        except OSError:
            data["pyproject"] = "?"
    return data


def ensure_venv(bench_dir: Path, name: str, requirements: Sequence[str]) -> Venv:
    """Create the venv (or reuse it when its stamp matches) and install ``requirements``.
    carbonledger's own package is reinstalled from the working tree at every run."""
    venv = Venv(name, bench_dir / name)
    wanted = _stamp_data(name, requirements)
    stamp = venv.path / ".bench-stamp.json"
    try:
        try:
            reuse = venv.python.exists() and json.loads(stamp.read_text()) == wanted
        except (OSError, ValueError):
            reuse = False
        if reuse:
            if name == "carbonledger":
                _pip(venv.python, ["--force-reinstall", "--no-deps", str(REPO)])
                venv.note = "reused, package reinstalled from the working tree"
            else:
                venv.note = "reused"
            return venv
        if venv.path.exists():
            shutil.rmtree(venv.path)
        log(f"  creating {venv.path} ...")
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv.path)],
            check=True,
            capture_output=True,
            text=True,
            env=clean_env(),
        )
        if requirements:
            log(f"  pip install {' '.join(requirements)} ...")
            _pip(venv.python, list(requirements))
        stamp.write_text(json.dumps(wanted, indent=2))
        venv.note = "created"
    except subprocess.CalledProcessError as exc:
        venv.error = f"python -m venv failed: {exc.stderr or exc}"
    except (MetricError, OSError, subprocess.TimeoutExpired) as exc:
        venv.error = str(exc)
    return venv


def tree_size(path: Path) -> int:
    """Disk usage in bytes, like ``du -s`` (allocated blocks, hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    return total


def site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages"))
    return found[0] if found else None


def largest_additions(venv: Path, empty: Path, top: int = 8) -> list[tuple[str, float]]:
    """The biggest site-packages entries that the empty venv does not have, in MiB."""
    sp, base = site_packages(venv), site_packages(empty)
    if sp is None or base is None:
        return []
    present = {p.name for p in base.iterdir()}
    sizes: dict[str, int] = {}
    for entry in sp.iterdir():
        if entry.name in present or entry.name.endswith((".dist-info", ".pth")):
            continue
        name = entry.name.removesuffix(".py").split(".")[0]  # drop .cpython-311-x86_64... too
        size = tree_size(entry) if entry.is_dir() else entry.lstat().st_blocks * 512
        sizes[name] = sizes.get(name, 0) + size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [(name, size / MIB) for name, size in ranked]
