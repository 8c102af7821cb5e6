"""``carbonledger runs | show | verify | export | decrypt``: the ledger from the command line.

The reading commands open the ledger read-only: they never write, settle or seal, and work
on read-only media. Names, tags and ids are escaped when printed (no control characters
reach the terminal).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from carbonledger.cli._common import (
    JsonOpt,
    LedgerOpt,
    check_ledger_option,
    emit_json,
    fail,
)
from carbonledger.errors import InputError

KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="File holding the 32-byte key (raw, hex or base64)."),
]
KeyEnvOpt = Annotated[
    str | None,
    typer.Option("--key-env", help="Environment variable holding the key (hex or base64)."),
]


def _row(s: Any) -> dict[str, Any]:
    from carbonledger.report.export import iso_utc

    finished = s.extra.get("finished_unix_s")
    return {
        "run_id": s.run_id,
        "project": s.project,
        "experiment": s.experiment,
        "status": s.status,
        "started_at": iso_utc(s.started_unix_s),
        "finished_at": iso_utc(finished) if isinstance(finished, (int, float)) else None,
        "duration_s": s.duration_s,
        "energy_kwh": s.energy_kwh,
        "co2e_kg": s.co2e_kg,
        "co2e_low_kg": s.co2e_low_g / 1e3,
        "co2e_high_kg": s.co2e_high_g / 1e3,
        "measured_share": s.measured_share,
        "location": s.location,
        "hosts": list(s.hosts),
    }


def _print_report(report: Any) -> None:
    """``verify``'s text output: verdict, head, what the check was anchored on, problems."""
    from carbonledger.ledger.keys import trusted_keys_path
    from carbonledger.report.text import printable

    where = printable(report.location)
    if report.ok:
        typer.echo(f"{where}: intact ({report.records} records, {report.runs} runs checked)")
    else:
        typer.echo(f"{where}: {len(report.problems)} problem(s)")
        for p in report.problems:
            typer.echo(f"  {printable(p.ref)}: {p.kind}: {printable(p.detail)}")
    if report.head:
        typer.echo(
            f"chain head: {report.head}  (publish it; later 'carbonledger verify "
            "--expect-head HEAD' detects a rollback or a cut-off tail)"
        )
    signers = ", ".join(report.signers) or "none"
    if report.anchored:
        typer.echo(
            f"checked against the keys you trust ({', '.join(report.trusted_sources)}); "
            f"signers: {signers}"
        )
    else:
        typer.echo(
            "NOT ANCHORED: only checked consistency against keys read from the ledger itself "
            f"({signers}); anyone who can write the ledger could have made those. Pin a key: "
            f"--key FILE|FINGERPRINT, or list trusted keys in {trusted_keys_path()}"
        )
    for note in report.notes:
        typer.echo(f"note: {printable(note)}")


def _register_runs(app: typer.Typer) -> None:
    @app.command("runs")
    def runs_command(
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="Only this project's runs.")
        ] = None,
        limit: Annotated[
            int,
            typer.Option("--limit", "-n", help="At most this many runs, newest first (0: all)."),
        ] = 20,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """List runs, newest first: status, duration, energy and CO2e."""
        from carbonledger.ledger import open_ledger
        from carbonledger.report import format as fmt
        from carbonledger.report.text import printable, status_text, unique_prefixes

        if limit < 0:
            fail(f"--limit must be >= 0, got {limit}")
        try:
            led = open_ledger(ledger, create=False, read_only=True)
        except InputError as exc:  # no ledger yet: no runs (a ledger named but absent: an error)
            if ledger is not None:
                fail(str(exc))
            if json_out:
                emit_json([])
            else:
                typer.echo(f"no runs: {exc}")
            return
        try:
            summaries = led.list_runs(project=project, limit=limit or None, windows=False)
            every_id = list(led.iter_run_ids())  # a prefix must be unique in the whole ledger
        finally:
            led.close()
        rows = [_row(s) for s in summaries]
        if json_out:
            emit_json(rows)
            return
        if not rows:
            typer.echo(
                f"no runs in {printable(led.location)}"
                + (f" for project {printable(repr(project))}" if project else "")
            )
            return
        prefixes = unique_prefixes(every_id)
        ids = [printable(prefixes.get(s.run_id, s.run_id)) for s in summaries]
        names = [printable(f"{s.project}/{s.experiment}") for s in summaries]
        id_w = max(len("run"), *(len(i) for i in ids))
        name_w = max(len("project/experiment"), *(len(n) for n in names))
        statuses = [status_text(s) for s in summaries]
        st_w = max(len("status"), *(len(x) for x in statuses))
        typer.echo(
            f"{'run':<{id_w}} {'project/experiment':<{name_w}} {'status':<{st_w}} "
            f"{'started (UTC)':<20} {'duration':>10} {'energy':>11} {'CO2e':>10}"
        )
        for s, rid, name, st in zip(summaries, ids, names, statuses, strict=True):
            typer.echo(
                f"{rid:<{id_w}} {name:<{name_w}} {st:<{st_w}} "
                f"{fmt.moment(s.started_unix_s)[:19]:<20} {fmt.duration(s.duration_s):>10} "
                f"{_known(s, fmt.energy(s.energy_j)):>11} {_known(s, fmt.mass(s.co2e_g)):>10}"
            )


