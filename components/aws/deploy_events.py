"""DeployEvents (aws): the service's deployments, told on the alarm topic.

Creates an EventBridge rule matching ECS "Deployment State Change" events of this stack's
service — in progress (a rollback starts as one, which is how the forwarder tells one), completed,
failed (a circuit-breaker or alarm rollback is a failed deployment) — and
a target publishing them to the stack's alarm topic, so whatever listens there (e-mail, the
chat forwarder, a pager) hears "deployed" and "rolled back", not only the ECS console.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

DEPLOYMENT_EVENTS = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)


def event_pattern(service_arn: str) -> str:
    """Deployment outcomes of exactly this service (its ARN is the event's resource)."""
    return json.dumps(
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Deployment State Change"],
            "resources": [service_arn],
            "detail": {"eventName": list(DEPLOYMENT_EVENTS)},
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class DeployEventsArgs:
    service_arn: pulumi.Input[str]
    """The ECS service whose deployments are told."""
    topic_arn: pulumi.Input[str]
    """The stack's alarm topic (its policy must let EventBridge rules publish)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the rule."""


class DeployEvents(pulumi.ComponentResource):
    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeployEventsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:DeployEvents", name, None, opts)
        rule = aws.cloudwatch.EventRule(
            f"{name}-deployments",
            description="Deployments of the app service: started, completed, failed, rolled back",
            event_pattern=pulumi.Output.from_input(args.service_arn).apply(event_pattern),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-deployments",
            rule=rule.name,
            arn=args.topic_arn,
            opts=pulumi.ResourceOptions(parent=rule),
        )
        self.rule_arn = rule.arn
        self.register_outputs({"rule_arn": self.rule_arn})
