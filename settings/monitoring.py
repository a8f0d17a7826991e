"""Monitoring settings: alarms and where they go, log encryption, managed Prometheus."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pulumi

from config_reader import ConfigReader
from settings.common import (
    ALARM_PERIODS,
    CHAT_WEBHOOK,
    EMAIL_PATTERN,
    HTTP_PATH_PATTERN,
    HTTPS_URL_PATTERN,
    KMS_KEY_ARN,
    LATENCY_STATISTICS,
    PINNED_IMAGE,
    SQS_QUEUE_ARN,
    LatencyStatistic,
)


@dataclass(frozen=True)
class MonitoringSettings:
    """Alarms and where they go, log encryption, and the optional managed Prometheus/Grafana."""

    log_kms_key_arn: str | None
    """Customer-managed KMS key for the service's log group (None: CloudWatch's own keys)."""
    alarm_emails: tuple[str, ...]
    """E-mail addresses subscribed to the alarm topic (each must confirm)."""
    alarm_webhooks: tuple[str, ...]
    """https endpoints that confirm SNS subscriptions (PagerDuty, Opsgenie), on the topic."""
    alarm_sqs_queue_arn: str | None
    """A standard SQS queue subscribed to the alarm topic (its policy must admit the topic)."""
    cpu_high_percent: int
    """Average service CPU (% of the task's reservation) that raises an alarm."""
    memory_high_percent: int
    """Average service memory (% of the task's reservation) that raises an alarm."""
    target_5xx_percent: int
    """Share of requests answered 5XX by the tasks that raises an alarm (and rolls back)."""
    unhealthy_hosts: int
    """Alarm (and roll back) when more targets than this are unhealthy."""
    latency_statistic: LatencyStatistic
    """Percentile of the target response time that is watched."""
    latency_threshold_ms: int
    """Target response time (ms) at that percentile that raises an alarm."""
    period_seconds: int
    """Length of one evaluated period."""
    evaluation_periods: int
    """Consecutive breaching periods before an alarm fires."""
    managed_prometheus: bool
    """An Amazon Managed Service for Prometheus workspace fed by a collector sidecar."""
    managed_grafana: bool
    """An Amazon Managed Grafana workspace reading that Prometheus workspace."""
    metrics_path: str
    """Path the collector scrapes on the app's port."""
    metrics_scrape_interval_seconds: int
    """How often the collector scrapes the app."""
    collector_image: str
    """The ADOT collector sidecar's image: a version tag or a digest, never a moving tag."""
    chat_webhook_url: pulumi.Output[str] | None
    """A chat tool's incoming webhook (secret) that alarms, alerts and deployments go to."""
    chat_flavour: ChatFlavour
    """Which chat tool the webhook belongs to (the message format)."""


def _email_problem(value: str) -> str | None:
    return None if re.fullmatch(EMAIL_PATTERN, value) else "must be an e-mail address"


def _webhook_problem(value: str) -> str | None:
    if not re.fullmatch(HTTPS_URL_PATTERN, value):
        return "must be an https:// URL (SNS delivers to webhooks over https only here)"
    if re.match(CHAT_WEBHOOK, value):
        return (
            "a chat incoming webhook never confirms an SNS subscription, so `up` would fail: "
            "use an endpoint that confirms (PagerDuty, Opsgenie) or AWS Chatbot "
            "(docs/monitoring.md)"
        )
    return None


ChatFlavour = Literal["slack", "teams", "discord", "googlechat"]
CHAT_FLAVOURS: tuple[ChatFlavour, ...] = ("slack", "teams", "discord", "googlechat")


def read_monitoring(reader: ConfigReader) -> MonitoringSettings:
    sqs = reader.optional_string(
        "alarmSqsQueueArn",
        pattern=SQS_QUEUE_ARN,
        allowed="an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)",
    )
    if sqs is not None and sqs.endswith(".fifo"):
        # A standard SNS topic cannot deliver to a FIFO queue.
        reader.problem("alarmSqsQueueArn", sqs, "must be a standard (not .fifo) SQS queue ARN")
    statistic = reader.string("alarmLatencyStatistic", choices=LATENCY_STATISTICS)
    interval = reader.integer("metricsScrapeIntervalSeconds", minimum=5, maximum=3600)
    managed_prometheus = reader.boolean("managedPrometheus")
    managed_grafana = reader.boolean("managedGrafana")
    reader.require(
        managed_prometheus or not managed_grafana,
        "managedGrafana",
        managed_grafana,
        "needs managedPrometheus: true (Grafana reads the Prometheus workspace)",
    )
    return MonitoringSettings(
        log_kms_key_arn=reader.optional_string(
            "logKmsKeyArn",
            pattern=KMS_KEY_ARN,
            allowed="a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias",
        ),
        alarm_emails=reader.string_list("alarmEmails", item=_email_problem),
        alarm_webhooks=reader.string_list("alarmWebhooks", item=_webhook_problem),
        alarm_sqs_queue_arn=sqs,
        cpu_high_percent=reader.integer("alarmCpuPercent", minimum=1, maximum=100),
        memory_high_percent=reader.integer("alarmMemoryPercent", minimum=1, maximum=100),
        target_5xx_percent=reader.integer("alarmTarget5xxPercent", minimum=1, maximum=100),
        unhealthy_hosts=reader.integer("alarmUnhealthyHosts", minimum=0, maximum=1000),
        latency_statistic="p95" if statistic == "p95" else "p99",
        latency_threshold_ms=reader.integer("alarmLatencyMs", minimum=1, maximum=600_000),
        period_seconds=reader.integer("alarmPeriodSeconds", choices=ALARM_PERIODS),
        evaluation_periods=reader.integer("alarmEvaluationPeriods", minimum=1, maximum=100),
        managed_prometheus=managed_prometheus,
        managed_grafana=managed_grafana,
        metrics_path=reader.string(
            "metricsPath",
            pattern=HTTP_PATH_PATTERN,
            allowed="an HTTP path starting with '/', e.g. /metrics",
        ),
        metrics_scrape_interval_seconds=interval,
        collector_image=reader.string(
            "collectorImage",
            pattern=PINNED_IMAGE,
            allowed="an image pinned to a version tag (repo:v1.2.3) or a digest (repo@sha256:...)",
        ),
        chat_webhook_url=reader.secret_string(
            "chatWebhookUrl",
            pattern=HTTPS_URL_PATTERN,
            allowed="the chat tool's incoming webhook, an https:// URL",
        ),
        chat_flavour=_flavour(reader.string("chatFlavour", choices=CHAT_FLAVOURS)),
    )


def _flavour(value: str) -> ChatFlavour:
    return value if value in CHAT_FLAVOURS else "slack"  # type: ignore[return-value]
