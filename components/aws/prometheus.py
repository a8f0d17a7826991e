"""ManagedPrometheus (aws): an Amazon Managed Service for Prometheus workspace fed by a sidecar.

Creates: the AMP workspace; optionally an Amazon Managed Grafana workspace (IAM Identity Center
sign-in) with its own role that may only query this workspace. Provides, for ContainerService's
hooks, the AWS Distro for OpenTelemetry collector sidecar (non-essential: the app keeps serving
if the collector dies) and the one IAM statement the task role needs (``aps:RemoteWrite`` on
this workspace). The collector config comes from ``components.observability`` — the same scrape
job the local Prometheus uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alert_rules import rule_group_yaml
from components.alertmanager import amp_alertmanager_definition
from components.aws.iam import policy_document
from components.observability import ScrapeTarget, adot_collector_config, render_yaml
from components.urns import component_options

COLLECTOR_NAME = "aws-otel-collector"
COLLECTOR_CONFIG_ENV = "AOT_CONFIG_CONTENT"
SCRAPE_JOB = "elixir-app"
GRAFANA_PRINCIPAL = "grafana.amazonaws.com"
# What AWS's AmazonPrometheusQueryAccess grants, here on one workspace instead of "*".
QUERY_ACTIONS = ("aps:GetLabels", "aps:GetMetricMetadata", "aps:GetSeries", "aps:QueryMetrics")
DEFAULT_SCRAPE_TIMEOUT_SECONDS = 10


def remote_write_url(prometheus_endpoint: str) -> str:
    """AMP's remote-write URL from the workspace's ``prometheusEndpoint`` (ends with ``/``)."""
    if not prometheus_endpoint.startswith("https://"):
        raise ValueError(f"not an AMP workspace endpoint: {prometheus_endpoint!r}")
    return prometheus_endpoint.rstrip("/") + "/api/v1/remote_write"


def scrape_target(container_port: int, metrics_path: str, interval: int) -> ScrapeTarget:
    """The app, seen from a sidecar in the same task (awsvpc: one network namespace)."""
    return ScrapeTarget(
        job_name=SCRAPE_JOB,
        targets=(f"localhost:{container_port}",),
        metrics_path=metrics_path,
        scrape_interval_seconds=interval,
        scrape_timeout_seconds=min(DEFAULT_SCRAPE_TIMEOUT_SECONDS, interval),
    )


def collector_container(
    target: ScrapeTarget, *, image: str, remote_write_url: str, region: str
) -> dict[str, Any]:
    """The collector's container definition (``RegisterTaskDefinition`` shape).

    ContainerService adds the awslogs configuration (same log group, own stream prefix).
    """
    config = adot_collector_config(target, remote_write_url=remote_write_url, region=region)
    return {
        "name": COLLECTOR_NAME,
        "image": image,
        # Losing metrics must never take the app down with it.
        "essential": False,
        "environment": [{"name": COLLECTOR_CONFIG_ENV, "value": render_yaml(config)}],
        "healthCheck": {
            # ECS requires the CMD/CMD-SHELL form; the ADOT image ships /healthcheck.
            "command": ["CMD", "/healthcheck"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
    }


def remote_write_statement(workspace_arn: str) -> dict[str, Any]:
    """The task role's only Prometheus permission: write samples into this workspace."""
    return {
        "Sid": "RemoteWriteAppMetrics",
        "Effect": "Allow",
        "Action": "aps:RemoteWrite",
        "Resource": workspace_arn,
    }


def grafana_trust_policy(account_id: str) -> str:
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": GRAFANA_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]
    )


def grafana_query_policy(workspace_arn: str) -> str:
    return policy_document(
        [
            {
                "Sid": "QueryAppMetrics",
                "Effect": "Allow",
                "Action": list(QUERY_ACTIONS),
                "Resource": workspace_arn,
            }
        ]
    )


