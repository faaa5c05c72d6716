"""How long one Prometheus scrape of the labhub exporter takes with N running user containers.

Starts N small labelled containers (as LabSpawner labels them; a few hold leases on a simulated GPU
inventory), builds the exporter exactly as the metrics service does (every source: containers, volumes,
stops, GPUs, submissions) and times full scrapes; then once more with the Docker-stats fallback for
comparison. Writes bench/results/exporter_scrape.json.

    .venv/bin/python bench/exporter_scrape.py [--containers 50] [--gpu-holders 8] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
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

from labhub.gpu.hubside import open_store  # noqa: E402
from labhub.gpu.policy import Demand  # noqa: E402
from labhub.metrics.cgroups import CgroupReader  # noqa: E402
from labhub.metrics.containers import ContainerSource  # noqa: E402
from labhub.metrics.exporter import Exporter, exporter_for  # noqa: E402
from labhub.settings import Settings  # noqa: E402

PREFIX = "lhmonbench"
IMAGE = "labhub/base-notebook:latest"


def start_containers(client, n: int, gpu_units: dict[int, str]) -> None:
    def one(i: int):
        labels = {"labhub.user": f"user{i:03d}", "labhub.profile": "gpu-shared" if i in gpu_units else "small",
                  "labhub.server": ""}
        if i in gpu_units:
            labels.update({"labhub.gpu": gpu_units[i], "labhub.gpu.source": "simulated"})
        client.containers.run(IMAGE, ["sleep", "infinity"], name=f"{PREFIX}-user{i:03d}", detach=True,
                              mem_limit="128m", labels=labels)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))


def remove_containers(client) -> None:
    for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}):
        c.remove(force=True)


def memory_series(registry) -> int:
    body = generate_latest(registry).decode()
    return sum(1 for line in body.splitlines() if line.startswith("labhub_container_memory_working_set_bytes{"))


def source_durations(registry) -> dict[str, float]:
    body = generate_latest(registry).decode()
    found = re.findall(r'^labhub_exporter_source_duration_seconds\{source="(\w+)"\} (\S+)$', body, re.M)
    return {name: round(float(value), 4) for name, value in found}


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
    parser.add_argument("--gpu-holders", type=int, default=8, help="containers holding a shared simulated GPU")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "exporter_scrape.json")
    args = parser.parse_args()

    client = docker.from_env(timeout=60)
    remove_containers(client)
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(base_dir=ROOT, hub={"state_dir": state}, spawner={"container_prefix": PREFIX},
                            gpu={"inventory": "simulated", "simulated": {"count": max(1, args.gpu_holders // 2)}})
        store = open_store(settings)
        gpu_units = {}
        for i in range(args.gpu_holders):  # two holders per GPU, as gpu-shared leases them
            lease = store.request(f"user{i:03d}", "", "gpu-shared", Demand("shared", 1, 2),
                                  container=f"{PREFIX}-user{i:03d}")
            gpu_units[i] = ",".join(lease.units)
        try:
            started = time.perf_counter()
            start_containers(client, args.containers, gpu_units)
            print(f"{args.containers} containers started in {time.perf_counter() - started:.1f} s")
            cgroups = CgroupReader(settings.path(settings.metrics.cgroup_root))
            if not cgroups.available:
                print("cgroup files not visible here: container figures come from the Docker-stats fallback")
            exporter = exporter_for(settings, client)
            registry = exporter.registry()
            body = generate_latest(registry).decode()
            running = sum(1 for line in body.splitlines() if line.startswith("labhub_server_running{"))
            assert running == args.containers, f"exporter saw {running} of {args.containers} containers"
            down = [line for line in body.splitlines()
                    if line.startswith("labhub_exporter_source_up{") and line.endswith(" 0.0")]
            assert not down, down
            scrape = time_scrapes(registry, args.rounds)
            scrape["sources"] = [s.name for s in exporter.sources]
            scrape["last_seconds_per_source"] = source_durations(registry)
            print(f"seconds per source in one scrape: {scrape['last_seconds_per_source']}")
            print(f"full scrape ({', '.join(scrape['sources'])}): median {scrape['median_s'] * 1000:.1f} ms, "
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
            print("containers source on the Docker-stats fallback: "
                  f"median {fallback_scrape['median_s'] * 1000:.1f} ms; "
                  f"figures for all containers after {fill_s:.1f} s")
        finally:
            remove_containers(client)

    result = {
        "benchmark": "exporter_scrape",
        "containers": args.containers,
        "gpu_holders": args.gpu_holders,
        "cgroup_version": cgroups.version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "docker": client.version().get("Version"),
        "scrape": scrape,
        "containers_source_docker_stats_fallback": fallback_scrape,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
