"""One JSON-able picture of GPU sharing: units and who holds them, the queue, quotas and hours used.

Served by the admin API, shown by the admin page and `labhub gpu leases`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from .inventory import Inventory
from .quota import hours_used
from .settings import GpuSettings
from .store import LeaseStore


def overview(store: LeaseStore, inventory: Inventory, settings: GpuSettings) -> dict:
    now = store.clock()
    rules = store.policy.rules
    since = rules.week_start(now)
    leases = store.leases()
    load = store.load()
    holders = defaultdict(list)
    for lease in leases:
        for unit in lease.units:
            holders[unit].append(f"{lease.user}/{lease.server}" if lease.server else lease.user)
    records = store.usage(since)
    users = sorted({r.user for r in records} | {lease.user for lease in leases})
    groups = sorted({g for r in records for g in r.groups} | set(settings.group_weekly_hours))
    overrides = store.quotas()
    return {
        "inventory": {
            "source": inventory.source,
            "detail": inventory.detail,
            "units": [{**asdict(u), "load": round(load.get(u.uuid, 0.0), 4), "holders": holders.get(u.uuid, [])}
                      for u in inventory.units],
        },
        "leases": [{
            "id": lease.id, "user": lease.user, "server": lease.server, "profile": lease.profile,
            "mode": lease.mode, "units": list(lease.units), "gpu_share": round(lease.rate, 4), "state": lease.state,
            "granted_at": lease.granted_at, "held_s": round(now - lease.granted_at, 1),
            "waited_s": round(lease.waited_s, 1), "container": lease.container,
        } for lease in leases],
        "queue": [{
            "position": e.position, "user": e.user, "server": e.server, "profile": e.profile,
            "request": e.demand.describe(), "waiting_s": round(now - e.enqueued_at, 1),
            "hours_used": round(e.hours_used, 3),
        } for e in store.queue()],
        "quotas": {
            "default_weekly_hours": settings.default_weekly_hours,
            "users": {name: hours for (kind, name), hours in overrides.items() if kind == "user"},
            "groups": {**settings.group_weekly_hours,
                       **{name: hours for (kind, name), hours in overrides.items() if kind == "group"}},
        },
        "usage": {
            "week_start": since,
            "resets_at": rules.next_reset(now),
            "resets": rules.format_time(rules.next_reset(now)),
            "users": {u: round(hours_used(records, since, now, user=u), 3) for u in users},
            "groups": {g: round(hours_used(records, since, now, group=g), 3) for g in groups},
        },
    }
