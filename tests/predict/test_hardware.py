"""The accelerator catalogue: names, figures, sources, embodied carbon."""

from __future__ import annotations

import pytest

from carbonledger.errors import UnknownNameError
from carbonledger.predict import accelerator, list_accelerators

REQUIRED = {
    "V100": "V100-SXM2-32GB",
    "A100-40GB": "A100-SXM4-40GB",
    "A100": "A100-SXM4-80GB",
    "A100-80GB": "A100-SXM4-80GB",
    "A100-SXM4-80GB": "A100-SXM4-80GB",
    "NVIDIA A100-SXM4-80GB": "A100-SXM4-80GB",
    "H100": "H100-SXM5-80GB",
    "H100 SXM": "H100-SXM5-80GB",
    "NVIDIA H100 80GB HBM3": "H100-SXM5-80GB",
    "H100-PCIe": "H100-PCIe-80GB",
    "H200": "H200-SXM-141GB",
    "B200": "B200",
    "L4": "L4",
    "L40S": "L40S",
    "T4": "T4",
    "Tesla T4": "T4",
    "A10G": "A10G",
    "MI250X": "MI250X",
    "AMD Instinct MI300X": "MI300X",
    "TPUv3": "TPUv3",
    "TPU v3": "TPUv3",
    "tpu-v4": "TPUv4",
    "TPUv5e": "TPUv5e",
}


@pytest.mark.parametrize(("alias", "name"), sorted(REQUIRED.items()))
def test_aliases_resolve(alias: str, name: str) -> None:
    assert accelerator(alias).name == name


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        accelerator("A1000")
    assert info.value.kind == "accelerator"
    assert "A100-SXM4-80GB" in info.value.suggestions
    assert "did you mean" in str(info.value)


# dense BF16/FP16 tensor peaks: never the 2:4-sparsity figure
DENSE_PEAKS = {
    "V100": 125,
    "A100": 312,
    "H100": 989.4,
    "H100-PCIe": 756,
    "H200": 989.4,
    "B200": 2250,
    "L4": 121,
    "L40S": 362.05,
    "T4": 65,
    "MI250X": 383,
    "MI300X": 1307.4,
    "TPUv3": 123,
    "TPUv4": 275,
    "TPUv5e": 197,
}


@pytest.mark.parametrize(("name", "peak"), sorted(DENSE_PEAKS.items()))
def test_dense_peaks(name: str, peak: float) -> None:
    assert accelerator(name).peak_tflops == peak


def test_every_row_is_complete_and_cited() -> None:
    names = set()
    for acc in list_accelerators():
        assert acc.name not in names
        names.add(acc.name)
        assert acc.peak_tflops > 0 and acc.tdp_w > 0 and acc.memory_gb > 0
        assert acc.memory_bw_gb_s > 0 and acc.die_area_cm2 > 0 and acc.devices_per_host >= 1
        assert len(acc.spec_source) > 20, acc.name
        assert len(acc.die_source) > 10, acc.name
        assert acc.kind in ("gpu", "tpu")
        assert set(acc.estimated_fields) <= {"tdp_w", "die_area_cm2", "process_nm"}
        assert 50 < acc.embodied_kg < 500
        parts = acc.embodied_breakdown_kg()
        assert sum(parts.values()) == pytest.approx(acc.embodied_kg)


def test_embodied_follows_llmcarbon() -> None:
    v100 = accelerator("V100")
    # LLMCarbon hardware.csv: V100 8.15 cm2 x 1.2 kg/cm2 = 9.78 kg of die
    assert v100.embodied_breakdown_kg()["die"] == pytest.approx(9.78)
    assert v100.embodied_breakdown_kg()["memory"] == pytest.approx(32 * 0.4)
