"""Alarms, alerts and deployments in the team's chat (aws): the forwarder's wiring."""

from __future__ import annotations

import json

import pytest
from parliament import analyze_policy_string

from tests.harness import Registered, run_stack

WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/s3cr3tT0k3n"


@pytest.fixture(scope="module")
def chat() -> Registered:
    run = run_stack("prod", overrides={"chatFlavour": "teams"}, secrets={"chatWebhookUrl": WEBHOOK})
    assert run.error is None, run.error
    return run


def test_the_forwarder_listens_to_the_alarm_topic_and_only_sns_may_invoke_it(
    chat: Registered,
) -> None:
    function = chat.one("aws:lambda/function:Function")
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["handler"] == "handler.handler"
    topic = chat.outputs["alarmTopicArn"]
    (subscription,) = [
        s
        for s in chat.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["protocol"] == "lambda"
    ]
    assert subscription.inputs["topic"] == topic
    assert subscription.inputs["endpoint"] == function.outputs["arn"]
    permission = chat.one("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "sns.amazonaws.com"
    assert permission.inputs["sourceArn"] == topic
    env = function.inputs["environment"]["variables"]
    assert env["CHAT_FLAVOUR"] == "teams" and env["STACK"] == "prod"
    assert env["IMAGE"] == chat.outputs["image"]


def test_the_webhook_lives_only_in_secrets_manager(chat: Registered) -> None:
    (version,) = [
        v
        for v in chat.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if "chat-webhook" in v.name
    ]
    assert version.inputs["secretString"] == WEBHOOK
    assert "secretString" in version.secret_inputs
    function = chat.one("aws:lambda/function:Function")
    assert function.inputs["environment"]["variables"]["WEBHOOK_SECRET_ARN"].startswith(
        "arn:aws:secretsmanager:"
    )
    plain = json.dumps(chat.outputs) + json.dumps(
        [{k: v for k, v in r.inputs.items() if k not in r.secret_inputs} for r in chat.resources]
    )
    assert "s3cr3tT0k3n" not in plain


def test_the_forwarder_may_read_its_secret_and_write_its_logs_nothing_else(
    chat: Registered,
) -> None:
    function = chat.one("aws:lambda/function:Function")
    (policy,) = [
        p for p in chat.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-chat")
    ]
    document = json.loads(policy.inputs["policy"])
    resources = {s["Sid"]: s["Resource"] for s in document["Statement"]}
    (secret,) = [
        s for s in chat.of_type("aws:secretsmanager/secret:Secret") if "chat-webhook" in s.name
    ]
    log_group = function.inputs["loggingConfig"]["logGroup"]
    assert resources == {
        "ReadWebhook": secret.outputs["arn"],
        "WriteLogs": next(
            g.outputs["arn"]
            for g in chat.of_type("aws:cloudwatch/logGroup:LogGroup")
            if g.outputs["name"] == log_group
        )
        + ":*",
    }
    assert not analyze_policy_string(policy.inputs["policy"]).findings
    assert policy.urn in function.dependencies


def test_a_broken_chat_is_itself_alarmed(chat: Registered) -> None:
    alarms = {
        a.inputs["metricName"]: a
        for a in chat.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if "chat" in a.name
    }
    assert set(alarms) == {"DeliveryFailures", "Errors"}
    assert alarms["DeliveryFailures"].inputs["namespace"] == "ElixirDevops/Forwarder"
    assert alarms["DeliveryFailures"].inputs["dimensions"] == {"Stack": "prod"}


def test_no_webhook_no_forwarder() -> None:
    run = run_stack("dev")
    assert not run.of_type("aws:lambda/function:Function")


def test_the_webhook_must_be_a_secret_and_the_flavour_known() -> None:
    plain = run_stack("dev", overrides={"chatWebhookUrl": WEBHOOK})
    assert plain.error is not None and "--secret chatWebhookUrl" in plain.error
    assert WEBHOOK not in plain.error
    flavour = run_stack(
        "dev", overrides={"chatFlavour": "irc"}, secrets={"chatWebhookUrl": WEBHOOK}
    )
    assert flavour.error is not None and "elixir-devops:chatFlavour = 'irc'" in flavour.error
