"""labhub.startcpu against real containers: the CPU a user's just-started server used, for the admission line.

It finds the user's newest running container by its labhub.user label and reads its cgroup, or Docker's
stats where the cgroup files are not visible (the hub in a container).
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
def user_container():
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
        yield user, container
    finally:
        container.remove(force=True)


def test_the_cpu_of_a_users_started_container_is_read_from_its_cgroup(user_container):
    user, _ = user_container
    cpu = StartCpu()(user)
    assert cpu is not None and 0.5 <= cpu < 30


def test_without_visible_cgroups_dockers_stats_give_the_figure(user_container, tmp_path):
    user, _ = user_container
    cpu = StartCpu(cgroups=CgroupReader(tmp_path))(user)  # an empty hierarchy, as in a container without it
    assert cpu is not None and 0.5 <= cpu < 30


def test_a_user_without_a_running_server_has_no_figure():
    assert StartCpu()(f"nobody-{uuid.uuid4().hex[:8]}") is None
