"""Local monitoring: the rendered prometheus.yml passes the real promtool; Grafana's access."""

from __future__ import annotations

from pathlib import Path

import pulumi
import yaml

from components.alert_rules import rule_group_yaml
from components.local.monitoring import (
    GRAFANA_DASHBOARD_FILE,
    PROMETHEUS_RULES_FILE,
    Monitoring,
    MonitoringArgs,
    grafana_environment,
    local_prometheus_config,
)
from tests.harness import run_components
from tests.local_support import env_map, upload
from tests.promql_support import run_promtool


def test_local_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """The config as the container reads it, its rule file where the container has it."""
    document = yaml.safe_load(
        local_prometheus_config("elixir-app", ["elixir-app-local-app:4000"], "/metrics")
    )
    assert document["rule_files"] == [PROMETHEUS_RULES_FILE]
    rules = tmp_path / "elixir-app.yml"
    rules.write_text(rule_group_yaml())
    document["rule_files"] = [str(rules)]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(document))
    checked = run_promtool("check", "config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout + checked.stderr


def test_promtool_would_catch_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: promtool rejects a timeout longer than the interval."""
    document = yaml.safe_load(local_prometheus_config("elixir-app", ["app:4000"], "/metrics"))
    document["scrape_configs"][0]["scrape_timeout"] = "1m"
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(document))
    checked = run_promtool("check", "config", config)
    assert checked.returncode != 0


def test_local_prometheus_config_scrapes_the_app_and_itself() -> None:
    document = yaml.safe_load(
        local_prometheus_config("elixir-app", ["app-container:4000"], "/internal/metrics")
    )
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets == {"elixir-app": ["app-container:4000"], "prometheus": ["localhost:9090"]}
    assert jobs["elixir-app"]["metrics_path"] == "/internal/metrics"


def test_grafana_lets_anonymous_visitors_view_only() -> None:
    env = grafana_environment("pw")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "pw"
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == GRAFANA_DASHBOARD_FILE


def test_component_wires_prometheus_into_grafana_on_the_network() -> None:
    registered = run_components(
        lambda: [
            Monitoring(
                "mon",
                MonitoringArgs(
                    job_name="elixir-app",
                    app_addresses=pulumi.Output.from_input(["mon-app:4000"]),
                    network_name="mon-net",
                    metrics_path="/internal/metrics",
                    prometheus_port=9191,
                    grafana_port=3300,
                    bind_address="127.0.0.1",
                    grafana_admin_password=pulumi.Output.secret("s3cret-admin"),
                ),
            ).grafana_url
        ]
    )
    component = registered.one("elixir-devops:local:Monitoring")
    containers = {
        c.inputs["name"]: c for c in registered.of_type("docker:index/container:Container")
    }
    prometheus, grafana = containers["mon-prometheus"], containers["mon-grafana"]
    for container in (prometheus, grafana):
        assert container.parent == component.urn
        assert [n["name"] for n in container.inputs["networksAdvanced"]] == ["mon-net"]
        assert container.inputs["restart"] == "unless-stopped"
    assert prometheus.inputs["ports"] == [{"internal": 9090, "external": 9191, "ip": "127.0.0.1"}]
    assert grafana.inputs["ports"] == [{"internal": 3000, "external": 3300, "ip": "127.0.0.1"}]
    datasources = yaml.safe_load(
        upload(grafana, "/etc/grafana/provisioning/datasources/prometheus.yaml")
    )
    assert datasources["datasources"][0]["url"] == "http://mon-prometheus:9090"
    scrape = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    (app_job,) = [j for j in scrape["scrape_configs"] if j["job_name"] == "elixir-app"]
    assert app_job["metrics_path"] == "/internal/metrics"
    assert env_map(grafana)["GF_SECURITY_ADMIN_PASSWORD"] == "s3cret-admin"
    assert not registered.of_type("random:index/randomPassword:RandomPassword")
    volume = registered.one("docker:index/volume:Volume")
    assert prometheus.inputs["volumes"] == [
        {"volumeName": volume.outputs["name"], "containerPath": "/prometheus"}
    ]
