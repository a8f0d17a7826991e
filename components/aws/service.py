"""Service (aws): a FargateTask kept running as an ECS service.

Creates the ECS service (circuit breaker with rollback, 100/200 % rolling deploys, optionally
gated by deployment alarms that roll a bad deploy back, waits for steady state), attached to a
load balancer's target group when given one (then with a health-check grace period), registered
in Cloud Map when given a registry, and target-tracking autoscaling on CPU (and on requests per
target behind a load balancer).

The web app is one such service; a worker without a load balancer is another, from the same
task unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.cluster import capacity_strategy
from components.aws.task import CONTAINER_NAME
from components.urns import LEGACY_SERVICE_TYPE, former_parent

SCALE_IN_COOLDOWN_SECONDS = 120
SCALE_OUT_COOLDOWN_SECONDS = 60


def _target_tracking(
    metric: str, target: int, resource_label: pulumi.Input[str] | None = None
) -> aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs:
    return aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
        target_value=target,
        predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
            predefined_metric_type=metric, resource_label=resource_label
        ),
        scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
        scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
    )


@dataclass(frozen=True)
class LoadBalancerAttachment:
    """Where the service's tasks register to take traffic."""

    target_group_arn: pulumi.Input[str]
    """Target group (must already have a listener)."""
    container_port: int
    """The app container's port the target group forwards to."""
    health_check_grace_period_seconds: int
    """Seconds ECS ignores failing load-balancer health checks after a task starts."""
    requests_per_target: int | None = None
    """Scale on requests per target per minute (with ``request_count_label``)."""
    request_count_label: pulumi.Input[str] | None = None
    """``<load balancer ARN suffix>/<target group ARN suffix>``."""


@dataclass(frozen=True)
class ServiceArgs:
    cluster_arn: pulumi.Input[str]
    """Cluster the service runs in."""
    cluster_name: pulumi.Input[str]
    """Its name (the autoscaling resource id names it)."""
    task_definition_arn: pulumi.Input[str]
    """The task to keep running."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Subnets of the tasks (private unless the network has no NAT)."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Groups of the tasks."""
    assign_public_ip: bool
    """True only when tasks run in public subnets."""
    desired_count: int
    """Tasks at creation; autoscaling owns the count afterwards."""
    min_count: int
    """Autoscaling lower bound."""
    max_count: int
    """Autoscaling upper bound."""
    cpu_target_percent: int
    """Autoscaling keeps average CPU near this."""
    fargate_spot: bool = False
    """Run tasks beyond the first on Fargate Spot."""
    on_demand_base: int = 1
    """With Spot: tasks that always run on on-demand Fargate (0: every task on Spot)."""
    load_balancer: LoadBalancerAttachment | None = None
    """None - a service nothing routes to (e.g. a worker)."""
    registry_arn: pulumi.Input[str] | None = None
    """Cloud Map service the tasks register their addresses in (None - no registration)."""
    deployment_alarm_names: pulumi.Input[Sequence[str]] | None = None
    """Alarms that gate deployments: a deployment during which one fires is rolled back."""
    enable_execute_command: bool = False
    """Allow ``aws ecs execute-command`` into the tasks."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class Service(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:Service", name, None, opts)
        self._name = name
        self._tags = dict(args.tags)
        attachment = args.load_balancer
        service = aws.ecs.Service(
            f"{name}-service",
            cluster=args.cluster_arn,
            task_definition=args.task_definition_arn,
            desired_count=args.desired_count,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(
                    capacity_provider=provider, base=base, weight=weight
                )
                for provider, base, weight in capacity_strategy(
                    args.fargate_spot, args.on_demand_base
                )
            ],
            # Without it the provider replaces the service when the capacity strategy changes
            # (fargateSpot on/off): a second service on the same target group, alarms and
            # scaling recreated. With it, the change is an in-place new deployment.
            force_new_deployment=True,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            alarms=None
            if args.deployment_alarm_names is None
            else aws.ecs.ServiceAlarmsArgs(
                alarm_names=args.deployment_alarm_names, enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=attachment.health_check_grace_period_seconds
            if attachment
            else None,
            enable_execute_command=args.enable_execute_command,
            network_configuration={
                "subnets": args.subnet_ids,
                "security_groups": list(args.security_group_ids),
                "assign_public_ip": args.assign_public_ip,
            },
            load_balancers=[
                {
                    "target_group_arn": attachment.target_group_arn,
                    "container_name": CONTAINER_NAME,
                    "container_port": attachment.container_port,
                }
            ]
            if attachment
            else None,
            service_registries={"registry_arn": args.registry_arn}
            if args.registry_arn is not None
            else None,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=True,
            tags=self._tags,
            # Autoscaling owns the running count once the service exists.
            opts=pulumi.ResourceOptions(
                parent=self,
                aliases=[former_parent(LEGACY_SERVICE_TYPE, name)],
                ignore_changes=["desiredCount"],
            ),
        )
        self._create_autoscaling(args, service)
        self.service_name = service.name
        self.service_arn = service.id
        self.register_outputs({"service_name": self.service_name, "service_arn": self.service_arn})

    def _create_autoscaling(self, args: ServiceArgs, service: aws.ecs.Service) -> None:
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", service.name),
            min_capacity=args.min_count,
            max_capacity=args.max_count,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=service),
        )
        common: dict[str, Any] = {
            "service_namespace": target.service_namespace,
            "scalable_dimension": target.scalable_dimension,
            "resource_id": target.resource_id,
            "policy_type": "TargetTrackingScaling",
            "opts": pulumi.ResourceOptions(parent=target),
        }
        aws.appautoscaling.Policy(
            f"{self._name}-scale-cpu",
            target_tracking_scaling_policy_configuration=_target_tracking(
                "ECSServiceAverageCPUUtilization", args.cpu_target_percent
            ),
            **common,
        )
        attachment = args.load_balancer
        if attachment and attachment.requests_per_target and attachment.request_count_label:
            aws.appautoscaling.Policy(
                f"{self._name}-scale-requests",
                target_tracking_scaling_policy_configuration=_target_tracking(
                    "ALBRequestCountPerTarget",
                    attachment.requests_per_target,
                    attachment.request_count_label,
                ),
                **common,
            )
