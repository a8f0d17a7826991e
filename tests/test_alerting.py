"""The app's alerts reach people: the local Alertmanager, AMP's rules and alert manager.

Alertmanager configurations are checked with the real ``amtool check-config`` (Debian's
``prometheus-alertmanager``); it predates ``msteamsv2_configs`` (0.28), so the Teams route is
checked for its shape and the pinned container's version.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alert_rules import rule_group_yaml
from components.alertmanager import amp_alertmanager_definition, local_alertmanager_config, render
from components.local.monitoring import ALERTMANAGER_IMAGE, PROMETHEUS_RULES_FILE
from tests.app_release import require_tool
from tests.conftest import stack_run
from tests.harness import Registered, run_stack

WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/s3cr3tT0k3n"
CONTAINER = "docker:index/container:Container"


def amtool_check(config: str) -> str:
    amtool = require_tool("amtool", "apt-get install prometheus-alertmanager")
    with tempfile.TemporaryDirectory(prefix="amtool-") as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(config)
        result = subprocess.run(
            [amtool, "check-config", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("flavour", ["slack", "discord"])
def test_local_chat_routes_pass_amtool(flavour: str) -> None:
    config = local_alertmanager_config(flavour, WEBHOOK)
    output = amtool_check(render(config))
    assert "SUCCESS" in output
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"] == "chat"


def test_without_a_webhook_alerts_are_only_shown() -> None:
    config = local_alertmanager_config("slack", None)
    amtool_check(render(config))
    assert config["receivers"] == [{"name": "ui-only"}]


def test_teams_uses_the_workflows_receiver_of_the_pinned_alertmanager() -> None:
    config = local_alertmanager_config("teams", WEBHOOK)
    (receiver,) = config["receivers"]
    assert receiver["msteamsv2_configs"] == [{"webhook_url": WEBHOOK, "send_resolved": True}]
    # msteamsv2_configs arrived in Alertmanager 0.28.
    major, minor, _ = ALERTMANAGER_IMAGE.split(":v")[1].split(".")
    assert (int(major), int(minor)) >= (0, 28)
    with pytest.raises(ValueError, match="googlechat"):
        local_alertmanager_config("googlechat", WEBHOOK)


def test_pages_repeat_every_4_hours_tickets_daily() -> None:
    route = local_alertmanager_config("slack", WEBHOOK)["route"]
    assert route["group_by"] == ["alertname", "job"]
    assert route["repeat_interval"] == "4h"
    assert route["routes"] == [
        {"matchers": ['severity="ticket"'], "receiver": "chat", "repeat_interval": "24h"}
    ]


def test_amp_sends_every_alert_to_the_stacks_topic() -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:alarms"
    document = yaml.safe_load(amp_alertmanager_definition(topic, "eu-west-1"))
    inner = document["alertmanager_config"]
    amtool_check(inner)
    (receiver,) = yaml.safe_load(inner)["receivers"]
    (sns,) = receiver["sns_configs"]
    assert sns["topic_arn"] == topic and sns["sigv4"] == {"region": "eu-west-1"}


def _containers(run: Registered) -> dict[str, Any]:
    return {c.name.removeprefix("elixir-app-local-"): c for c in run.of_type(CONTAINER)}


def _upload(container: Any, path: str) -> str:
    return next(u["content"] for u in container.inputs["uploads"] if u["file"] == path)


def test_local_prometheus_loads_the_rules_and_alerts_the_stacks_alertmanager() -> None:
    run = stack_run("local")
    containers = _containers(run)
    prometheus = containers["prometheus"]
    assert _upload(prometheus, PROMETHEUS_RULES_FILE) == rule_group_yaml()
    config = yaml.safe_load(_upload(prometheus, "/etc/prometheus/prometheus.yml"))
    assert config["rule_files"] == [PROMETHEUS_RULES_FILE]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    alertmanager = containers["alertmanager"]
    (port,) = alertmanager.inputs["ports"]
    assert (port["ip"], port["external"]) == ("127.0.0.1", 9093)
    assert run.outputs["alertmanagerUrl"] == "http://localhost:9093"
    grafana = yaml.safe_load(
        _upload(containers["grafana"], "/etc/grafana/provisioning/datasources/prometheus.yaml")
    )
    assert {d["type"] for d in grafana["datasources"]} == {"prometheus", "alertmanager"}


def test_local_alerts_reach_the_chat_webhook_kept_secret() -> None:
    run = run_stack("local", secrets={"chatWebhookUrl": WEBHOOK})
    assert run.error is None, run.error
    alertmanager = _containers(run)["alertmanager"]
    config = yaml.safe_load(_upload(alertmanager, "/etc/alertmanager/alertmanager.yml"))
    assert config["receivers"][0]["slack_configs"][0]["api_url"] == WEBHOOK
    assert "uploads" in alertmanager.secret_inputs
    assert "s3cr3tT0k3n" not in str(run.outputs)


def test_amp_loads_the_same_rules_and_routes_to_the_topic() -> None:
    run = stack_run("prod")
    rules = run.one("aws:amp/ruleGroupNamespace:RuleGroupNamespace")
    assert rules.inputs["data"] == rule_group_yaml()
    definition = yaml.safe_load(
        run.one("aws:amp/alertManagerDefinition:AlertManagerDefinition").inputs["definition"]
    )
    (receiver,) = yaml.safe_load(definition["alertmanager_config"])["receivers"]
    assert receiver["sns_configs"][0]["topic_arn"] == run.outputs["alarmTopicArn"]
