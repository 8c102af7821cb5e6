"""The ledger's tables, written once for both SQL dialects, and their migrations.

The schema version is ``PRAGMA user_version`` in SQLite and the ``schema_version`` row of
``carbonledger_meta`` in PostgreSQL. ``MIGRATIONS[i]`` takes a ledger from version ``i`` to
``i + 1``; a ledger newer than ``SCHEMA_VERSION`` is refused, never touched.

Samples are stored compactly: ``devices`` is the per-member device catalogue (component,
device, host, method, measured, model) with an integer ``device_ref``, and ``samples``
holds ``(device_ref, time, energy, power, bounds)`` rows indexed on ``(device_ref, time)``,
so the latest sample of a device is one index probe. The view ``samples_view`` shows them
with run, member, component, device and host spelled out, for ad-hoc SQL.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgres"]


__all__ = [
    "MARKER",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "initial_meta",
    "migration_statements",
]


#: the value of ``carbonledger_meta['schema']`` that marks a database as ours
MARKER = "carbonledger-ledger"

#: the tables version 1 creates (a database holding one of them without our marker is foreign)
TABLES = (
    "carbonledger_meta",
    "runs",
    "members",
    "leases",
    "devices",
    "samples",
    "windows",
    "seals",
)

_V1 = [
    """CREATE TABLE carbonledger_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        experiment TEXT NOT NULL,
        tags TEXT NOT NULL,
        started_unix_s {REAL} NOT NULL,
        finished_unix_s {REAL},
        scope TEXT NOT NULL,
        location TEXT NOT NULL,
        location_source TEXT NOT NULL,
        intensity_g_per_kwh {REAL} NOT NULL,
        intensity_source TEXT NOT NULL,
        pue {REAL} NOT NULL,
        pue_source TEXT NOT NULL,
        meta TEXT NOT NULL,
        status TEXT NOT NULL,
        seal_seq {BIGINT}
    )""",
    "CREATE INDEX runs_by_start ON runs (started_unix_s)",
    "CREATE INDEX runs_by_project ON runs (project, started_unix_s)",
    """CREATE TABLE members (
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        host TEXT NOT NULL,
        pid {BIGINT} NOT NULL,
        rank {BIGINT},
        local_rank {BIGINT},
        started_unix_s {REAL} NOT NULL,
        heartbeat_unix_s {REAL} NOT NULL,
        lease_ttl_s {REAL} NOT NULL,
        finished_unix_s {REAL},
        status TEXT NOT NULL,
        components TEXT,
        errors TEXT NOT NULL,
        PRIMARY KEY (run_id, member_id)
    )""",
    """CREATE TABLE leases (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        member_id TEXT NOT NULL,
        expires_unix_s {REAL} NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE devices (
        device_ref {AUTO_PK},
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        component TEXT NOT NULL,
        device TEXT NOT NULL,
        host TEXT NOT NULL,
        method TEXT NOT NULL,
        measured {BIGINT} NOT NULL,
        model TEXT NOT NULL,
        uid TEXT NOT NULL,
        UNIQUE (run_id, member_id, device)
    )""",
    """CREATE TABLE samples (
        device_ref {BIGINT} NOT NULL,
        time_unix_s {REAL} NOT NULL,
        energy_j {REAL} NOT NULL,
        power_w {REAL},
        low_j {REAL},
        high_j {REAL}
    )""",
    "CREATE INDEX samples_latest ON samples (device_ref, time_unix_s)",
    """CREATE TABLE windows (
        window_ref {AUTO_PK},
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        started_unix_s {REAL} NOT NULL,
        duration_s {REAL} NOT NULL,
        co2e_g {REAL},
        components TEXT NOT NULL
    )""",
    "CREATE INDEX windows_by_run ON windows (run_id, started_unix_s)",
    """CREATE TABLE seals (
        seq {BIGINT} PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        signature TEXT NOT NULL,
        sealed_unix_s {REAL} NOT NULL,
        canonical TEXT NOT NULL
    )""",
    "CREATE INDEX seals_by_run ON seals (run_id, seq)",
    """CREATE VIEW samples_view AS
        SELECT d.run_id, d.member_id, s.time_unix_s, d.component, d.device, d.host,
               s.energy_j, s.power_w, s.low_j, s.high_j
        FROM samples s JOIN devices d ON d.device_ref = s.device_ref""",
    # the private signing key of a PostgreSQL ledger (a SQLite ledger keeps it in a file)
    """CREATE TABLE carbonledger_keys (
        public_key TEXT PRIMARY KEY,
        private_pem TEXT NOT NULL
    )""",
]

# version 2: signed records per writer. Each record names its signer (the public key; the
# ledger stores no private key any more: PostgreSQL's key table is dropped), and the member
# whose chain it extends; samples and windows carry the segment a checkpoint signs.
_V2 = [
    "ALTER TABLE seals ADD COLUMN member_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE seals ADD COLUMN signer TEXT NOT NULL DEFAULT ''",
    "UPDATE seals SET signer = COALESCE((SELECT value FROM carbonledger_meta "
    "WHERE key = 'public_key'), '')",
    "ALTER TABLE samples ADD COLUMN seg {BIGINT}",
    "ALTER TABLE windows ADD COLUMN seg {BIGINT}",
    "CREATE INDEX seals_by_member ON seals (run_id, member_id, seq)",
    "CREATE INDEX runs_by_status ON runs (status)",
    "DROP TABLE carbonledger_keys",
]

# version 3: signed batches of events. A record of the chain may be a batch that a member
# signed where it measured (kind "events..."): its member's sequence number, the batch's own
# hash and the time the batch claims (for liveness) are kept beside it; one batch of a member
# is stored once. Rows of versions 1 and 2 stay as they are and verify as they did.
_V3 = [
    "ALTER TABLE seals ADD COLUMN member_seq {BIGINT}",
    "ALTER TABLE seals ADD COLUMN batch_hash TEXT",
    "ALTER TABLE seals ADD COLUMN claimed_unix_s {REAL}",
    "CREATE UNIQUE INDEX seals_by_batch ON seals (run_id, member_id, member_seq)",
    "CREATE INDEX samples_by_seg ON samples (device_ref, seg)",
    "ALTER TABLE windows ADD COLUMN metrics TEXT",
]

#: ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1`` (statements with dialect tokens)
MIGRATIONS: list[list[str]] = [_V1, _V2, _V3]

#: the newest schema version this carbonledger knows
SCHEMA_VERSION = len(MIGRATIONS)

_TOKENS: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "{REAL}": "REAL",
        "{BIGINT}": "INTEGER",
        "{AUTO_PK}": "INTEGER PRIMARY KEY",
    },
    "postgres": {
        "{REAL}": "DOUBLE PRECISION",
        "{BIGINT}": "BIGINT",
        "{AUTO_PK}": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    },
}


def migration_statements(version: int, dialect: Dialect) -> list[str]:
    """The SQL statements taking a ledger from ``version`` to ``version + 1``."""
    out = []
    for statement in MIGRATIONS[version]:
        for token, sql_type in _TOKENS[dialect].items():
            statement = statement.replace(token, sql_type)
        out.append(statement)
    return out


def initial_meta(now_unix_s: float) -> list[tuple[str, str]]:
    """The ``carbonledger_meta`` rows of a new ledger: our marker, when it was made, and the
    empty seal chain's head (a row to lock while appending seals)."""
    return [
        ("schema", MARKER),
        ("created_unix_s", repr(now_unix_s)),
        ("seal_head", '{"hash":"' + "0" * 64 + '","seq":0}'),
    ]
