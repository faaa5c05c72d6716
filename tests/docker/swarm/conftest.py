"""One swarm for all swarm tests: a manager in a dind container (labhub/dind), workers added by the
multi-node tests. The host engine's own swarm state is never touched: checked at the end."""

from __future__ import annotations

import shutil

import docker
import pytest

from tests.swarmcluster import SwarmCluster, ensure_dind_image

from .lab import GPUS, NOTEBOOK, PREFIX


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    host = docker.from_env()
    swarm_before = host.info()["Swarm"]["LocalNodeState"]
    ensure_dind_image(host)
    shared = tmp_path_factory.mktemp("lhswarm-shared")
    cluster = SwarmCluster(PREFIX, shared_dir=shared)
    cluster.destroy()  # what an interrupted run left behind
    try:
        manager = cluster.add_node("m1", gpus=GPUS["m1"])
        cluster.init_swarm()
        cluster.load_images([manager], [NOTEBOOK])
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(shared, ignore_errors=True)
        assert host.info()["Swarm"]["LocalNodeState"] == swarm_before, "the host engine's swarm state changed"
