"""One swarm for all swarm tests: a manager in a dind container (labhub/dind), workers added by the
multi-node tests. The host engine's own swarm state is never touched: checked at the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from tests.utils.swarmcluster import DIND_IMAGE, SwarmCluster, require_images

from .lab import GPUS, HUB_IMAGE, NOTEBOOK, PREFIX


# pytest-timeout counts a fixture's set-up in the test that first asks for it: the first swarm test
# also pays for the cluster (copying the images into the nodes), so swarm tests get more room.
SWARM_TEST_TIMEOUT_S = 1800


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(SWARM_TEST_TIMEOUT_S))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    host = docker.from_env()
    swarm_before = host.info()["Swarm"]["LocalNodeState"]
    try:
        require_images(host, {DIND_IMAGE: "image-dind", NOTEBOOK: "image-base", HUB_IMAGE: "image-hub"})
    except RuntimeError as e:
        pytest.fail(f"the swarm tests need images that are {e}")
    shared = tmp_path_factory.mktemp("lhswarm-shared")
    cluster = SwarmCluster(PREFIX, shared_dir=shared)
    cluster.destroy()  # what an interrupted run left behind
    try:
        cluster.seed_images([NOTEBOOK, HUB_IMAGE])  # the hub image: test_swarm_3_stack deploys it
        cluster.add_node("m1", gpus=GPUS["m1"])
        cluster.init_swarm()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(shared, ignore_errors=True)
        assert host.info()["Swarm"]["LocalNodeState"] == swarm_before, "the host engine's swarm state changed"
