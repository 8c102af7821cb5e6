"""What each command answers to bad input, by example: the "Bad input" sections of
docs/cli.md are made from this table (``scripts/gen_cli_docs.py``), and the tests run every
example and check that the command exits 2 with ONE line on stderr holding the answer shown.

Every command answers bad input the same way: ``error: <what was wrong, the value, what is
allowed>`` on one line of stderr, exit 2, nothing written, no traceback (``--debug`` shows
one). An option the command does not have is named with the closest one it has.
"""

from __future__ import annotations

__all__ = ["BAD_INPUT"]

#: command -> ((the arguments after ``carbonledger``, a part of the one-line answer), ...)
BAD_INPUT: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "compare": (
        (("compare", "a", "b", "--ledger", "mysql://db/x"), "names a database carbonledger"),
        (("compare", "a", "b", "--ledger", "/no/such/ledger.sqlite"), "no ledger at"),
    ),
    "decrypt": (
        (
            ("decrypt", "/dev/zero", "-o", "out.csv", "--key-file", "/dev/zero"),
            "is a device, not a regular file",
        ),
        (("decrypt", "in.enc", "-o", "out.csv", "--key-env", "NO_SUCH_VARIABLE"), "is not set"),
    ),
    "doctor": ((("doctor", "--scope", "galaxy"), "unknown scope 'galaxy'"),),
    "estimate": (
        (("estimate", "/dev/zero"), "spec file /dev/zero is a device"),
        (
            (
                "estimate",
                "--params",
                "7B",
                "--tokens",
                "2T",
                "--accelerator",
                "H100",
                "--devices",
                "1e30",
                "--grid",
                "100",
            ),
            "devices must be at most 1e+07",
        ),
        (
            (
                "estimate",
                "--params",
                "1e300",
                "--tokens",
                "2T",
                "--accelerator",
                "H100",
                "--devices",
                "8",
                "--grid",
                "100",
            ),
            "params must be at most 1e+15",
        ),
    ),
    "export": (
        (("export", "--jsonl", "/dev/null"), "refusing to write /dev/null: it is a device"),
        (("export", "--csv", "a.csv", "--jsonl", "b.jsonl"), "exactly one of --csv"),
    ),
    "import": ((("import", "--bogus"), "no such option --bogus"),),
    "import impact-framework": (
        (("import", "impact-framework", "/dev/zero"), "output /dev/zero is a device"),
        (
            ("import", "impact-framework", "-", "--grid-g-per-kwh", "-5"),
            "grid_g_per_kwh must be between 0 and 2000 gCO2e/kWh",
        ),
    ),
    "import slurm": (
        (("import", "slurm", "/dev/zero"), "sacct output /dev/zero is a device"),
        (
            ("import", "slurm", "/dev/null", "--gpu-watts", "nan"),
            "--gpu-watts must be a positive number of watts",
        ),
    ),
    "intensity": (
        (("intensity", "Atlantis"), "unknown zone 'Atlantis'"),
        (("intensity", "--list", "--kind", "planet"), "unknown zone kind 'planet'"),
    ),
    "keys": ((("keys", "--pth", "k.pem"), "no such option --pth; did you mean --path?"),),
    "metric": ((("metric", "r1", "accuracy", "nan"), "the metric value must be finite"),),
    "migrate": ((("migrate", "--ledger", "mysql://db/x"), "names a database carbonledger"),),
    "monitor": (
        (("monitor", "--interval", "0"), "--interval must be between 0.01 s and 86400 s"),
        (("monitor", "--pushgateway", "ftp://gateway"), "--pushgateway must be an http://"),
        (("monitor", "--duration", "-1"), "--duration must be > 0"),
    ),
    "regions": (
        (("regions", "--top", "0"), "--top must be >= 1"),
        (("regions", "--kwh", "-1"), "--kwh must be between 0 and"),
    ),
    "report": ((("report", "--format", "docx"), "unknown --format 'docx'"),),
    "run": (
        (
            ("run", "--contry", "FR", "python", "train.py"),
            "no such option --contry; did you mean --country?",
        ),
        (("run", "--country", "", "--", "true"), "--country must not be empty"),
        (("run", "--on-budget", "explode", "--", "true"), "--on-budget must be warn or stop"),
        (
            (
                "run",
                "--forecast",
                "/no/such.csv",
                "--start-within",
                "1h",
                "--duration",
                "1h",
                "--",
                "true",
            ),
            "cannot read intensity file /no/such.csv: not found",
        ),
    ),
    "runs": (
        (("runs", "--ledger", "mysql://db/x"), "names a database carbonledger cannot use"),
        (("runs", "--limit", "-1"), "--limit must be >= 0"),
    ),
    "serve": ((("serve", "--ledger", "mysql://db/x"), "names a database carbonledger"),),
    "serving": (
        (
            ("serving", "--engine", "triton", "--metrics-url", "http://127.0.0.1:8000/metrics"),
            "unknown engine 'triton'; use one of: vllm, tgi, sglang",
        ),
        (
            ("serving", "--engine", "vllm", "--metrics-url", "ftp://engine/metrics"),
            "the metrics URL must look like http://127.0.0.1:8000/metrics",
        ),
    ),
    "settle": ((("settle", "--ledger", "/no/such/ledger.sqlite"), "no ledger at"),),
    "show": ((("show", "r1", "--ledger", "/no/such/ledger.sqlite"), "no ledger at"),),
    "sync": ((("sync", "--key", "not-a-key"), "--key: expected a public key PEM block"),),
    "verify": (
        (("verify", "--expect-head", "42"), "--expect-head '42' is not COUNT:HASH"),
        (("verify", "/no/such/ledger.sqlite"), "no ledger at"),
    ),
    "when": (
        (
            ("when", "--duration", "6h", "--zone", "FR", "--timeout", "nan"),
            "--timeout must be > 0 and at most 600 s",
        ),
        (("when", "--duration", "forever", "--zone", "FR"), "is not a duration"),
        (
            ("when", "--duration", "6h", "--zone", "FR", "--forecast", "/dev/zero"),
            "intensity file /dev/zero is a device",
        ),
    ),
    "where": (
        (("where", "--kwh", "-1"), "--kwh must be between 0 and"),
        (("where", "--top", "0"), "--top must be >= 1"),
    ),
}
