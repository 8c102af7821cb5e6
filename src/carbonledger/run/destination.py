"""Where a member's signed batches go: the ledger a tracker names (opened on the writer
thread) or is given, the member's journal beside it, and the keys whose journals left by other
members are replayed when the ledger opens (:class:`~carbonledger.run.recording.Recorder`
does the delivering)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from carbonledger.events import MemberChain
from carbonledger.run.journal import Journal
from carbonledger.run.recording import WRITE_TIMEOUT_S, Recorder

if TYPE_CHECKING:
    from carbonledger.ledger import Ledger

__all__ = ["open_recorder"]

log = logging.getLogger("carbonledger")


def _target_name(ledger: object) -> str:
    return str(getattr(ledger, "location", "") or type(ledger).__name__)


def open_recorder(
    ledger_arg: Ledger | bool | None,
    ledger_setting: str | None,
    chain: MemberChain,
    env: Mapping[str, str],
    *,
    lease_ttl_s: float,
) -> tuple[Recorder, str | None]:
    """The recorder of a member's batches and where they go.

    ``ledger_arg`` is a Ledger object, False (no durable ledger: nothing is kept), or
    None/True (the ledger named by ``ledger_setting``, else the default per-user file, opened
    on the writer thread).
    """
    from carbonledger.ledger import default_ledger_file
    from carbonledger.run.journal import journal_dir, journal_key, trusted_for_replay

    directory = journal_dir(env)
    run_id, member_id = chain.run_id, chain.member_id
    if ledger_arg is False:
        return Recorder(chain, None, lease_ttl_s=lease_ttl_s), None
    signer = chain.signer
    trusted: set[str] | None = None
    try:
        trusted = trusted_for_replay(signer.public_hex if signer is not None else None)
    except Exception as exc:  # a trusted-keys file that cannot be read: replay nothing
        log.info("carbonledger: other journals not replayed: %s", exc)
    if ledger_arg is None or ledger_arg is True:
        target = journal_key(ledger_setting or default_ledger_file(env))
        journal = Journal(target, run_id, member_id, directory=directory)

        def opener() -> Ledger:
            from carbonledger.ledger import open_ledger

            return open_ledger(
                target, timeout_s=WRITE_TIMEOUT_S, signing_key=signer if signer else False
            )

        recorder = Recorder(chain, journal, opener=opener, lease_ttl_s=lease_ttl_s, trusted=trusted)
        return recorder, target
    location = _target_name(ledger_arg)
    journal = Journal(location, run_id, member_id, directory=directory)
    # an in-memory ledger (one a Ray node's driver collects from included) dies with the
    # process: nothing to write ahead for, and no journal anyone could replay
    commit_every_s = 0.0 if getattr(ledger_arg, "in_memory", False) else None
    recorder = Recorder(
        chain, journal, ledger=ledger_arg, lease_ttl_s=lease_ttl_s, commit_every_s=commit_every_s
    )
    return recorder, location
