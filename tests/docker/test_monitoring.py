"""Monitoring end to end: a real Prometheus (Debian's binary) scrapes a real hub with running containers,
using the configuration `labhub monitoring-config` writes and labhub's alert rules; the test asks
Prometheus' HTTP API what it saw. The admin page shows the same figures."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from labhub.metrics.promconfig import render_for
from labhub.settings import load_settings
from tests.utils.hubprocess import free_port, new_user, running_hub
from tests.utils.prereq import host_tool

IMAGE = "labhub/base-notebook:latest"
IDLE = 20
PROFILES = [
    {"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
     "default": True},
    {"slug": "short-idle", "display_name": "Short idle", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
     "idle_timeout": IDLE},
    {"slug": "gpu-shared", "display_name": "GPU (shared)", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
     "gpu": {"mode": "shared", "users_per_gpu": 2}},
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("monitoring"), name="lhmon", profiles=PROFILES, settings={
        "sessions": {"interval": 2, "warn_before": 5, "activity_interval": 2},
        "gpu": {"inventory": "simulated", "simulated": {"count": 1}, "service_port": free_port()},
    }) as hub:
        yield hub



class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def values(self, expr: str, by: str) -> dict[str, float]:
        return {s["metric"].get(by, ""): float(s["value"][1]) for s in self.query(expr)}

    def wait_for(self, expr: str, check, timeout: float = 60) -> list[dict]:
        """Query until `check(result)` holds (Prometheus scrapes every second here)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if check(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr}: still {result} after {timeout}s")
            time.sleep(1)


