"""eco2AI's CSV file, and its "encoded" copy made real: AES-256-GCM.

The plain file behaves as eco2AI 0.3.12's ``_write_to_csv``: a missing file is created with
the header; a row whose ``id`` is not in the file is appended; otherwise the last row of that
id is replaced, or (a new training epoch) a new row is inserted right after it. A file whose
header holds other columns is kept aside as ``<name>.bak`` (``<name>_0.bak``...) and a new
one begun, with a warning (eco2AI would fail on it).

eco2AI's ``encode_file`` writes a copy through a letter-shifting substitution, which anyone
can undo. Here the copy is the same CSV encrypted with AES-256-GCM
(:mod:`carbonledger.report.crypto`); read it with ``carbonledger decrypt FILE -o OUT
--key-file KEY``. The key comes from ``encode_key_file=`` or the variable
``CARBONLEDGER_ENCODE_KEY`` (hex or base64); without either, one is made once and kept in
``$XDG_CONFIG_HOME/carbonledger/encode.key`` (mode 0600), and its path is logged.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

from carbonledger._dirs import config_dir
from carbonledger._files import write_new
from carbonledger.compat._base import LOG
from carbonledger.compat._cc_outputs import backup, write_rows

__all__ = [
    "ECO2AI_COLUMNS",
    "KEY_ENV",
    "default_key_file",
    "encrypt_copy",
    "resolve_key",
    "upsert_row",
]

#: eco2AI 0.3.12's columns, in its order
ECO2AI_COLUMNS: tuple[str, ...] = (
    "id",
    "project_name",
    "experiment_description",
    "epoch",
    "start_time",
    "duration(s)",
    "power_consumption(kWh)",
    "CO2_emissions(kg)",
    "CPU_name",
    "GPU_name",
    "OS",
    "region/country",
    "cost",
)

#: the environment variable holding the key of the encrypted copy (hex or base64)
KEY_ENV = "CARBONLEDGER_ENCODE_KEY"


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def upsert_row(path: Path, row: Mapping[str, str], *, add_new: bool = False) -> None:
    """Write ``row`` (keyed by :data:`ECO2AI_COLUMNS`) into the file at ``path`` the way
    eco2AI does (see the module's description)."""
    found = _read(path)
    if found is not None and sorted(found[0]) != sorted(ECO2AI_COLUMNS):
        kept = backup(path)
        LOG.warning("%s has other columns than eco2AI's; kept as %s, a new file begun", path, kept)
        found = None
    if found is None:
        write_rows(path, ECO2AI_COLUMNS, [row])
        return
    header, rows = found
    mine = [i for i, r in enumerate(rows) if r.get("id") == row["id"]]
    if not mine:
        rows.append(dict(row))
    elif add_new:
        rows.insert(mine[-1] + 1, dict(row))
    else:
        rows[mine[-1]] = dict(row)
    write_rows(path, header, rows)


def default_key_file(env: Mapping[str, str] | None = None) -> str:
    """``<config dir>/encode.key``: the key made when none is given."""
    return os.path.join(config_dir(env), "encode.key")


def resolve_key(key_file: str | os.PathLike[str] | None) -> bytes:
    """The 32-byte key of the encrypted copy (see the module's description)."""
    from carbonledger.report.crypto import generate_key, load_key

    if key_file is not None:
        return load_key(key_file=key_file)
    if os.environ.get(KEY_ENV):
        return load_key(key_env=KEY_ENV)
    path = Path(default_key_file())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_new(path, generate_key().hex() + "\n", mode=0o600)
        except FileExistsError:
            pass  # made by another process meanwhile
        else:
            LOG.warning(
                "a new key for encrypted eco2AI files was made in %s; keep it: without it the "
                "files cannot be read (carbonledger decrypt FILE -o OUT --key-file %s)",
                path,
                path,
            )
    return load_key(key_file=path)


def encrypt_copy(plain: Path, target: Path, key: bytes) -> None:
    """Write ``target`` as the AES-256-GCM encryption of the file ``plain``."""
    from carbonledger.report.crypto import encrypt, write_atomic

    write_atomic(target, encrypt(plain.read_bytes(), key))
