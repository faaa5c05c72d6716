"""labhub.backend.startcpu against real containers: the CPU a just-started server used, for the admission line.

It reads the container's cgroup, or Docker's stats where the cgroup files are not visible (the hub in
a container).
"""

from __future__ import annotations

import time
import uuid

import docker
import pytest

from labhub.labels import USER
from labhub.metrics.cgroups import CgroupReader
from labhub.backend.startcpu import StartCpu
from tests.docker.conftest import IMAGE_PREFIX

IMAGE = f"{IMAGE_PREFIX}/base-notebook:latest"
# Burn about half a CPU-second, then idle: the figure read afterwards is what the "start" cost.
BURN = "import time; t = time.process_time(); [0 for _ in iter(lambda: time.process_time() - t > 0.5, True)]; time.sleep(600)"


@pytest.fixture
def started_container():
    client = docker.from_env()
    user = f"startcpu-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(IMAGE, ["python3", "-c", BURN], detach=True, labels={USER: user},
                                      name=f"lhtest-{user}")
    try:
        cgroups = CgroupReader()
        for _ in range(150):  # until the burn is over, by its CPU time
            usage = cgroups.usage(container.id)
            if usage and usage.cpu_seconds >= 0.5:
                break
            container.reload()
            assert container.status == "running", container.logs()
            time.sleep(0.2)
        yield container
    finally:
        container.remove(force=True)


def test_the_cpu_of_a_started_container_is_read_from_its_cgroup(started_container):
    cpu = StartCpu()(started_container.id)
    assert cpu is not None and 0.5 <= cpu < 30


def test_without_visible_cgroups_dockers_stats_give_the_figure(started_container, tmp_path):
    cpu = StartCpu(cgroups=CgroupReader(tmp_path))(started_container.id)  # an empty hierarchy, as in a container without it
    assert cpu is not None and 0.5 <= cpu < 30


def test_a_container_this_engine_does_not_have_has_no_figure():
    # A swarm task on another node, or a container removed meanwhile: no figure, no error.
    assert StartCpu()(uuid.uuid4().hex + uuid.uuid4().hex) is None
