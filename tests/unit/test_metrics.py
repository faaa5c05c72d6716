"""labhub.metrics without Docker: cgroup reading (v1 and v2 layouts), the exporter's sources and its
resilience, stop counts, the hub-side admission metrics and Prometheus token, settings, docs."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from traitlets.config import Config

from labhub.admission import Admission
from labhub.errors import ConfigError
from labhub.metrics import managed_service
from labhub.metrics.cgroups import CgroupReader, usage_from_docker_stats
from labhub.metrics.containers import ContainerSource
from labhub.metrics.exporter import Exporter
from labhub.metrics.gpu import GpuSource
from labhub.metrics.hubside import AdmissionCollector, configure_hub_metrics
from labhub.metrics.promconfig import render
from labhub.metrics.stops import StopsSource
from labhub.metrics.submissions import SubmissionsSource
from labhub.metrics.volumes import VolumesSource
from labhub.sessions.store import SessionsDB
from labhub.settings import Settings, load_settings
from labhub.spawner import LabSpawner

ROOT = Path(__file__).resolve().parents[2]
CID = "ab" * 32


def samples(registry) -> dict[tuple, float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def exposed_names() -> set[str]:
    """Every metric name labhub exposes (exporter and hub), as Prometheus stores it."""
    families = [*ContainerSource._families().values(), *VolumesSource._families().values(), StopsSource._family(),
                *GpuSource._families().values(), *SubmissionsSource._families().values(),
                *Exporter._families().values(), *AdmissionCollector().collect()]
    return {f"{f.name}_total" if f.type == "counter" else f.name for f in families}


def jupyterhub_names() -> set[str]:
    import jupyterhub.metrics  # noqa: F401 - registers JupyterHub's metrics
    from prometheus_client import REGISTRY

    return {f"{f.name}_total" if f.type == "counter" else f.name for f in REGISTRY.collect()}


# --- cgroups --------------------------------------------------------------------------------------

def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v1_cgroupfs_layout(tmp_path):
    memory, cpu = tmp_path / "memory" / "docker" / CID, tmp_path / "cpuacct" / "docker" / CID
    write(memory / "memory.usage_in_bytes", "300000000\n")
    write(memory / "memory.stat", "cache 1\ntotal_inactive_file 100000000\ntotal_rss 5\n")
    write(memory / "memory.limit_in_bytes", "536870912\n")
    write(cpu / "cpuacct.usage", "2500000000\n")
    reader = CgroupReader(tmp_path)
    assert reader.version == 1 and reader.available
    usage = reader.usage(CID)
    assert (usage.cpu_seconds, usage.memory_working_set, usage.memory_limit) == (2.5, 200000000, 536870912)


def test_cgroup_v1_unlimited_memory_is_no_limit(tmp_path):
    memory, cpu = tmp_path / "memory" / "docker" / CID, tmp_path / "cpuacct" / "docker" / CID
    write(memory / "memory.usage_in_bytes", "1000\n")
    write(memory / "memory.stat", "total_inactive_file 2000\n")  # more cache than usage: never negative
    write(memory / "memory.limit_in_bytes", "9223372036854771712\n")
    write(cpu / "cpuacct.usage", "0\n")
    usage = CgroupReader(tmp_path).usage(CID)
    assert usage.memory_limit is None and usage.memory_working_set == 0


def test_cgroup_v2_systemd_layout(tmp_path):
    write(tmp_path / "cgroup.controllers", "cpu memory pids\n")
    group = tmp_path / "system.slice" / f"docker-{CID}.scope"
    write(group / "memory.current", "400000000\n")
    write(group / "memory.stat", "anon 1\ninactive_file 150000000\nactive_file 3\n")
    write(group / "memory.max", "max\n")
    write(group / "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
    reader = CgroupReader(tmp_path)
    assert reader.version == 2
    usage = reader.usage(CID)
    assert (usage.cpu_seconds, usage.memory_working_set, usage.memory_limit) == (1.5, 250000000, None)


def test_cgroup_of_an_unknown_container_is_none(tmp_path):
    write(tmp_path / "cgroup.controllers", "cpu memory\n")
    assert CgroupReader(tmp_path).usage(CID) is None
    assert not CgroupReader(tmp_path / "nothing-mounted").available


def test_docker_stats_fallback_figures():
    stats = {"cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}},
             "memory_stats": {"usage": 500, "limit": 1000, "stats": {"inactive_file": 100}}}
    usage = usage_from_docker_stats(stats)
    assert (usage.cpu_seconds, usage.memory_working_set, usage.memory_limit) == (3.0, 400, 1000)
    # Without a limit Docker reports the host's memory: that is no limit.
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    stats["memory_stats"]["limit"] = host
    assert usage_from_docker_stats(stats).memory_limit is None


# --- the exporter ---------------------------------------------------------------------------------

class Broken:
    name = "broken"

    def describe(self):
        return []

    def collect(self):
        raise RuntimeError("the source's backend is down")


def test_a_failing_source_is_reported_and_the_others_still_answer(tmp_path):
    db = SessionsDB(tmp_path)
    db.add("alice", "", "cpu", "idle")
    registry = Exporter([Broken(), StopsSource(tmp_path, ["cpu"])]).registry()
    got = samples(registry)
    assert got[("labhub_exporter_source_up", (("source", "broken"),))] == 0
    assert got[("labhub_exporter_source_up", (("source", "stops"),))] == 1
    assert got[("labhub_server_stops_total", (("profile", "cpu"), ("reason", "idle")))] == 1


def test_stop_counts_start_at_zero_for_every_profile_and_reason(tmp_path):
    source = StopsSource(tmp_path, ["cpu", "gpu"])
    counts = source.read()
    assert len(counts) == 2 * 7 and set(counts.values()) == {0}
    assert ("gpu", "warmup_unused") in counts  # a warm-up's unused server (docs/sessions.md)
    SessionsDB(tmp_path).add("bob", "", "gpu", "gpu_idle")
    SessionsDB(tmp_path).add("bob", "", "gpu", "gpu_idle")
    SessionsDB(tmp_path).add("eve", "", "retired-profile", "admin")  # a profile no longer configured
    counts = source.read()
    assert counts[("gpu", "gpu_idle")] == 2 and counts[("retired-profile", "admin")] == 1


def test_every_exposed_metric_is_documented():
    docs = (ROOT / "docs" / "monitoring.md").read_text()
    missing = sorted(name for name in exposed_names() if f"`{name}`" not in docs)
    assert not missing, f"metrics missing from docs/monitoring.md: {missing}"


def test_metric_labels_are_low_cardinality():
    allowed = {"user", "server", "profile", "reason", "source", "path", "gpu", "group", "course", "assignment",
               "result", "state"}
    families = [*ContainerSource._families().values(), StopsSource._family(), *GpuSource._families().values(),
                *SubmissionsSource._families().values(), *VolumesSource._families().values()]
    for family in families:
        labels = set(getattr(family, "_labelnames", ()))
        assert labels <= allowed, (family.name, labels - allowed)


# --- the hub process: admission line and Prometheus' token ---------------------------------------

def test_admission_collector_reports_the_line():
    saved = LabSpawner._admission
    try:
        LabSpawner._admission = None
        values = {f.name: f.samples[0].value for f in AdmissionCollector().collect()}
        assert values == {"labhub_spawn_queue_length": 0, "labhub_spawn_starts_in_progress": 0,
                          "labhub_spawn_queue_oldest_wait_seconds": 0}
        admission = LabSpawner._admission = Admission(1)
        a = admission.enqueue("a")  # starts at once
        b = admission.enqueue("b")
        admission.enqueue("c")
        values = {f.name: f.samples[0].value for f in AdmissionCollector().collect()}
        assert values["labhub_spawn_queue_length"] == 2 and values["labhub_spawn_starts_in_progress"] == 1
        assert values["labhub_spawn_queue_oldest_wait_seconds"] >= 0
        # What the sessions service times a warm-up's starts by (absent before the hub's first spawn).
        assert values["labhub_spawn_queue_seconds_per_place"] == admission.seconds_per_place() > 0
        assert values["labhub_spawn_concurrency"] == 1
        assert "labhub_spawn_start_cpu_seconds" not in values  # nothing measured yet
        admission.done(a, ok=True).cpu_s = 1.5  # a's server answered; its container had used 1.5 CPU-s
        values = {f.name: f.samples[0].value for f in AdmissionCollector().collect()}
        assert values["labhub_spawn_start_cpu_seconds"] == 1.5 and b.admitted.is_set()
    finally:
        LabSpawner._admission = saved


def test_prometheus_gets_a_generated_token_with_read_metrics_only(tmp_path):
    c = Config()
    c.JupyterHub.services = [{"name": "sessions"}]
    settings = Settings(base_dir=tmp_path)
    configure_hub_metrics(c, settings)
    token_file = tmp_path / "state" / "prometheus-token"
    token = token_file.read_text().strip()
    assert len(token) >= 32 and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert c.JupyterHub.services[-1] == {"name": "prometheus", "api_token": token}
    assert c.JupyterHub.services[0] == {"name": "sessions"}
    role = c.JupyterHub.load_roles[-1]
    assert role["scopes"] == ["read:metrics"] and role["services"] == ["prometheus"]
    configure_hub_metrics(Config(), settings)  # a restart keeps the token Prometheus already has
    assert token_file.read_text().strip() == token


# --- settings and the service --------------------------------------------------------------------

def test_metrics_service_follows_the_settings(tmp_path):
    svc = managed_service(Settings(base_dir=tmp_path, metrics={"port": 9999}))
    assert (svc.name, svc.module, svc.port, svc.scopes) == ("metrics", "labhub.metrics", 9999, ["read:metrics"])
    assert managed_service(Settings(base_dir=tmp_path, metrics={"enabled": False})) is None


def test_unknown_metrics_key_is_named(tmp_path):
    path = tmp_path / "labhub.yaml"
    path.write_text("metrics:\n  prot: 9101\n")
    with pytest.raises(ConfigError, match=r"metrics\.prot: unknown key \(allowed here: enabled, port, listen_ip"):
        load_settings(path)
    path.write_text("metrics:\n  port: 70000\n")
    with pytest.raises(ConfigError, match=r"metrics\.port"):
        load_settings(path)


@pytest.mark.parametrize("hub_url, exporter, words", [
    ("127.0.0.1:8000", "127.0.0.1:9101", "hub URL '127.0.0.1:8000': expected http(s)://host:port"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:9101/metrics",
     "exporter 'http://127.0.0.1:9101/metrics': expected host:port"),
])
def test_monitoring_config_refuses_bad_addresses(hub_url, exporter, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        render(hub_url, exporter, "token")

