"""Alertmanager configuration for both targets (pure functions, no resources).

- local: :func:`local_alertmanager_config` routes the Prometheus alerts to the team's chat with
  Alertmanager's own receivers (Slack, Microsoft Teams, Discord); without a webhook they stay
  visible in the Alertmanager UI (and Grafana) and go nowhere.
- aws: :func:`amp_alertmanager_definition` is the alert manager definition of an Amazon Managed
  Service for Prometheus workspace: every alert to the stack's SNS topic (where e-mail, pagers
  and the chat forwarder listen).

Both group by alert and job, wait 30 s for an alert group to fill, repeat a still-firing page
every 4 h (a ticket every 24 h), and tell when it resolves.
"""

from __future__ import annotations

from typing import Any

import yaml

# Receivers Alertmanager itself has for each chat flavour the settings offer (discord_configs since
# 0.25; msteamsv2_configs, for Teams Workflows webhooks, since 0.28). Google Chat has none.
CHAT_RECEIVERS = {
    "slack": "slack_configs",
    "teams": "msteamsv2_configs",
    "discord": "discord_configs",
}
URL_FIELD = {
    "slack_configs": "api_url",
    "msteamsv2_configs": "webhook_url",
    "discord_configs": "webhook_url",
}


def _route(receiver: str) -> dict[str, Any]:
    return {
        "receiver": receiver,
        "group_by": ["alertname", "job"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [
            {"matchers": ['severity="ticket"'], "receiver": receiver, "repeat_interval": "24h"}
        ],
    }


def local_alertmanager_config(flavour: str, webhook_url: str | None) -> dict[str, Any]:
    """``alertmanager.yml`` for the local target."""
    if webhook_url is None:
        return {"route": _route("ui-only"), "receivers": [{"name": "ui-only"}]}
    configs = CHAT_RECEIVERS.get(flavour)
    if configs is None:
        raise ValueError(
            f"Alertmanager has no {flavour} receiver; use slack, teams or discord locally"
        )
    receiver: dict[str, Any] = {"name": "chat", configs: [{URL_FIELD[configs]: webhook_url}]}
    receiver[configs][0]["send_resolved"] = True
    return {"route": _route("chat"), "receivers": [receiver]}


def amp_alertmanager_definition(topic_arn: str, region: str) -> str:
    """An AMP alert manager definition: every alert to the topic, signed with SigV4."""
    config = {
        "route": _route("sns"),
        "receivers": [
            {
                "name": "sns",
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "send_resolved": True,
                        "attributes": {"severity": "{{ .CommonLabels.severity }}"},
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump({"alertmanager_config": yaml.safe_dump(config, sort_keys=False)})


def render(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)
