"""The chat forwarder (forwarder/handler.py) run for real against a local webhook.

Each test starts an HTTP server on 127.0.0.1 standing in for the chat tool's incoming webhook and
feeds the handler SNS events whose messages follow AWS's documented formats: a CloudWatch alarm
notification, ECS "Deployment State Change" events, and AMP alert manager messages (the JSON of
AWS's `sns.default.message` template, and the default plain text). What a team relies on: the
message each chat tool receives, the timeout, and that a broken webhook is logged and counted, never
raised and never written out with its URL.
"""

from __future__ import annotations

import ast
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from forwarder import handler as fw

HANDLER_FILE = Path(fw.__file__)
FLAVOURS = ["slack", "teams", "discord", "googlechat"]
IMAGE = (
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp-prod"
    "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:myapp-prod-chat-AbCdEf"
SERVICE_ARN = "arn:aws:ecs:eu-west-1:123456789012:service/myapp-prod-cluster/myapp-prod-web"


# --- AWS-shaped payloads -------------------------------------------------------------------------


def sns_event(message: str, subject: str | None = None) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription (one record per invocation)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:myapp-prod-alarms:1a2b",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:myapp-prod-alarms",
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": "2024-05-02T10:15:31.123Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def alarm_message(state: str = "ALARM", description: str | None = None) -> str:
    """A CloudWatch alarm's SNS notification (a metric-math alarm, like the stack's target-5xx)."""
    return json.dumps(
        {
            "AlarmName": "myapp-prod-target-5xx",
            "AlarmDescription": description,
            "AWSAccountId": "123456789012",
            "AlarmConfigurationUpdatedTimestamp": "2024-05-01T09:00:00.000+0000",
            "NewStateValue": state,
            "NewStateReason": "Threshold Crossed: 3 out of the last 3 datapoints [12.5 (02/05/24 "
            "10:14:00)] was greater than the threshold (5.0) (minimum 3 datapoints for OK -> "
            "ALARM transition).",
            "StateChangeTime": "2024-05-02T10:15:31.089+0000",
            "Region": "EU (Ireland)",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:myapp-prod-target-5xx",
            "OldStateValue": "OK" if state == "ALARM" else "ALARM",
            "OKActions": [],
            "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:myapp-prod-alarms"],
            "InsufficientDataActions": [],
            "Trigger": {
                "Period": 60,
                "EvaluationPeriods": 3,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 5.0,
                "TreatMissingData": "notBreaching",
                "EvaluateLowSampleCountPercentile": "",
                "Metrics": [{"Id": "rate", "Expression": "100 * errors / requests"}],
            },
        }
    )


def deployment_message(event_name: str, reason: str, deployment: str = "ecs-svc/5847") -> str:
    """An ECS "Deployment State Change" EventBridge event, as the rule publishes it to SNS."""
    return json.dumps(
        {
            "version": "0",
            "id": "ddca6449-b258-46c0-8653-e0e3a6EXAMPLE",
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "account": "123456789012",
            "time": "2024-05-02T10:20:14Z",
            "region": "eu-west-1",
            "resources": [SERVICE_ARN],
            "detail": {
                "eventType": "ERROR" if event_name.endswith("FAILED") else "INFO",
                "eventName": event_name,
                "deploymentId": deployment,
                "updatedAt": "2024-05-02T10:20:11Z",
                "reason": reason,
            },
        }
    )


def completed(deployment: str = "ecs-svc/5847") -> str:
    return deployment_message(
        "SERVICE_DEPLOYMENT_COMPLETED", f"ECS deployment {deployment} completed.", deployment
    )


def alertmanager_message(alerts: list[dict[str, Any]], status: str = "firing") -> str:
    """What AMP's alert manager sends with AWS's documented JSON `sns.default.message` template."""
    return json.dumps(
        {
            "receiver": "chat",
            "status": status,
            "alerts": alerts,
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"], "job": "myapp"},
            "commonAnnotations": {},
            "externalURL": "",
        }
    )


def amp_alert(name: str = "PhoenixHighErrorRate", summary: str = "5xx above 5 %") -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "job": "myapp", "severity": "critical"},
        "annotations": {"summary": summary, "runbook_url": "https://runbooks.example/5xx"},
        "startsAt": "2024-05-02T10:12:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "1a2b3c4d5e6f7a8b",
    }


