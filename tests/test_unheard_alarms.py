"""No silent alarms: an `up` whose alarm topic has no subscriber says so, naming the settings.

The warning is read from what the program logs to the engine (``pulumi.log.warn``), captured by
the mocked run's engine logger, the way ``pulumi up`` prints it.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from program import unheard_alarms_warning
from settings import load
from tests.harness import PROJECT_DIR, Registered, run_stack

SETTINGS_NAMED = ("alarmEmails", "alarmWebhooks", "alarmSqsQueueArn", "chatWebhookUrl")


def unheard(run: Registered) -> list[str]:
    return [w for w in run.warnings if "No one is notified of this stack's alarms" in w]


def test_an_up_without_subscribers_warns_naming_the_settings_to_set() -> None:
    run = run_stack("dev")
    assert run.error is None, run.error
    (warning,) = unheard(run)
    for key in SETTINGS_NAMED:
        assert key in warning


def test_a_preview_does_not_warn() -> None:
    """Pull-request previews are not where the operator decides who is paged."""
    run = run_stack("dev", preview=True)
    assert run.error is None, run.error
    assert unheard(run) == []


@pytest.mark.parametrize(
    ("overrides", "secrets"),
    [
        ({"alarmEmails": ["ops@example.com"]}, {}),
        ({"alarmWebhooks": ["https://events.pagerduty.com/integration/abc123/enqueue"]}, {}),
        ({"alarmSqsQueueArn": "arn:aws:sqs:eu-west-1:123456789012:alarms"}, {}),
        ({}, {"chatWebhookUrl": "https://hooks.slack.com/services/T0/B0/XXXX"}),
    ],
    ids=SETTINGS_NAMED,
)
def test_any_subscriber_silences_the_warning(
    overrides: dict[str, Any], secrets: dict[str, Any]
) -> None:
    values = {"target": "aws", **overrides, **secrets}
    monitoring = load("test", values, secret_keys=list(secrets)).monitoring
    assert unheard_alarms_warning(monitoring) is None


def test_a_stack_with_a_subscriber_is_quiet_end_to_end() -> None:
    run = run_stack("dev", {"alarmEmails": ["ops@example.com"]})
    assert run.error is None, run.error
    assert unheard(run) == []


def test_the_committed_prod_stack_says_where_its_alarms_go() -> None:
    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    config = yaml.safe_load(text)["config"]
    subscribed = [k for k in SETTINGS_NAMED if f"elixir-devops:{k}" in config]
    if not subscribed:
        # Set per deployment (not committed): the file must say which settings and how.
        comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
        for key in ("alarmEmails", "chatWebhookUrl"):
            assert key in comments, key
        assert "alarmTopicArn" in comments
