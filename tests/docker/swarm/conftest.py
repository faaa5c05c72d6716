"""One swarm for all swarm tests: a manager in a dind container (labhub/dind), workers added by the
multi-node tests. The host engine's own swarm state is never touched: checked at the end."""

from __future__ import annotations

import shutil

import docker
import pytest

from tests.swarmcluster import SwarmCluster, ensure_dind_image

from .lab import GPUS, HUB_IMAGE, NOTEBOOK, PREFIX


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    host = docker.from_env()
    swarm_before = host.info()["Swarm"]["LocalNodeState"]
    ensure_dind_image(host)
    shared = tmp_path_factory.mktemp("lhswarm-shared")
    cluster = SwarmCluster(PREFIX, shared_dir=shared)
    cluster.destroy()  # what an interrupted run left behind
    try:
        # The hub image too, when built (make image-hub): test_swarm_3_stack deploys it.
        cluster.seed_images([NOTEBOOK, *([HUB_IMAGE] if host.images.list(name=HUB_IMAGE) else [])])
        cluster.add_node("m1", gpus=GPUS["m1"])
        cluster.init_swarm()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(shared, ignore_errors=True)
        assert host.info()["Swarm"]["LocalNodeState"] == swarm_before, "the host engine's swarm state changed"