# Alertmanager's default `sns.default.message`/subject: what AMP sends without a custom template.
AMP_PLAIN_SUBJECT = "[FIRING:1] PhoenixHighErrorRate (myapp critical)"
AMP_PLAIN_TEXT = """5xx above 5 %
Alerts Firing:
Labels:
 - alertname = PhoenixHighErrorRate
 - job = myapp
 - severity = critical
Annotations:
 - summary = 5xx above 5 %
Source:
"""


# --- the local webhook ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Webhook:
    """An incoming webhook on loopback: records what it is sent, answers `status` after `delay`."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    state: list[Webhook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook = state[0]
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            hook.received.append(Received(self.path, dict(self.headers), json.loads(raw)))
            if hook.delay:
                hook.release.wait(hook.delay)  # bounded; set at teardown
            self.send_response(hook.status)
            for name, value in hook.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    # The path carries a token, as real webhook URLs do: it must never reach a log line.
    state.append(Webhook(url=f"http://{host}:{port}/services/T000/B000/s3cr3tT0ken"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    """Each test is a cold Lambda container: no cached URL, no remembered rollback."""
    fw._WEBHOOK_URLS.clear()
    fw._ROLLBACKS.clear()
    yield
    fw._WEBHOOK_URLS.clear()
    fw._ROLLBACKS.clear()


def settings(flavour: str = "slack", timeout: float = 5.0, image: str = IMAGE) -> fw.Settings:
    return fw.Settings(
        flavour=flavour, stack="prod", app="myapp", image=image, timeout_seconds=timeout
    )


def send(hook: Webhook, message: str, flavour: str = "slack", subject: str | None = None) -> Any:
    counts = fw.forward(sns_event(message, subject), settings(flavour), lambda: hook.url)
    assert counts == {"delivered": 1, "failed": 0}
    assert len(hook.received) == 1
    return hook.received[0].body


def visible_text(flavour: str, body: dict[str, Any]) -> str:
    """The text a person reads in the channel, per tool's body format."""
    if flavour == "teams":
        card = body["attachments"][0]["content"]
        return "\n".join(block["text"] for block in card["body"])
    return body["content"] if flavour == "discord" else body["text"]


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "forwarder"]


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


# --- message text per kind and per tool ----------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_alarm_notification_names_stack_state_alarm_and_reason(webhook: Webhook, flavour: str):
    text = visible_text(flavour, send(webhook, alarm_message(), flavour, 'ALARM: "x" in EU'))
    first_line = text.splitlines()[0]
    assert "[myapp] prod ALARM: myapp-prod-target-5xx" in first_line
    assert "was greater than the threshold (5.0)" in text
    assert "2024-05-02T10:15:31.089+0000 · EU (Ireland) (was OK)" in text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_alarm_back_to_ok_reads_ok(webhook: Webhook, flavour: str):
    text = visible_text(flavour, send(webhook, alarm_message("OK"), flavour))
    assert "[myapp] prod OK: myapp-prod-target-5xx" in text.splitlines()[0]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_completed_deployment_says_stack_deployed_digest(webhook: Webhook, flavour: str):
    text = visible_text(flavour, send(webhook, completed(), flavour))
    assert "[myapp] prod deployed sha256:0123456789ab" in text.splitlines()[0]
    assert f"image {IMAGE}" in text
    assert "service myapp-prod-web · ecs-svc/5847" in text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_amp_alert_group_lists_alerts_with_summary_and_runbook(webhook: Webhook, flavour: str):
    message = alertmanager_message([amp_alert(), amp_alert("PhoenixSlowRequests", "p99 > 1 s")])
    text = visible_text(flavour, send(webhook, message, flavour))
    assert "[myapp] prod FIRING: PhoenixHighErrorRate, PhoenixSlowRequests" in text.splitlines()[0]
    assert "PhoenixHighErrorRate [critical]: 5xx above 5 % (since 2024-05-02T10:12:00Z)" in text
    assert "runbook: https://runbooks.example/5xx" in text


def test_body_shapes_are_what_each_tool_accepts(webhook: Webhook):
    bodies = {}
    for flavour in FLAVOURS:
        bodies[flavour] = fw.render(fw.describe(alarm_message(), None, settings(flavour)), flavour)
    assert set(bodies["slack"]) == {"text"}
    assert bodies["slack"]["text"].startswith("\N{LARGE RED CIRCLE} *[myapp] prod ALARM:")
    assert set(bodies["googlechat"]) == {"text"}
    assert bodies["googlechat"]["text"].startswith("\N{LARGE RED CIRCLE} *[myapp] prod ALARM:")
    assert bodies["discord"]["content"].startswith("\N{LARGE RED CIRCLE} **[myapp] prod ALARM:")
    assert bodies["discord"]["allowed_mentions"] == {"parse": []}
    teams = bodies["teams"]
    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["color"] == "Attention"
    assert all(block["type"] == "TextBlock" and block["wrap"] for block in card["body"])