def _known(summary: Any, text: str) -> str:
    """``text``, or "-" for a run whose record cannot be read (its figures are not known)."""
    return "-" if summary.status == "damaged" else text


def _register_show(app: typer.Typer) -> None:
    @app.command("show")
    def show_command(
        run: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
        ledger: LedgerOpt = None,
        key: Annotated[
            list[str] | None,
            typer.Option("--key", help="Trusted public key (file or fingerprint) for the check."),
        ] = None,
        windows: Annotated[
            str,
            typer.Option(
                "--windows",
                help="auto (up to 20 listed, else one line per name pattern), all, patterns "
                "or none.",
            ),
        ] = "auto",
        json_out: JsonOpt = False,
    ) -> None:
        """One run in full: devices with method and range, windows, errors, forecast, and
        whether its record verifies (exit 1 when it does not)."""
        from carbonledger.ledger import open_ledger
        from carbonledger.report import format as fmt
        from carbonledger.report.data import run_status
        from carbonledger.report.export import jsonl_record
        from carbonledger.report.text import format_summary, printable

        if windows not in ("auto", "all", "patterns", "none"):
            fail(f"--windows {windows!r}: use auto, all, patterns or none")

        from carbonledger.report.text import digest_for_text

        # the text reads the windows once as they stream by (a run with a window per step
        # is never held); the JSON and --windows all give every window
        streamed = not json_out and windows in ("auto", "patterns")
        led = open_ledger(ledger, create=False, read_only=True)
        try:
            run_id = led.resolve_run_id(run)
            summary = led.summary(run_id, windows=not streamed)
            digest = digest_for_text(summary, led.iter_windows(run_id)) if streamed else None
            status = run_status(led, run_id, key)
        finally:
            led.close()
        from carbonledger.reduce.advice import advise, format_advice

        advice = advise(summary) if summary.status != "running" else []
        if json_out:
            record = jsonl_record(summary)
            record["advice"] = [a.to_dict() for a in advice]
            record["record"] = status.to_dict()
            emit_json(record)
            raise typer.Exit(0 if status.ok else 1)
        typer.echo(
            format_summary(
                summary,
                equivalents=False,
                citations=True,
                windows=windows,  # type: ignore[arg-type]
                digest=digest,
            )
        )
        typer.echo(f"  record: {printable(status.text)}")
        for line in format_advice(advice):
            typer.echo(line)
        members = summary.extra.get("members") or []
        if len(members) > 1:
            typer.echo(f"  members: {len(members)} on {len(summary.hosts)} host(s)")
            for m in members:
                rank = "" if m["rank"] is None else f" rank {m['rank']}"
                typer.echo(f"    {printable(m['host'])} pid {m['pid']}{rank}: {m['status']}")
        forecast = summary.extra.get("forecast")
        if isinstance(forecast, dict) and "energy_j" in forecast:
            typer.echo(_forecast_line(forecast, summary.status, fmt))
        if not status.ok:
            raise typer.Exit(1)


def _forecast_line(forecast: dict[str, Any], status: str, fmt: Any) -> str:
    """The run's forecast: "for the whole run" while it runs; once it ended, named for what
    it was (made during the run, after so many windows), beside the measured total above."""

    def num(key: str) -> float | None:
        value = forecast.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    done, total = forecast.get("windows_done"), forecast.get("windows_total")
    energy = fmt.with_range(float(forecast["energy_j"]), num("energy_low_j"),
                            num("energy_high_j"), fmt.energy)  # fmt: skip
    co2e = fmt.with_range(num("co2e_g") or 0.0, num("co2e_low_g"), num("co2e_high_g"), fmt.mass)
    if status == "running":
        return f"  forecast for the whole run (after {done}/{total} windows): {energy}, {co2e} CO2e"
    return (
        f"  forecast made during the run, after {done} of {total} expected windows: {energy}, "
        f"{co2e} CO2e (the total above is what the run used)"
    )


