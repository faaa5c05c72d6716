"""What can be leased: GPUs from NVML (MIG devices as units of their own), or a simulated set.

A unit is the thing a lease names: a whole GPU, or one MIG device of a GPU in MIG mode (then the
parent GPU itself is not a unit). Units are named by UUID, as Docker device requests and
NVIDIA_VISIBLE_DEVICES take them.
"""

from __future__ import annotations

import uuid

from ..backend.gpus import ENGINE_SOURCES, engine_inventory
from .model import GpuUnit, Inventory, Source  # noqa: F401 - re-exported: the inventory's types
from .settings import GpuSettings, SimulatedGpus

_SIM_NAMESPACE = uuid.UUID("3f1c2b1e-6a55-4c59-9d7e-8f0f3a1d2c10")


def simulated_inventory(sim: SimulatedGpus) -> Inventory:
    units = []
    for gpu in range(sim.count):
        gpu_uuid = uuid.uuid5(_SIM_NAMESPACE, f"{sim.name}/{gpu}")
        if not sim.mig_per_gpu:
            units.append(GpuUnit(str(gpu), f"GPU-{gpu_uuid}", sim.name, sim.memory))
            continue
        for part in range(sim.mig_per_gpu):
            mig_uuid = uuid.uuid5(gpu_uuid, f"mig/{part}")
            units.append(GpuUnit(f"{gpu}:{part}", f"MIG-{mig_uuid}", f"{sim.name} MIG {part + 1}/{sim.mig_per_gpu}",
                                 sim.memory // sim.mig_per_gpu, mig=True))
    return Inventory("simulated", tuple(units))


class NvmlUnavailable(Exception):
    """No NVIDIA driver answers (or nvidia-ml-py is missing)."""


def nvml_inventory() -> Inventory:
    """The host's GPUs as NVML reports them; MIG devices replace their parent GPU as units."""
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable("nvidia-ml-py is not installed") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        raise NvmlUnavailable(f"NVML did not start: {e}") from None
    try:
        units = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            migs = _mig_units(pynvml, handle, i, name)
            if migs:
                units.extend(migs)
            else:
                units.append(GpuUnit(str(i), pynvml.nvmlDeviceGetUUID(handle), name,
                                     pynvml.nvmlDeviceGetMemoryInfo(handle).total))
        return Inventory("nvml", tuple(units))
    finally:
        pynvml.nvmlShutdown()


def _mig_units(pynvml, handle, gpu_index: int, name: str) -> list[GpuUnit]:
    try:
        current, _pending = pynvml.nvmlDeviceGetMigMode(handle)
    except pynvml.NVMLError:  # NOT_SUPPORTED on GPUs without MIG
        return []
    if current != pynvml.NVML_DEVICE_MIG_ENABLE:
        return []
    units = []
    for slot in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except pynvml.NVMLError:  # an empty slot: no MIG device configured there
            continue
        units.append(GpuUnit(f"{gpu_index}:{slot}", pynvml.nvmlDeviceGetUUID(mig), f"{name} MIG",
                             pynvml.nvmlDeviceGetMemoryInfo(mig).total, mig=True))
    return units


def load_inventory(settings: GpuSettings) -> Inventory:
    """The inventory the settings ask for. `nvml` without a driver is an error; `auto` falls back to none."""
    if settings.inventory == "none":
        return Inventory("none", (), "gpu.inventory is none")
    if settings.inventory == "simulated":
        return simulated_inventory(settings.simulated)
    if settings.inventory in ENGINE_SOURCES:  # e.g. a swarm's nodes declare their GPUs
        return engine_inventory(settings.inventory)
    try:
        return nvml_inventory()
    except NvmlUnavailable as e:
        if settings.inventory == "nvml":
            from ..errors import ConfigError

            raise ConfigError(
                f"gpu.inventory: nvml, but {e}. Install the NVIDIA driver (see docs/gpu.md), or set "
                "gpu.inventory to simulated or none"
            ) from None
        return Inventory("none", (), f"no NVIDIA driver answers ({e})")