def test_webhook_receives_utf8_json_post(webhook: Webhook):
    send(webhook, alarm_message())
    request = webhook.received[0]
    assert request.path == "/services/T000/B000/s3cr3tT0ken"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"


def test_slack_text_escapes_its_markup_characters(webhook: Webhook):
    body = send(webhook, alarm_message(description="p99 > 500 ms & <@U123> paged"))
    assert "p99 &gt; 500 ms &amp; &lt;@U123&gt; paged" in body["text"]


# --- deployments ---------------------------------------------------------------------------------


def test_failed_deployment_says_failed_with_ecs_reason(webhook: Webhook):
    message = deployment_message(
        "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: task failed to start."
    )
    text = send(webhook, message)["text"]
    assert text.splitlines()[0] == "\N{LARGE RED CIRCLE} *[myapp] prod deployment failed*"
    assert "ECS deployment circuit breaker: task failed to start." in text


def test_rollback_reads_rolling_back_then_rolled_back_not_deployed(webhook: Webhook):
    rollback = deployment_message(
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/5846.",
        deployment="ecs-svc/5848",
    )
    rollbacks: set[str] = set()
    for message in (rollback, completed("ecs-svc/5848")):
        fw.forward(sns_event(message), settings(), lambda: webhook.url, rollbacks)
    first, second = (visible_text("slack", r.body) for r in webhook.received)
    assert "*[myapp] prod rolling back*" in first
    assert "rolling back to deploymentId ecs-svc/5846" in first
    assert "*[myapp] prod rolled back*" in second
    assert "deployed" not in second


def test_without_image_a_completed_deployment_names_the_deployment(webhook: Webhook):
    counts = fw.forward(sns_event(completed()), settings(image=""), lambda: webhook.url)
    assert counts["delivered"] == 1
    assert "*[myapp] prod deployed ecs-svc/5847*" in webhook.received[0].body["text"]


def test_other_ecs_events_are_forwarded_with_their_name(webhook: Webhook):
    message = json.dumps(
        {
            "version": "0",
            "detail-type": "ECS Service Action",
            "source": "aws.ecs",
            "time": "2024-05-02T10:20:14Z",
            "resources": [SERVICE_ARN],
            "detail": {"eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED"},
        }
    )
    text = send(webhook, message)["text"]
    assert "*[myapp] prod ECS Service Action: SERVICE_TASK_START_IMPAIRED*" in text


# --- other messages ------------------------------------------------------------------------------


def test_amp_plain_text_message_is_forwarded_under_its_subject(webhook: Webhook):
    text = send(webhook, AMP_PLAIN_TEXT, "googlechat", AMP_PLAIN_SUBJECT)["text"]
    assert text.startswith(f"\N{INFORMATION SOURCE}\ufe0f *[myapp] prod {AMP_PLAIN_SUBJECT}*")
    assert " - alertname = PhoenixHighErrorRate" in text


def test_unknown_json_is_forwarded_as_short_generic_text(webhook: Webhook):
    text = send(webhook, json.dumps({"hello": "x" * 2000}), "discord")["content"]
    assert text.startswith("\N{INFORMATION SOURCE}\ufe0f **[myapp] prod notification**")
    assert len(text) < 600


def test_invalid_json_is_logged_and_still_forwarded(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="forwarder")
    text = send(webhook, '{"AlarmName": "cut short')["text"]
    assert '{"AlarmName": "cut short' in text.replace("&quot;", '"')
    assert {"event": "invalid_json", "stack": "prod", "length": 24} in log_lines(caplog)


@pytest.mark.parametrize(
    ("flavour", "limit"), [("discord", 2000), ("slack", 4000), ("googlechat", 4096)]
)
def test_long_alert_groups_are_cut_to_the_tools_limit(webhook: Webhook, flavour: str, limit: int):
    alerts = [amp_alert(f"Alert{i}", "\N{GRINNING FACE} " + "s" * 400) for i in range(40)]
    text = visible_text(flavour, send(webhook, alertmanager_message(alerts), flavour))
    assert len(text.encode("utf-16-le")) // 2 <= limit
    assert text.endswith("…")
    assert "[myapp] prod FIRING: Alert0, Alert1, Alert2 (+37 more)" in text


