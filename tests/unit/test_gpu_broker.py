"""The hub's side of leasing, without Docker: waiting in the GPU queue, env, labels, device requests."""

from __future__ import annotations

import asyncio

import pytest
from tornado import web

from labhub.gpu.broker import GpuBroker, GpuWait, use_device_requests
from labhub.gpu.inventory import Inventory, simulated_inventory
from labhub.gpu.settings import GpuSettings, SimulatedGpus
from labhub.gpu.store import LeaseStore, StorePolicy
from labhub.profiles import Profile

WHOLE = Profile(slug="gpu", display_name="GPU", image="labhub/base-notebook:latest", cpu_limit=1, mem_limit="1G",
                gpu={"mode": "whole"}, weekly_gpu_hours=5)
SHARED = Profile(slug="gpu-shared", display_name="Shared", image="labhub/base-notebook:latest", cpu_limit=1,
                 mem_limit="1G", gpu={"mode": "shared", "users_per_gpu": 2})
TWO = Profile(slug="gpu2", display_name="2 GPUs", image="labhub/base-notebook:latest", cpu_limit=1, mem_limit="1G",
              gpu={"mode": "whole", "count": 2})


def broker(tmp_path, count=1, **settings) -> GpuBroker:
    inv = simulated_inventory(SimulatedGpus(count=count, memory=80 * 1024**3))
    gpu = GpuSettings(inventory="simulated", **settings)
    return GpuBroker(gpu, inv, LeaseStore(tmp_path, StorePolicy(inv.uuids)), device_requests=False, poll_s=0.05)


async def acquire(b: GpuBroker, user: str, profile=WHOLE, wait: GpuWait | None = None):
    return await b.acquire(user=user, server="", groups={"class"}, profile=profile, container=f"lhgpu-{user}",
                           wait=wait or GpuWait())


async def test_a_waiting_spawn_sees_its_position_and_gets_the_gpu_when_it_is_released(tmp_path):
    b = broker(tmp_path)
    first = await acquire(b, "ann")
    wait = GpuWait()
    second = asyncio.create_task(acquire(b, "bob", wait=wait))
    while wait.position != 1:
        await asyncio.sleep(0.01)
    assert wait.waiting == 1 and not wait.done.is_set()
    b.release(lease_id=first.id, user="ann", server="", reason="stopped")
    lease = await asyncio.wait_for(second, 10)
    assert lease.user == "bob" and lease.units == first.units and wait.done.is_set()


async def test_a_cancelled_spawn_leaves_the_queue(tmp_path):
    b = broker(tmp_path)
    await acquire(b, "ann")
    task = asyncio.create_task(acquire(b, "bob"))
    while not b.store.queue():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.store.queue() == []
    # Cancelled while its request is still being written: nothing is left behind either.
    for user in ("cal", "dan"):
        task = asyncio.create_task(acquire(b, user))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert b.store.queue() == [] and [lease.user for lease in b.store.leases()] == ["ann"]


async def test_the_queue_timeout_gives_a_clear_503(tmp_path):
    b = broker(tmp_path, queue_timeout=10)
    await acquire(b, "ann")
    b.settings = b.settings.model_copy(update={"queue_timeout": 0})
    with pytest.raises(web.HTTPError) as e:
        await acquire(b, "bob")
    assert e.value.status_code == 503 and "No GPU became free" in e.value.log_message
    assert b.store.queue() == []


def test_quota_check_is_a_429_with_hours_and_reset(tmp_path):
    b = broker(tmp_path)
    b.store.set_quota("user", "ann", 0)
    with pytest.raises(web.HTTPError) as e:
        b.check_quota("ann", {"class"}, WHOLE)
    assert e.value.status_code == 429 and "used 0.00 of your 0 GPU-hours" in e.value.log_message
    assert "resets on Monday" in e.value.log_message
    b.check_quota("bob", {"class"}, WHOLE)


async def test_env_labels_and_device_requests_of_a_shared_lease(tmp_path):
    b = broker(tmp_path)
    lease = await acquire(b, "ann", SHARED)
    env = b.env(lease)
    assert env["NVIDIA_VISIBLE_DEVICES"] == env["LABHUB_GPU_UUIDS"] == lease.units[0]
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and env["LABHUB_GPU_MEMORY_LIMIT_MB"] == str(40 * 1024)
    assert b.labels(lease) == {"labhub.gpu": lease.units[0], "labhub.gpu.lease": str(lease.id),
                               "labhub.gpu.mode": "shared", "labhub.gpu.source": "simulated"}
    assert b.host_config(lease) == {}  # simulated: env and labels only
    b.device_requests = True
    (request,) = b.host_config(lease)["device_requests"]
    assert request["DeviceIDs"] == [lease.units[0]] and request["Capabilities"] == [["gpu"]]
    assert b.env(None) == {"NVIDIA_VISIBLE_DEVICES": "void"} and b.labels(None) == {}


def test_unavailable_reasons_point_to_the_cpu_runtime(tmp_path):
    none = GpuBroker(GpuSettings(inventory="none"), Inventory("none", (), "gpu.inventory is none"),
                     LeaseStore(tmp_path, StorePolicy(())), device_requests=False)
    assert none.unavailable_reason(WHOLE) == "Not available: this server has no GPUs. Use the CPU runtime."
    assert "needs 2 whole GPUs, this server has 1 GPU unit." in broker(tmp_path / "one").unavailable_reason(TWO)
    assert broker(tmp_path / "two", count=2).unavailable_reason(TWO) is None


def test_device_requests_never_for_simulated_or_when_switched_off():
    sim = simulated_inventory(SimulatedGpus(count=1))
    assert not use_device_requests(GpuSettings(device_requests="always"), sim, client=None)
    nvml = Inventory("nvml", sim.units)
    assert not use_device_requests(GpuSettings(device_requests="never"), nvml, client=None)
    assert use_device_requests(GpuSettings(device_requests="always"), nvml, client=None)
