"""The swarm deployment files keep metrics and Prometheus away from user servers, and Grafana has no
default password: checked on the files themselves (deploy/*.yml), as `docker stack deploy` reads them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from labhub.settings import load_settings

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MONITORING = {"metrics", "node-metrics", "prometheus", "grafana"}


def stack(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def network_names(stack_file: dict) -> dict[str, str]:
    """A stack's network keys -> the Docker network names they stand for."""
    return {key: (spec or {}).get("name", key) for key, spec in (stack_file.get("networks") or {}).items()}


def services_by_network() -> dict[str, dict[str, list[str]]]:
    """service -> the Docker networks it joins, over both stacks."""
    found = {}
    for name in ("labhub-stack.yml", "labhub-monitoring-stack.yml"):
        s = stack(name)
        names = network_names(s)
        for service, spec in s["services"].items():
            networks = spec.get("networks") or ["default"]
            found[service] = [names.get(n, n) for n in (networks if isinstance(networks, list) else list(networks))]
    return found


def test_user_servers_share_no_network_with_metrics_or_prometheus():
    settings = load_settings(DEPLOY / "labhub.swarm.yaml")
    assert settings.spawner.kind == "swarm"
    user_network = settings.spawner.network  # what LabSwarmSpawner attaches every user server to
    joined = services_by_network()
    assert MONITORING <= set(joined)
    for service in MONITORING:
        assert user_network not in joined[service], f"{service} is on {user_network}, the user servers' network"
    # The hub is on both (user servers call its API); its own exporter must then listen on loopback only.
    assert user_network in joined["hub"]
    assert ipaddress.ip_address(settings.metrics.listen_ip).is_loopback


def test_the_monitoring_network_is_internal_and_prometheus_scrapes_on_it():
    main = stack("labhub-stack.yml")
    (key,) = [k for k, v in main["networks"].items() if v.get("name") == "labhub-monitoring"]
    assert main["networks"][key]["internal"] is True
    monitoring = stack("labhub-monitoring-stack.yml")
    assert monitoring["networks"]["monitoring"] == {"external": True, "name": "labhub-monitoring"}
    prometheus = yaml.safe_load((DEPLOY / "prometheus-swarm.yml").read_text())
    targets = {job["job_name"]: job.get("static_configs", [{}])[0].get("targets") for job in prometheus["scrape_configs"]}
    assert targets["labhub"] == ["metrics:9101"] and targets["jupyterhub"] == ["hub:8000"]
    joined = services_by_network()
    assert "labhub-monitoring" in joined["metrics"] and "labhub-monitoring" in joined["hub"]


def test_the_stacks_exporter_is_the_hubs_settings_listening_on_its_own_container():
    exporter = stack("labhub-stack.yml")["services"]["metrics"]
    script = " ".join(exporter["command"])
    assert 'yaml.safe_load(open("/srv/labhub/labhub.yaml"))' in script
    assert 's.setdefault("metrics", {})["listen_ip"] = "0.0.0.0"' in script
    assert script.endswith("LABHUB_CONFIG=/tmp/labhub-exporter.yaml exec python -m labhub.metrics")
    hub = stack("labhub-stack.yml")["services"]["hub"]
    assert {c["source"]: c["target"] for c in exporter["configs"]} == {c["source"]: c["target"] for c in hub["configs"]}


def test_grafana_has_no_default_password_and_reads_it_from_a_secret():
    monitoring = stack("labhub-monitoring-stack.yml")
    grafana = monitoring["services"]["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    (secret,) = grafana["secrets"]
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == f"/run/secrets/{secret['target']}"
    # Made by the admin before the deploy (docs/monitoring.md), never a file in the repository.
    assert monitoring["secrets"][secret["source"]] == {"external": True, "name": "labhub-grafana-admin-password"}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"
