"""The Ray integration costs nothing until used, and says what to do when Ray is not ready."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def test_import_loads_no_ray_and_start_needs_ray_init() -> None:
    code = textwrap.dedent(
        """
        import sys
        from carbonledger.integrations.ray import RayClusterTracker
        assert "ray" not in sys.modules, "importing the integration imported ray"
        from carbonledger.errors import InputError
        try:
            RayClusterTracker(poll_s=0)
        except InputError as exc:
            assert "poll_s" in str(exc)
        try:
            RayClusterTracker(ledger="/tmp/x.sqlite", collect=False)
        except InputError as exc:
            assert "postgresql://" in str(exc)
        try:
            RayClusterTracker(ledger=":memory:").start()
        except InputError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert "ray.init()" in message or "pip install 'carbonledger[ray]'" in message


@pytest.mark.parametrize("bad", [{"poll_s": -1.0}])
def test_bad_poll_interval_is_input_error(bad: dict[str, float]) -> None:
    from carbonledger.errors import InputError
    from carbonledger.integrations.ray import RayClusterTracker

    with pytest.raises(InputError, match="poll_s"):
        RayClusterTracker(**bad)  # type: ignore[arg-type]
