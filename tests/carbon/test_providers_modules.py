"""The providers subpackage: each module imports alone in a fresh process (no import
cycle), the hourly arithmetic does not pull the providers back in, and the names the
package and ``carbonledger.carbon`` offer are the classes the modules define."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "carbonledger.carbon.providers",
    "carbonledger.carbon.providers.base",
    "carbonledger.carbon.providers.file",
    "carbonledger.carbon.providers.uk",
    "carbonledger.carbon.providers.electricitymaps",
    "carbonledger.carbon.providers.chooser",
    "carbonledger.carbon.hourly",
    "carbonledger.report.regions",
    "carbonledger.reduce.scheduling",
]


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module: str) -> None:
    out = _fresh(f"import {module}")
    assert out.returncode == 0, out.stderr


def test_hourly_does_not_import_the_providers_back() -> None:
    code = (
        "import sys, carbonledger.carbon.hourly\n"
        "print(sorted(m for m in sys.modules if m.startswith('carbonledger.carbon.providers.')))"
    )
    out = _fresh(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['carbonledger.carbon.providers.base']"


def test_the_public_names_are_the_modules_classes() -> None:
    import carbonledger.carbon as carbon
    import carbonledger.carbon.providers as providers
    from carbonledger.carbon.providers import base, chooser, electricitymaps, file, uk

    assert (
        providers.FileIntensityProvider
        is carbon.FileIntensityProvider
        is file.FileIntensityProvider
    )
    assert carbon.UKCarbonIntensityProvider is uk.UKCarbonIntensityProvider
    assert carbon.ElectricityMapsProvider is electricitymaps.ElectricityMapsProvider
    assert carbon.ProviderError is base.ProviderError is providers.ProviderError
    assert providers.forecast_provider is chooser.forecast_provider
    assert issubclass(uk.UKCarbonIntensityProvider, base.OnlineProvider)
    assert issubclass(electricitymaps.ElectricityMapsProvider, base.OnlineProvider)
    assert sorted(dir(providers)) == sorted(providers.__all__)
    with pytest.raises(AttributeError, match="nope"):
        providers.nope  # type: ignore[attr-defined]  # noqa: B018
