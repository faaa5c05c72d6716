"""The GPU part of a server's session status: its lease and the user's weekly GPU hours.

Read from the GPU lease store the hub writes (labhub.gpu.store) and the inventory (for the model);
the sessions service never changes a lease here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..gpu.inventory import Inventory, load_inventory
from ..gpu.quota import QuotaRules
from ..gpu.store import LeaseStore, StorePolicy
from ..profiles import Profile
from ..settings import Settings

log = logging.getLogger("labhub.sessions")
MIB = 1024 * 1024

GpuInfo = Callable[[dict, str, Profile], "dict | None"]


def gpu_info_from(settings: Settings) -> GpuInfo:
    """A function (user model, server name, profile) -> the status file's `gpu` (None without a lease)."""
    gpu = settings.gpu
    try:
        inventory = load_inventory(gpu)
    except Exception as e:  # the model is only shown; a missing driver must not stop the sessions service
        log.warning("no GPU inventory for the session status: %s", e)
        inventory = Inventory("none", (), str(e))
    rules = QuotaRules.from_settings(gpu)
    store = LeaseStore(settings.state_dir, StorePolicy(tuple(inventory.uuids), rules))

    def info(user: dict, server: str, profile: Profile) -> dict | None:
        lease = store.lease_for(user["name"], server)
        if lease is None:
            return None
        unit = inventory.get(lease.units[0]) if lease.units else None
        overrides = store.quotas()
        limit = overrides.get(("user", user["name"]),
                              profile.weekly_gpu_hours if profile.weekly_gpu_hours is not None else rules.default_user_hours)
        now = store.clock()
        return {"uuid": ",".join(lease.units), "model": unit.name if unit else None, "shared": lease.mode == "shared",
                "memory_limit_mb": lease.memory_limit // MIB if lease.memory_limit else None,
                "week_hours_used": round(store.hours_used(user=user["name"]), 4),
                "week_hours_limit": limit, "week_resets": rules.next_reset(now)}

    return info
