"""Source "gpu": GPU leases, free units, the GPU queue, weekly quota use, and utilisation and memory per
user (NVML processes mapped to containers; simulated figures on a simulated inventory).

Filled in once labhub.gpu (leases, inventory, quotas) is part of the install; until then the exporter
runs without it.
"""

from __future__ import annotations

import importlib.util


def gpu_source(settings):
    if importlib.util.find_spec("labhub.gpu") is None:
        return None
    return None  # hook: GpuSource(settings) once labhub.gpu's store is available
