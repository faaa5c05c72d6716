"""Wiring GPU leasing into the hub at start-up: inventory, lease store, reconcile, LabSpawner.gpu."""

from __future__ import annotations

import logging

from ..backend import Backend
from ..settings import Settings
from .broker import GpuBroker, use_device_requests
from .inventory import load_inventory
from .store import LeaseStore, StorePolicy
from .quota import QuotaRules

log = logging.getLogger("labhub.gpu")


def open_store(settings: Settings, inventory=None) -> LeaseStore:
    """The lease store of these settings (the hub, the gpu service and the CLI all use this)."""
    gpu = settings.gpu
    inventory = inventory if inventory is not None else load_inventory(gpu)
    policy = StorePolicy(tuple(inventory.uuids), QuotaRules.from_settings(gpu), gpu.fair_share_hours, gpu.backfill_for)
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    return LeaseStore(state, policy)


class _ToHubLog(logging.Handler):
    """Hand labhub.gpu's records to JupyterHub's own log handlers, so they land in the hub's log."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("JupyterHub").handle(record)


def _log_into_hub() -> None:
    if not any(isinstance(h, _ToHubLog) for h in log.handlers):
        log.addHandler(_ToHubLog())
        log.setLevel(logging.INFO)
        log.propagate = False


def configure_gpu(c, settings: Settings, backend: Backend) -> GpuBroker:
    """Build the hub's GpuBroker (as the backend hands leases over) and give it to LabSpawner; forget
    the old queue and reclaim leases whose server went away while the hub was down."""
    _log_into_hub()
    inventory = load_inventory(settings.gpu)
    store = open_store(settings, inventory)
    dropped = store.clear_waiters()
    reclaimed = store.reconcile(backend.server_states(), pending_grace=0)
    for lease in reclaimed:
        log.warning("GPU lease %d of %s reclaimed at start-up: its container %s is gone", lease.id, lease.user,
                    lease.container)
    if dropped:
        log.warning("%d spawns waiting for a GPU were dropped by the restart", dropped)
    broker = GpuBroker(settings.gpu, inventory, store, use_device_requests(settings.gpu, inventory, backend.client))
    log.info("GPU inventory: %s, %d unit(s)%s; device requests: %s", inventory.source, len(inventory.units),
             f" ({inventory.detail})" if inventory.detail else "", "on" if broker.device_requests else "off")
    c.LabSpawner.gpu = broker = backend.gpu_broker(broker)
    c.LabSpawner.gpu_queue_timeout = settings.gpu.queue_timeout
    return broker
