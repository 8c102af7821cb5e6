"""The public API: small, explicit, complete, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import carbonledger


def test_all_names_resolve() -> None:
    for name in carbonledger.__all__:
        assert getattr(carbonledger, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        carbonledger.nope  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "nope" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, carbonledger\n"
        "heavy = [m for m in ('psutil','pynvml','yaml','cryptography','typer','rich','sqlite3',"
        "'numpy','psycopg','http.server','urllib.request') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tracker_import_stays_light() -> None:
    code = (
        "import sys\nfrom carbonledger import Tracker\n"
        "heavy = [m for m in ('pynvml','yaml','cryptography','typer','rich','numpy','psycopg',"
        "'http.server') if m in sys.modules]\nprint(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
