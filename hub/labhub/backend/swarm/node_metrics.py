"""`python -m labhub.backend.swarm.node_metrics`: CPU and memory of the labhub containers on this node.

In swarm mode user servers run on many nodes; the hub's exporter (labhub.metrics) keeps the lab-wide
figures (leases, queue, quotas, stops, submissions) and this small exporter runs on every node (a
global service in deploy/labhub-stack.yml) with the node's Docker socket and cgroup files. The series
are the single-host exporter's (labhub.metrics.containers), so dashboards and rules stay the same;
Prometheus' `instance` label tells the nodes apart.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import docker
import docker.errors
from prometheus_client import start_http_server

from ...metrics.cgroups import CgroupReader
from ...metrics.containers import ContainerSource
from ...metrics.exporter import Exporter

log = logging.getLogger("labhub.backend.swarm.node_metrics")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labhub.backend.swarm.node_metrics", description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="labhub", help="the hub's spawner.container_prefix (default: labhub)")
    parser.add_argument("--listen", default="0.0.0.0", help="address to serve /metrics on (default: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=9102, help="port to serve /metrics on (default: 9102)")
    parser.add_argument("--cgroup-root", type=Path, default=Path("/sys/fs/cgroup"),
                        help="the node's cgroup files (default: /sys/fs/cgroup); Docker's stats API where absent")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s node_metrics] %(message)s")
    args = parse_args(argv)
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as e:
        print(f"labhub.backend.swarm.node_metrics: no Docker engine answers ({e})", file=sys.stderr)
        return 1
    exporter = Exporter([ContainerSource(client, args.prefix, CgroupReader(args.cgroup_root))])
    start_http_server(args.port, args.listen, registry=exporter.registry())
    log.info("serving /metrics of %s-* containers on http://%s:%d", args.prefix, args.listen, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
