"""GPU sharing: inventory (NVML or simulated), leases, weekly quotas and the fair GPU queue.

- inventory.py  what can be leased (GPUs, MIG devices as units of their own)
- policy.py     where a request fits, who is served next (pure; also used by bench/gpu_policy.py)
- quota.py      the weekly window and GPU-hours used
- store.py      leases, queue, usage, quota overrides in SQLite (state_dir/gpu.sqlite), atomic
- broker.py     the hub's side: LabSpawner waits in the queue and gets env, labels, device requests
- hubside.py    wiring at hub start-up (reconcile leases of containers that went away)
- usage.py      GPU utilisation per container, for the sessions service
- service.py    admin page and API at /services/gpu/ (managed service)
- cli.py        `labhub gpu leases|revoke|quota`

Freeing a lease: stop the server through the hub API (DELETE /hub/api/users/<user>/servers/<name>);
the spawner gives the lease back when the server stops, for whatever reason it stops.
"""

from __future__ import annotations

from ..services import ManagedService


def managed_service(settings) -> ManagedService | None:
    """The admin page/API; none when the lab has no GPUs at all."""
    from .inventory import load_inventory

    if settings.gpu.inventory == "none" or not load_inventory(settings.gpu).units:
        return None
    return ManagedService(
        name="gpu",
        module="labhub.gpu",
        # Stop a server whose lease an admin revokes. Who may use the page is the hub's decision:
        # holders of access:services!service=gpu (admins; labhub.gpu.web).
        scopes=["servers"],
        port=settings.gpu.service_port,
        display=True,
        oauth_client_allowed_scopes=["read:users:name"],
    )