@pytest.fixture(scope="module")
def prometheus(hub, tmp_path_factory):
    """Debian's prometheus binary with the configuration labhub renders for this hub."""
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(render_for(load_settings(hub.workdir / "labhub.yaml"), out=config, interval="1s"))
    port = free_port()
    log = open(folder / "prometheus.log", "w")
    proc = subprocess.Popen(
        [host_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"prometheus did not start:\n{(folder / 'prometheus.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield Prometheus(url)
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def running(hub, admin):
    """Two users with running servers: alice on a CPU profile, bob holding a (simulated) shared GPU."""
    alice = new_user(hub, admin, "alice")
    bob = new_user(hub, admin, "bob")
    alice.spawn("small")
    bob.spawn("gpu-shared")
    yield alice, bob
    alice.stop_server()
    bob.stop_server()


def test_prometheus_scrapes_the_hub_and_the_exporter(hub, prometheus, running):
    # Both targets are up: the hub's /hub/metrics accepted the generated read:metrics token.
    up = prometheus.wait_for('up{job=~"jupyterhub|labhub"}',
                             lambda r: len(r) == 2 and all(s["value"][1] == "1" for s in r))
    assert {s["metric"]["job"] for s in up} == {"jupyterhub", "labhub"}
    # The running servers, from the hub and per user from the exporter.
    prometheus.wait_for("jupyterhub_running_servers", lambda r: r and float(r[0]["value"][1]) == 2)
    running_servers = prometheus.wait_for("labhub_server_running", lambda r: len(r) == 2)
    assert {(s["metric"]["user"], s["metric"]["profile"]) for s in running_servers} == {
        ("alice", "small"), ("bob", "gpu-shared")}
    # Memory per user: working set of each container, and its limit from the profile.
    memory = prometheus.values("labhub_container_memory_working_set_bytes", by="user")
    assert set(memory) == {"alice", "bob"} and all(v > 1024**2 for v in memory.values()), memory
    limits = prometheus.values("labhub_container_memory_limit_bytes", by="user")
    assert limits == {"alice": 512 * 1024**2, "bob": 512 * 1024**2}
    cpu = prometheus.values("labhub_container_cpu_seconds_total", by="user")
    assert set(cpu) == {"alice", "bob"} and all(v > 0 for v in cpu.values())
    # GPU: bob holds half of the one simulated GPU.
    assert prometheus.values("labhub_gpu_lease_units", by="user") == {"bob": 0.5}
    assert prometheus.values("labhub_gpu_units_free", by="") == {"": 0.5}
    prometheus.wait_for('labhub_gpu_user_memory_bytes{user="bob"}', lambda r: len(r) == 1)
    # The admission line comes from the hub process itself, through /hub/metrics.
    assert prometheus.values("labhub_spawn_queue_length", by="job") == {"jupyterhub": 0}
    # What the two starts cost, read from their containers' cgroups: what the line sizes itself by.
    start_cpu = prometheus.wait_for("labhub_spawn_start_cpu_seconds", lambda r: len(r) == 1)
    assert 0.2 < float(start_cpu[0]["value"][1]) < 30, start_cpu
    assert prometheus.values("labhub_spawn_concurrency", by="job")["jupyterhub"] >= 1
    # The home volumes' disk, and every exporter source answering.
    assert prometheus.values("labhub_home_volumes_filesystem_avail_bytes", by="path")
    sources = prometheus.values("labhub_exporter_source_up", by="source")
    assert {"containers", "volumes", "stops", "gpu", "submissions"} <= set(sources) and set(sources.values()) == {1}
    assert prometheus.values("labhub_grading_queue", by="state") == {"queued": 0, "running": 0}


def test_alert_rules_are_loaded_and_quiet(prometheus, running):
    r = requests.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()
    alerts = {rule["name"]: rule for group in r["data"]["groups"] for rule in group["rules"]}
    assert {"LabhubHubDown", "LabhubSpawnErrors", "LabhubGpuHeldIdle", "LabhubContainerNearMemoryLimit",
            "LabhubHomeVolumesDiskNearlyFull", "LabhubSpawnQueueWaitingTooLong"} <= set(alerts)
    assert all(rule["health"] == "ok" for rule in alerts.values()), alerts
    assert alerts["LabhubHubDown"]["state"] == "inactive"


@pytest.mark.slow
def test_stop_counter_moves_after_an_idle_cull(hub, admin, prometheus):
    series = 'labhub_server_stops_total{profile="short-idle", reason="idle"}'
    # Every (profile, reason) is exported from 0 on, so the first stop is an increase Prometheus sees.
    prometheus.wait_for(series, lambda r: len(r) == 1 and r[0]["value"][1] == "0")
    carol = new_user(hub, admin, "carol")
    carol.spawn("short-idle")
    deadline = time.monotonic() + IDLE + 90
    while carol.server() is not None:  # the sessions service stops it as idle
        assert time.monotonic() < deadline, "the idle server was not culled"
        time.sleep(1)
    prometheus.wait_for(series, lambda r: len(r) == 1 and r[0]["value"][1] == "1")
    prometheus.wait_for(f"increase({series}[1m])", lambda r: len(r) == 1 and float(r[0]["value"][1]) > 0)


def test_admin_page_shows_who_runs_what(hub, admin, running):
    alice, _ = running
    page = admin.session.get(f"{hub.url}/services/metrics/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert 'data-user="alice"' in page.text and 'data-user="bob"' in page.text
    overview = admin.session.get(f"{hub.url}/services/metrics/api/overview", timeout=30).json()
    servers = {s["user"]: s for s in overview["servers"]}
    assert servers["alice"]["profile"] == "small" and servers["alice"]["memory_limit_bytes"] == 512 * 1024**2
    assert servers["bob"]["memory_bytes"] > 0
    assert overview["hub"]["queue_length"] == 0 and overview["hub"]["running_servers"] >= 2
    assert [(lease["user"], lease["units"]) for lease in overview["gpu"]["leases"]] == [("bob", 0.5)]
    assert not overview["errors"]


def test_admin_page_is_for_admins_only(hub, running):
    alice, _ = running
    r = alice.session.get(f"{hub.url}/services/metrics/", timeout=30)
    assert r.status_code == 403
    r = alice.session.get(f"{hub.url}/services/metrics/api/overview", timeout=30)
    assert r.status_code == 403


def test_per_user_figures_are_not_reachable_through_the_proxy(hub, running):
    # Prometheus reads the exporter on its own address; the hub's public URL does not serve it.
    r = requests.get(f"{hub.url}/services/metrics/metrics", timeout=10, allow_redirects=False)
    assert "labhub_container_memory_working_set_bytes" not in r.text
    # And /hub/metrics wants a token with read:metrics.
    assert requests.get(f"{hub.url}/hub/metrics", timeout=10).status_code == 403
