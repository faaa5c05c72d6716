"""CPU figures of the benchmarks: a container's CPU at ready, a process's CPU, and the CPU floor.

The CPU floor of a burst is what the machine cannot beat: N servers that each need the CPU-seconds of a
plain `jupyter server` (same image, no hub) to answer /api/status, spread over every core. It is
measured in the same run, so it moves with the machine like the figures it is compared with.
"""

from __future__ import annotations

import os
import statistics
import time

import docker
import requests

from labhub.admission import usable_cores
from labhub.metrics.cgroups import CgroupReader, usage_from_docker_stats

PLAIN_TOKEN = "bench-plain-server"
PLAIN_PORT = 8888


def container_cpu_s(client: docker.DockerClient, container_id: str, cgroups: CgroupReader | None = None) -> float | None:
    """CPU-seconds a container has used so far (its cgroup; Docker's stats where that is not visible)."""
    cgroups = cgroups or CgroupReader()
    usage = cgroups.usage(container_id) if cgroups.available else None
    if usage is None:
        try:
            usage = usage_from_docker_stats(client.api.stats(container_id, stream=False))
        except docker.errors.NotFound:
            return None
    return usage.cpu_seconds


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process (not its children), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces and parentheses: fields count from after its last ")".
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_floor_s(servers: int, cpu_per_server_s: float | None, cores: int) -> float | None:
    """Seconds the cores need at least to start `servers` servers of `cpu_per_server_s` CPU-s each."""
    if cpu_per_server_s is None or servers < 1 or cores < 1:
        return None
    return servers * cpu_per_server_s / cores


def multiple_of(value: float | None, floor: float | None) -> float | None:
    """`value` as a multiple of `floor` (None where either is missing or the floor is zero)."""
    if value is None or not floor:
        return None
    return value / floor


def plain_server_cpu_s(image: str, runs: int = 3, timeout: float = 120) -> dict:
    """CPU-seconds a plain `jupyter server` in `image` needs until it answers /api/status: each of
    `runs` fresh containers is polled every 50 ms, and its cgroup read at the first 200."""
    client = docker.from_env()
    readings = []
    for i in range(runs):
        container = client.containers.run(
            image, ["jupyter", "server", "--ip=0.0.0.0", f"--port={PLAIN_PORT}", "--no-browser",
                    f"--IdentityProvider.token={PLAIN_TOKEN}"],
            name=f"lhbench-plain-{os.getpid()}-{i}", detach=True, remove=False,
            labels={"labhub.bench": "plain-server"})
        try:
            readings.append(_cpu_until_status(client, container, timeout))
        finally:
            container.remove(force=True)
    return {"runs": runs, "cpu_s": readings, "median_cpu_s": statistics.median(readings), "image": image,
            "command": "jupyter server (no hub, no extensions enabled by the hub), until GET /api/status answers 200"}


def _cpu_until_status(client: docker.DockerClient, container, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    container.reload()
    ip = container.attrs["NetworkSettings"]["IPAddress"]
    url = f"http://{ip}:{PLAIN_PORT}/api/status"
    while time.monotonic() < deadline:
        try:
            if requests.get(url, headers={"Authorization": f"token {PLAIN_TOKEN}"}, timeout=2).status_code == 200:
                cpu = container_cpu_s(client, container.id)
                if cpu is None:
                    raise RuntimeError(f"no CPU figure for {container.name}")
                return cpu
        except requests.RequestException:
            pass
        container.reload()
        if container.status == "exited":
            raise RuntimeError(f"plain jupyter server exited: {container.logs(tail=20).decode(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"plain jupyter server did not answer {url} within {timeout:.0f} s")


def cores() -> int:
    return usable_cores()
