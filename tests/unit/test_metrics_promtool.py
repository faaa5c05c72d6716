"""monitoring/: Prometheus' configuration, alert rules and their unit tests, checked by the real
promtool; the Grafana dashboard's queries parsed by it too; every metric and alert documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from labhub.metrics.promconfig import render_for
from labhub.settings import Settings
from tests.utils.prereq import host_tool

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yml"))
DASHBOARD = MONITORING / "grafana" / "dashboards" / "labhub.json"
DOCS = (ROOT / "docs" / "monitoring.md").read_text()
# What `labhub monitoring-config` is run with for monitoring/compose/prometheus.yml (docs/monitoring.md).
COMPOSE_ARGS = {"hub_url": "http://127.0.0.1:8000", "exporter": "127.0.0.1:9101",
                "token_file": "/srv/labhub/state/prometheus-token", "rules_dir": "/etc/labhub-monitoring/rules"}


def promtool(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run([host_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def alerts() -> dict[str, dict]:
    found = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.update({rule["alert"]: rule for rule in group["rules"] if "alert" in rule})
    return found


def test_alert_rules_pass_promtool_check():
    out = promtool("check", "rules", *map(str, RULES))
    assert "SUCCESS" in out


def test_alert_rule_unit_tests_pass():
    out = promtool("test", "rules", *map(str, RULE_TESTS))
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test_and_a_doc_entry():
    tested = set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            tested |= {case["alertname"] for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts(), "no alert rules found"
    assert set(alerts()) - tested == set(), "alerts without a test that sees them fire"
    undocumented = [name for name in alerts() if f"`{name}`" not in DOCS]
    assert not undocumented, f"alerts missing from docs/monitoring.md: {undocumented}"


def test_every_alert_has_a_severity_summary_and_description():
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"].get("summary") and rule["annotations"].get("description"), name


def _in_tree(tmp_path: Path, config_text: str) -> Path:
    """The configuration where its relative paths resolve: monitoring/ with rules, state/ with a token."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "prometheus-token").write_text("a-token\n")
    shutil.copytree(MONITORING / "rules", tmp_path / "monitoring" / "rules")
    config = tmp_path / "monitoring" / "prometheus.yml"
    config.write_text(config_text)
    return config


def test_committed_prometheus_config_is_what_monitoring_config_writes():
    out = MONITORING / "prometheus.yml"
    assert out.read_text() == render_for(Settings(base_dir=ROOT), out=out), \
        "regenerate with: labhub monitoring-config --out monitoring/prometheus.yml (no $LABHUB_CONFIG)"
    compose = MONITORING / "compose" / "prometheus.yml"
    assert compose.read_text() == render_for(Settings(base_dir=ROOT), out=compose, **COMPOSE_ARGS)


def test_committed_prometheus_config_passes_promtool(tmp_path):
    config = _in_tree(tmp_path, (MONITORING / "prometheus.yml").read_text())
    out = promtool("check", "config", str(config))
    # The config loads the rules file, every rule of it.
    groups = yaml.safe_load((MONITORING / "rules" / "labhub.rules.yml").read_text())["groups"]
    assert "SUCCESS" in out and f"{sum(len(g['rules']) for g in groups)} rules found" in out


def test_config_scrapes_hub_with_token_and_exporter():
    config = yaml.safe_load(render_for(Settings(base_dir=ROOT, hub={"bind_url": "https://lab.example.org/jhub/"}),
                                       alertmanager="am:9093"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    hub = jobs["jupyterhub"]
    assert (hub["scheme"], hub["metrics_path"], hub["static_configs"]) == (
        "https", "/jhub/hub/metrics", [{"targets": ["lab.example.org"]}])
    assert hub["authorization"]["credentials_file"] == str(ROOT / "state" / "prometheus-token")
    assert jobs["labhub"]["static_configs"] == [{"targets": ["127.0.0.1:9101"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["am:9093"]


def test_compose_mounts_what_the_monitoring_files_expect():
    """docker-compose.yml's prometheus and grafana find the files where these configurations say."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    prometheus, grafana = compose["prometheus"], compose["grafana"]
    assert "./monitoring:/etc/labhub-monitoring:ro" in prometheus["volumes"]
    assert "--config.file=/etc/labhub-monitoring/compose/prometheus.yml" in prometheus["command"]
    assert any(v.startswith("labhub-state:/srv/labhub/state") for v in prometheus["volumes"])
    assert str(prometheus.get("user")) in ("0", "0:0"), "the token in the hub's state (0600, root) must be readable"
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "--web.listen-address=127.0.0.1:9090" in prometheus["command"]


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


def test_dashboard_queries_parse(tmp_path):
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
             for i, (_, expr) in enumerate(dashboard_queries())]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    promtool("check", "rules", str(path))


def test_dashboard_has_the_panels_the_issue_asks_for():
    exprs = " ".join(expr for _, expr in dashboard_queries())
    for metric in ("jupyterhub_running_servers", "jupyterhub_server_spawn_duration_seconds_count",
                   "labhub_container_cpu_seconds_total", "labhub_container_memory_working_set_bytes",
                   "labhub_gpu_user_utilization_ratio", "labhub_gpu_user_memory_bytes", "labhub_gpu_lease_units",
                   "labhub_gpu_units_free", "labhub_spawn_queue_length", "labhub_gpu_queue_length",
                   "labhub_gpu_hours_used", "labhub_server_stops_total", "labhub_submissions_total",
                   "labhub_grading_results_total", "labhub_grading_duration_seconds_bucket"):
        assert metric in exprs, metric
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "labhub-overview"
    provisioning = yaml.safe_load((MONITORING / "grafana" / "provisioning" / "dashboards" / "labhub.yml").read_text())
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_and_rules_use_only_metrics_that_exist():
    from tests.unit.test_metrics import exposed_names, jupyterhub_names

    known = exposed_names() | jupyterhub_names()
    used = set()
    for _, expr in dashboard_queries():
        used |= set(re.findall(r"\b(?:labhub|jupyterhub)_[a-z_]+\b", expr))
    for rule in alerts().values():
        used |= set(re.findall(r"\b(?:labhub|jupyterhub)_[a-z_]+\b", rule["expr"]))
    unknown = {name for name in used if name not in known and re.sub(r"_(bucket|sum|count)$", "", name) not in known}
    assert not unknown, f"queries use metrics nobody exports: {sorted(unknown)}"
