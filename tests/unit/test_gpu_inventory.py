"""Inventory (simulated; NVML where a driver answers) and the `gpu:` settings section."""

from __future__ import annotations

import pytest
import yaml

from labhub.errors import ConfigError
from labhub.gpu.inventory import NvmlUnavailable, load_inventory, nvml_inventory, simulated_inventory
from labhub.gpu.settings import GpuSettings, SimulatedGpus
from labhub.gpu.usage import nvml_utilisation
from labhub.settings import load_settings


def nvml_driver() -> bool:
    try:
        nvml_inventory()
    except NvmlUnavailable:
        return False
    return True


def test_simulated_inventory_has_distinct_stable_uuids():
    inv = simulated_inventory(SimulatedGpus(count=4, memory=80 * 1024**3))
    assert inv.source == "simulated" and len(inv.units) == 4
    assert len(set(inv.uuids)) == 4 and all(u.startswith("GPU-") for u in inv.uuids)
    assert inv.uuids == simulated_inventory(SimulatedGpus(count=4)).uuids  # same after a restart
    assert [u.index for u in inv.units] == ["0", "1", "2", "3"] and inv.units[0].memory == 80 * 1024**3


def test_simulated_mig_devices_are_units_of_their_own():
    inv = simulated_inventory(SimulatedGpus(count=2, memory=80 * 1024**3, mig_per_gpu=3))
    assert len(inv.units) == 6 and all(u.mig and u.uuid.startswith("MIG-") for u in inv.units)
    assert inv.units[4].index == "1:1" and inv.units[0].memory == 80 * 1024**3 // 3


def write_settings(tmp_path, gpu: dict):
    path = tmp_path / "labhub.yaml"
    path.write_text(yaml.safe_dump({"gpu": gpu}))
    return path


@pytest.mark.parametrize("gpu, words", [
    ({"inventry": "simulated"}, "gpu.inventry: unknown key (allowed here: inventory, simulated"),
    ({"inventory": "cuda"}, "gpu.inventory: Input should be 'auto', 'nvml', 'simulated', 'none' or 'swarm'"),
    ({"simulated": {"count": 0}}, "gpu.simulated.count"),
    ({"simulated": {"memory": "lots"}}, "gpu.simulated.memory: expected a size like '512M'"),
    ({"timezone": "Mars/Olympus"}, "gpu.timezone: unknown time zone 'Mars/Olympus'"),
    ({"week_starts": "funday"}, "gpu.week_starts"),
    ({"group_weekly_hours": {"class": -1}}, "gpu.group_weekly_hours.class"),
    ({"queue_timeout": "soon"}, "gpu.queue_timeout: expected a duration"),
])
def test_bad_gpu_settings_name_the_key(tmp_path, gpu, words):
    with pytest.raises(ConfigError) as e:
        load_settings(write_settings(tmp_path, gpu))
    assert words in str(e.value)


def test_settings_load_a_simulated_inventory(tmp_path):
    s = load_settings(write_settings(tmp_path, {"inventory": "simulated", "simulated": {"count": 2, "memory": "40G"},
                                                "group_weekly_hours": {"class-a": 100}}))
    inv = load_inventory(s.gpu)
    assert len(inv.units) == 2 and inv.units[0].memory == 40 * 1024**3
    assert load_inventory(GpuSettings(inventory="none")).units == ()


@pytest.mark.skipif(nvml_driver(), reason="an NVIDIA driver answers here")
def test_without_a_driver_auto_means_no_gpus_and_nvml_is_an_error():
    inv = load_inventory(GpuSettings(inventory="auto"))
    assert inv.source == "none" and inv.units == () and "NVML" in inv.detail
    with pytest.raises(ConfigError, match="gpu.inventory: nvml, but NVML did not start"):
        load_inventory(GpuSettings(inventory="nvml"))


@pytest.mark.skipif(not nvml_driver(), reason="no NVIDIA driver on this machine")
def test_nvml_inventory_lists_the_hosts_gpus():
    inv = nvml_inventory()
    assert inv.source == "nvml" and inv.units
    for unit in inv.units:
        assert unit.uuid.startswith("MIG-" if unit.mig else "GPU-") and unit.memory > 0 and unit.name
    assert load_inventory(GpuSettings(inventory="auto")).uuids == inv.uuids


@pytest.mark.skipif(not nvml_driver(), reason="no NVIDIA driver on this machine")
def test_nvml_utilisation_of_processes_not_on_the_gpu_is_zero():
    whole = [u.uuid for u in nvml_inventory().units if not u.mig]
    if not whole:
        pytest.skip("only MIG devices here (no per-process samples)")
    assert nvml_utilisation({999_999_999}, whole[:1]) == 0.0