@dataclass(frozen=True)
class ManagedPrometheusArgs:
    container_port: int
    """The app's port, scraped on localhost by the sidecar."""
    metrics_path: str
    """Path the collector scrapes on that port."""
    scrape_interval_seconds: int
    """How often the collector scrapes the app."""
    collector_image: str
    """The ADOT collector's image, pinned (version tag or digest)."""
    grafana: bool = False
    """Add an Amazon Managed Grafana workspace that may query the Prometheus workspace."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """Load the app's alerting rules and send what fires to this SNS topic (None: no rules)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class ManagedPrometheus(pulumi.ComponentResource):
    workspace_id: pulumi.Output[str]
    workspace_arn: pulumi.Output[str]
    remote_write_url: pulumi.Output[str]
    """Where the collector writes (and what Grafana's data source queries, minus the path)."""
    prometheus_endpoint: pulumi.Output[str]
    """The workspace's Prometheus-compatible query endpoint."""
    sidecar: pulumi.Output[dict[str, Any]]
    """The collector's container definition, for ContainerService's ``sidecars``."""
    task_role_statement: pulumi.Output[dict[str, Any]]
    """For ContainerService's ``task_role_statements``."""
    grafana_endpoint: pulumi.Output[str] | None
    """Managed Grafana's URL, when enabled."""

    def __init__(
        self, name: str, args: ManagedPrometheusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:ManagedPrometheus",
            name,
            None,
            component_options(opts, "elixir-devops:index:ManagedPrometheus"),
        )
        tags = dict(args.tags)
        region = aws.get_region_output()
        target = scrape_target(args.container_port, args.metrics_path, args.scrape_interval_seconds)

        workspace = aws.amp.Workspace(
            f"{name}-metrics",
            alias=name,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        url = workspace.prometheus_endpoint.apply(remote_write_url)
        self.workspace_id = workspace.id
        self.workspace_arn = workspace.arn
        self.prometheus_endpoint = workspace.prometheus_endpoint
        self.remote_write_url = url
        self.sidecar = pulumi.Output.all(url, region.region).apply(
            lambda v: collector_container(
                target, image=args.collector_image, remote_write_url=v[0], region=v[1]
            )
        )
        self.task_role_statement = workspace.arn.apply(remote_write_statement)
        if args.alert_topic_arn is not None:
            # The same rule file the local Prometheus loads; what fires goes to the stack's
            # topic (its policies admit aps.amazonaws.com of this account).
            aws.amp.RuleGroupNamespace(
                f"{name}-rules",
                name="elixir-app",
                workspace_id=workspace.id,
                data=rule_group_yaml(),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=workspace),
            )
            aws.amp.AlertManagerDefinition(
                f"{name}-alerts",
                workspace_id=workspace.id,
                definition=pulumi.Output.all(args.alert_topic_arn, region.region).apply(
                    lambda v: amp_alertmanager_definition(v[0], v[1])
                ),
                opts=pulumi.ResourceOptions(parent=workspace),
            )
        self.grafana_endpoint = (
            self._create_grafana(name, workspace, tags) if args.grafana else None
        )
        self.register_outputs(
            {
                "workspace_id": self.workspace_id,
                "workspace_arn": self.workspace_arn,
                "remote_write_url": self.remote_write_url,
                "prometheus_endpoint": self.prometheus_endpoint,
                "sidecar": self.sidecar,
                "task_role_statement": self.task_role_statement,
                "grafana_endpoint": self.grafana_endpoint,
            }
        )

    def _create_grafana(
        self, name: str, workspace: aws.amp.Workspace, tags: Mapping[str, str]
    ) -> pulumi.Output[str]:
        """Grafana with a customer-managed role that may only query this workspace.

        The Prometheus data source itself lives inside Grafana (docs/monitoring.md shows how to
        add it with SigV4); the workspace only grants Grafana the right to read.
        """
        caller = aws.get_caller_identity_output()
        role = aws.iam.Role(
            f"{name}-grafana",
            description="Managed Grafana: query this stack's Prometheus workspace",
            assume_role_policy=caller.account_id.apply(grafana_trust_policy),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-grafana",
            role=role.id,
            policy=workspace.arn.apply(grafana_query_policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
        grafana = aws.grafana.Workspace(
            f"{name}-grafana",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=["AWS_SSO"],
            permission_type="CUSTOMER_MANAGED",
            role_arn=role.arn,
            data_sources=["PROMETHEUS"],
            description=f"Dashboards for {name}",
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return grafana.endpoint.apply(lambda host: f"https://{host}")