def _register_verify(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_command(
        target: Annotated[
            str | None,
            typer.Argument(
                metavar="[LEDGER]",
                help="Ledger file or postgresql:// URL (default: the ledger in use); the "
                "same as --ledger.",
                callback=check_ledger_option,
            ),
        ] = None,
        ledger: LedgerOpt = None,
        key: Annotated[
            list[str] | None,
            typer.Option(
                "--key",
                "-k",
                help="A key you trust: a file of public key PEM blocks, or a fingerprint "
                "SHA256:... (repeatable; the trusted-keys file in your config is added).",
            ),
        ] = None,
        expect_head: Annotated[
            str | None,
            typer.Option(
                "--expect-head",
                help="COUNT:HASH printed by an earlier verify: detects a rolled back or "
                "truncated ledger.",
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Check every signed record against the keys you trust: exit 0 when intact, 1
        naming each problem. Prints the chain head to publish."""
        from carbonledger.cli._progress import progress
        from carbonledger.ledger import verify

        if target is not None and ledger is not None and target != ledger:
            fail(
                f"two ledgers given ({target} and --ledger {ledger}); give one, as the "
                "argument or as --ledger"
            )
        target = target if target is not None else ledger
        if expect_head is not None:  # a typo is said before the ledger is read
            from carbonledger.ledger import parse_head

            try:
                parse_head(expect_head)
            except InputError as exc:
                fail(str(exc))
        with progress("verifying every signed record"):
            report = verify(target, keys=key or (), expect_head=expect_head)
        if json_out:
            emit_json(report.to_dict())
        else:
            _print_report(report)
        if not report.ok:
            raise typer.Exit(1)


def _register_export(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        csv_path: Annotated[
            Path | None,
            typer.Option("--csv", help="Write CodeCarbon-compatible CSV here ('-': stdout)."),
        ] = None,
        jsonl_path: Annotated[
            Path | None, typer.Option("--jsonl", help="Write JSON Lines here ('-': stdout).")
        ] = None,
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="Only this project's runs.")
        ] = None,
        encrypt: Annotated[
            bool,
            typer.Option("--encrypt", help="Encrypt the file (AES-256-GCM); needs a key."),
        ] = False,
        key_file: KeyFileOpt = None,
        key_env: KeyEnvOpt = None,
        ledger: LedgerOpt = None,
    ) -> None:
        """Export runs as CSV (CodeCarbon's columns first) or JSON Lines, optionally encrypted."""
        from carbonledger.ledger import open_ledger
        from carbonledger.report.crypto import encrypt as seal_bytes
        from carbonledger.report.crypto import load_key, write_atomic
        from carbonledger.report.export import export_text

        if (csv_path is None) == (jsonl_path is None):
            fail("give exactly one of --csv FILE or --jsonl FILE")
        if (key_file is not None or key_env is not None) and not encrypt:
            fail("--key-file/--key-env are for --encrypt")
        key = load_key(key_file=key_file, key_env=key_env) if encrypt else None
        out = csv_path if csv_path is not None else jsonl_path
        assert out is not None
        if str(out) != "-":  # a FIFO or a device is refused before anything is read
            from carbonledger._files import check_writable_target

            try:
                check_writable_target(out)
            except InputError as exc:
                fail(str(exc))
        from carbonledger.cli._progress import progress

        led = open_ledger(ledger, create=False, read_only=True)
        try:
            with progress("reading the runs to export"):  # oldest first; damaged ones too
                # the CSV needs each run's window count only; JSON Lines holds the windows
                summaries = led.list_runs(project=project, windows=csv_path is None)[::-1]
        finally:
            led.close()
        text, n = export_text(summaries, "csv" if csv_path is not None else "jsonl")
        data = text.encode("utf-8")
        if key is not None:
            data = seal_bytes(data, key)
        if str(out) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            write_atomic(out, data)
        what = "encrypted " if key is not None else ""
        typer.echo(f"exported {n} run(s) to {what}{out}", err=True)


def _register_decrypt(app: typer.Typer) -> None:
    @app.command("decrypt")
    def decrypt_command(
        src: Annotated[Path, typer.Argument(metavar="IN", help="An encrypted export.")],
        out: Annotated[Path, typer.Option("--output", "-o", help="Write the plaintext here.")],
        key_file: KeyFileOpt = None,
        key_env: KeyEnvOpt = None,
    ) -> None:
        """Decrypt an encrypted export (a wrong key or a changed byte is an error)."""
        from carbonledger.report.crypto import decrypt_file, load_key

        key = load_key(key_file=key_file, key_env=key_env)
        n = decrypt_file(src, out, key)
        typer.echo(f"decrypted {n} bytes to {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``runs``, ``show``, ``verify``, ``export`` and ``decrypt`` to ``app``."""
    for add in (
        _register_runs,
        _register_show,
        _register_verify,
        _register_export,
        _register_decrypt,
    ):
        add(app)