def test_long_teams_card_stays_within_its_text_budget(webhook: Webhook):
    alerts = [amp_alert(f"Alert{i}", "s" * 900) for i in range(10)]
    text = visible_text("teams", send(webhook, alertmanager_message(alerts), "teams"))
    assert len(text) <= 4000 + 20  # the blocks' text plus the newlines joining them here
    assert text.endswith("…")


@pytest.mark.parametrize("event", [None, {}, {"Records": [None]}, {"Records": [{"Sns": {}}]}])
def test_malformed_events_never_raise(webhook: Webhook, event: Any):
    counts = fw.forward(event, settings(), lambda: webhook.url)
    assert counts["failed"] == 0


# --- failures: logged, counted, never raised, never the URL --------------------------------------


@pytest.mark.parametrize("status", [500, 404])
def test_error_answer_is_logged_with_status_and_counted(
    webhook: Webhook,
    status: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.INFO, logger="forwarder")
    webhook.status = status
    counts = fw.forward(sns_event(alarm_message()), settings("discord"), lambda: webhook.url)
    assert counts == {"delivered": 0, "failed": 1}
    [line] = log_lines(caplog)
    assert line["event"] == "delivery_failed"
    assert (line["status"], line["flavour"], line["error"]) == (status, "discord", "http_error")
    assert line["stack"] == "prod"
    assert line["kind"] == "alarm"
    [record] = [r for r in caplog.records if r.name == "forwarder"]
    assert record.levelno == logging.ERROR
    [metric] = emf_lines(capsys.readouterr().out)
    assert metric["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "ElixirDevops/Forwarder",
            "Dimensions": [["Stack"]],
            "Metrics": [{"Name": "DeliveryFailures", "Unit": "Count"}],
        }
    ]
    assert (metric["Stack"], metric["DeliveryFailures"]) == ("prod", 1)
    assert abs(metric["_aws"]["Timestamp"] / 1000 - time.time()) < 60


def test_redirect_is_a_failure_not_followed(webhook: Webhook, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="forwarder")
    webhook.status = 302
    webhook.headers = {"Location": webhook.url + "/elsewhere"}
    counts = fw.forward(sns_event(alarm_message()), settings(), lambda: webhook.url)
    assert counts == {"delivered": 0, "failed": 1}
    assert len(webhook.received) == 1
    assert log_lines(caplog)[0]["status"] == 302


def test_unreachable_webhook_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    caplog.set_level(logging.INFO, logger="forwarder")
    with socket.socket() as bound_not_listening:  # connections to it are refused
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        url = f"http://127.0.0.1:{port}/hooks/s3cr3tT0ken"
        counts = fw.forward(sns_event(alarm_message()), settings("teams"), lambda: url)
    assert counts == {"delivered": 0, "failed": 1}
    [line] = log_lines(caplog)
    assert (line["status"], line["flavour"], line["error"]) == (None, "teams", "unreachable")
    assert "ConnectionRefusedError" in line["detail"]
    assert len(emf_lines(capsys.readouterr().out)) == 1


