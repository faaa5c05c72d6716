"""Wiring GPU leasing into the hub at start-up: inventory, lease store, reconcile, LabSpawner.gpu."""

from __future__ import annotations

import logging
import time

from ..labels import USER as LABEL_USER
from ..settings import Settings
from .broker import GpuBroker, use_device_requests
from .inventory import load_inventory
from .store import LeaseStore, StorePolicy
from .quota import QuotaRules
from ..swarm.nodes import service_states

log = logging.getLogger("labhub.gpu")


def open_store(settings: Settings, inventory=None) -> LeaseStore:
    """The lease store of these settings (the hub, the gpu service and the CLI all use this)."""
    gpu = settings.gpu
    inventory = inventory if inventory is not None else load_inventory(gpu)
    policy = StorePolicy(tuple(inventory.uuids), QuotaRules.from_settings(gpu), gpu.fair_share_hours, gpu.backfill_for)
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    return LeaseStore(state, policy)


def container_states(client) -> dict[str, float | None]:
    """labhub containers by name: None while running (or about to), else when they stopped."""
    states: dict[str, float | None] = {}
    for c in client.api.containers(all=True, filters={"label": LABEL_USER}):
        name = c["Names"][0].lstrip("/") if c.get("Names") else c["Id"]
        if c["State"] in ("running", "paused", "restarting", "created"):
            states[name] = None
        else:
            try:
                finished = client.api.inspect_container(c["Id"])["State"].get("FinishedAt", "")
                states[name] = _parse_docker_time(finished)
            except Exception:  # removed meanwhile
                states.pop(name, None)
    # Swarm mode: a lease's "container" is the server's service (labhub.swarm); none on other engines.
    states.update(service_states(client.api))
    return states


def _parse_docker_time(value: str) -> float:
    from datetime import datetime

    if not value or value.startswith("0001-"):
        return time.time()
    # Docker gives nanoseconds; datetime takes microseconds.
    head, _, rest = value.partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00").timestamp()


class _ToHubLog(logging.Handler):
    """Hand labhub.gpu's records to JupyterHub's own log handlers, so they land in the hub's log."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("JupyterHub").handle(record)


def _log_into_hub() -> None:
    if not any(isinstance(h, _ToHubLog) for h in log.handlers):
        log.addHandler(_ToHubLog())
        log.setLevel(logging.INFO)
        log.propagate = False


def configure_gpu(c, settings: Settings, client) -> GpuBroker:
    """Build the hub's GpuBroker and hand it to LabSpawner; forget the old queue and reclaim leases
    whose container went away while the hub was down."""
    _log_into_hub()
    inventory = load_inventory(settings.gpu)
    store = open_store(settings, inventory)
    dropped = store.clear_waiters()
    reclaimed = store.reconcile(container_states(client), pending_grace=0)
    for lease in reclaimed:
        log.warning("GPU lease %d of %s reclaimed at start-up: its container %s is gone", lease.id, lease.user,
                    lease.container)
    if dropped:
        log.warning("%d spawns waiting for a GPU were dropped by the restart", dropped)
    broker = GpuBroker(settings.gpu, inventory, store, use_device_requests(settings.gpu, inventory, client))
    log.info("GPU inventory: %s, %d unit(s)%s; device requests: %s", inventory.source, len(inventory.units),
             f" ({inventory.detail})" if inventory.detail else "", "on" if broker.device_requests else "off")
    c.LabSpawner.gpu = broker
    c.LabSpawner.gpu_queue_timeout = settings.gpu.queue_timeout
    return broker
