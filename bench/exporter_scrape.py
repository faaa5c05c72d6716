"""How long one Prometheus scrape of the labhub exporter takes with N running user containers.

Starts N small labelled containers (as LabSpawner labels them), then times the full scrape
(generate_latest over every source) with cgroup reading, and once with the Docker-stats fallback for
comparison. Writes bench/results/exporter_scrape.json.

    .venv/bin/python bench/exporter_scrape.py [--containers 50] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
from prometheus_client import generate_latest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))

from labhub.metrics.cgroups import CgroupReader  # noqa: E402
from labhub.metrics.containers import ContainerSource  # noqa: E402
from labhub.metrics.exporter import Exporter  # noqa: E402
from labhub.metrics.stops import StopsSource  # noqa: E402
from labhub.metrics.volumes import VolumesSource  # noqa: E402

PREFIX = "lhmonbench"
IMAGE = "labhub/base-notebook:latest"


def start_containers(client, n: int) -> None:
    def one(i: int):
        client.containers.run(
            IMAGE, ["sleep", "infinity"], name=f"{PREFIX}-user{i:03d}", detach=True, mem_limit="128m",
            labels={"labhub.user": f"user{i:03d}", "labhub.profile": "small", "labhub.server": ""},
        )
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))


def remove_containers(client) -> None:
    for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}):
        c.remove(force=True)


def memory_series(registry) -> int:
    body = generate_latest(registry).decode()
    return sum(1 for line in body.splitlines() if line.startswith("labhub_container_memory_working_set_bytes{"))


def time_scrapes(registry, rounds: int) -> dict:
    generate_latest(registry)  # warm-up: first CPU samples, connection pool
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        body = generate_latest(registry)
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "rounds": rounds,
        "median_s": statistics.median(times),
        "p95_s": times[min(len(times) - 1, int(0.95 * len(times)))],
        "max_s": times[-1],
        "bytes": len(body),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "exporter_scrape.json")
    args = parser.parse_args()

    client = docker.from_env(timeout=60)
    remove_containers(client)
    try:
        started = time.perf_counter()
        start_containers(client, args.containers)
        print(f"{args.containers} containers started in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory() as state:
            cgroups = CgroupReader()
            if not cgroups.available:
                print("cgroup files not visible here: only the Docker-stats path is measured")
            sources = [ContainerSource(client, PREFIX, cgroups), VolumesSource(client),
                       StopsSource(Path(state), ["small"])]
            registry = Exporter(sources).registry()
            body = generate_latest(registry).decode()
            running = sum(1 for line in body.splitlines() if line.startswith("labhub_server_running{"))
            assert running == args.containers, f"exporter saw {running} of {args.containers} containers"
            scrape = time_scrapes(registry, args.rounds)
            print(f"scrape with cgroup files: median {scrape['median_s'] * 1000:.1f} ms, "
                  f"p95 {scrape['p95_s'] * 1000:.1f} ms, max {scrape['max_s'] * 1000:.1f} ms")

            # The fallback, for comparison: the hub in a container without the host's cgroup files.
            # Scrapes stay fast (stats are read in the background); what it costs is freshness.
            no_cgroups = CgroupReader(Path(state) / "no-cgroups")
            fallback = Exporter([ContainerSource(client, PREFIX, no_cgroups)]).registry()
            started = time.perf_counter()
            while memory_series(fallback) < args.containers:
                time.sleep(0.2)
            fill_s = time.perf_counter() - started
            fallback_scrape = time_scrapes(fallback, args.rounds)
            fallback_scrape["all_containers_known_after_s"] = fill_s
            print(f"scrape with Docker stats (fallback): median {fallback_scrape['median_s'] * 1000:.1f} ms; "
                  f"figures for all containers after {fill_s:.1f} s")
    finally:
        remove_containers(client)

    result = {
        "benchmark": "exporter_scrape",
        "containers": args.containers,
        "cgroup_version": cgroups.version,
        "cpus": __import__("os").cpu_count(),
        "machine": platform.machine(),
        "docker": client.version().get("Version"),
        "scrape": scrape,
        "scrape_docker_stats_fallback": fallback_scrape,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