def test_slow_webhook_is_abandoned_at_the_timeout(
    webhook: Webhook, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    caplog.set_level(logging.INFO, logger="forwarder")
    webhook.delay = 5.0
    started = time.monotonic()
    counts = fw.forward(
        sns_event(alarm_message()), settings("googlechat", timeout=1.0), lambda: webhook.url
    )
    waited = time.monotonic() - started
    assert counts == {"delivered": 0, "failed": 1}
    assert waited < 4.0, f"the 1 s timeout was not applied (waited {waited:.1f} s)"
    [line] = log_lines(caplog)
    assert (line["error"], line["status"], line["flavour"]) == ("timeout", None, "googlechat")
    assert len(emf_lines(capsys.readouterr().out)) == 1


@pytest.mark.parametrize("status", [200, 500])
def test_webhook_url_never_appears_in_logs_or_output(
    webhook: Webhook,
    status: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.DEBUG)
    webhook.status = status
    fw.forward(sns_event(alarm_message()), settings(), lambda: webhook.url)
    bad_url = webhook.url.replace("http://", "ftp://")
    fw.forward(sns_event(alarm_message()), settings(), lambda: bad_url)
    out = capsys.readouterr()
    assert len(log_lines(caplog)) == 2
    for text in (caplog.text, out.out, out.err):
        assert "s3cr3tT0ken" not in text


def test_unknown_flavour_is_a_counted_failure_not_a_crash(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="forwarder")
    counts = fw.forward(sns_event(alarm_message()), settings("mattermost"), lambda: webhook.url)
    assert counts == {"delivered": 0, "failed": 1}
    assert webhook.received == []
    assert log_lines(caplog)[0]["error"] == "unknown_flavour"


# --- the Lambda entry point and the secret -------------------------------------------------------


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A real Secrets Manager client whose answers are stubbed (botocore checks the requests).

    botocore's, as boto3.client builds it in Lambda: the same client class, without relying on
    boto3 being installed here.
    """
    client = botocore.session.get_session().create_client(
        "secretsmanager",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    monkeypatch.setattr(fw, "SECRETS_CLIENT_FACTORY", lambda: client)
    with stubber:
        yield stubber


def lambda_env(monkeypatch: pytest.MonkeyPatch, flavour: str = "slack") -> None:
    for name, value in {
        "CHAT_FLAVOUR": flavour,
        "WEBHOOK_SECRET_ARN": SECRET_ARN,
        "STACK": "prod",
        "APP": "myapp",
        "IMAGE": IMAGE,
        "TIMEOUT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)


def secret_answer(stubber: Stubber, secret_string: str) -> None:
    stubber.add_response(
        "get_secret_value",
        {"ARN": SECRET_ARN, "Name": "myapp-prod-chat", "SecretString": secret_string},
        {"SecretId": SECRET_ARN},
    )


def test_handler_reads_the_secret_once_per_container(
    webhook: Webhook, secrets: Stubber, monkeypatch: pytest.MonkeyPatch
):
    lambda_env(monkeypatch)
    secret_answer(secrets, webhook.url)
    for _ in range(2):
        assert fw.handler(sns_event(completed()), None) == {"delivered": 1, "failed": 0}
    secrets.assert_no_pending_responses()
    assert len(webhook.received) == 2
    assert "prod deployed sha256:0123456789ab" in webhook.received[0].body["text"]


def test_handler_reads_the_secret_again_after_a_failed_delivery(
    webhook: Webhook, secrets: Stubber, monkeypatch: pytest.MonkeyPatch
):
    lambda_env(monkeypatch, "teams")
    secret_answer(secrets, json.dumps({"url": webhook.url}))
    secret_answer(secrets, json.dumps({"url": webhook.url}))
    webhook.status = 410
    assert fw.handler(sns_event(alarm_message()), None) == {"delivered": 0, "failed": 1}
    webhook.status = 202  # what a Teams Workflows webhook answers
    assert fw.handler(sns_event(alarm_message()), None) == {"delivered": 1, "failed": 0}
    secrets.assert_no_pending_responses()


def test_unreadable_secret_is_logged_without_its_value(
    secrets: Stubber, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="forwarder")
    lambda_env(monkeypatch)
    secret_answer(secrets, "hooks.slack.com/services/T000/B000/n0tAUrl")
    secrets.add_client_error("get_secret_value", "AccessDeniedException", "not authorized")
    assert fw.handler(sns_event(alarm_message()), None) == {"delivered": 0, "failed": 1}
    assert fw.handler(sns_event(alarm_message()), None) == {"delivered": 0, "failed": 1}
    first, second = log_lines(caplog)
    assert first["error"] == second["error"] == "secret_unavailable"
    assert "no http(s) URL" in first["detail"]
    assert "AccessDeniedException" in second["detail"]
    assert "n0tAUrl" not in caplog.text


def test_timeout_defaults_to_five_seconds():
    assert fw.Settings.from_env({"CHAT_FLAVOUR": "Slack"}).timeout_seconds == 5.0
    assert fw.Settings.from_env({"TIMEOUT_SECONDS": "nonsense"}).timeout_seconds == 5.0
    assert fw.Settings.from_env({"TIMEOUT_SECONDS": "2.5"}).timeout_seconds == 2.5
    assert fw.Settings.from_env({"CHAT_FLAVOUR": " Slack "}).flavour == "slack"


def test_handler_file_deploys_alone_with_the_standard_library():
    """A single-file zip on the python3.12 runtime: no package of ours, no layer."""
    tree = ast.parse(HANDLER_FILE.read_text())
    top_level: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import breaks the single-file zip"
            top_level.add((node.module or "").split(".")[0])
    assert top_level - {"__future__"} <= set(sys.stdlib_module_names)
    nested = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import) and node not in tree.body
        for alias in node.names
    }
    assert nested == {"boto3"}  # only for Secrets Manager, from the Lambda runtime
    assert callable(fw.handler)
