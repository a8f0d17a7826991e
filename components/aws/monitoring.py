"""Monitoring (aws): CloudWatch alarms on the service and its load balancer, and a dashboard.

Two components, because the ECS service needs some alarms to exist and others need the service:

- :class:`DeploymentAlarms` — alarms on load balancer metrics only (target 5XX rate, unhealthy
  targets), built right after the LoadBalancer component and before the ContainerService, whose
  ECS service names them, so a deployment during which one fires is rolled back.
- :class:`Monitoring` — built after the service: CPU, memory, p95/p99 latency and running-task
  alarms, and a CloudWatch dashboard of this stack's load balancer, target group and service.

Every alarm sends its ALARM and OK transitions to the stack's alarm topic. Alarm definitions
and the dashboard body are plain functions of names and thresholds (tested without mocks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.urns import component_options

ALB_NAMESPACE = "AWS/ApplicationELB"
ECS_NAMESPACE = "AWS/ECS"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"

# A dimension value: a plain string in unit tests, a resource's Output in the program.
Dim = pulumi.Input[str]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
LatencyStatistic = Literal["p95", "p99"]


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm, independent of Pulumi (``role`` names the resource)."""

    role: str
    description: str
    comparison: str
    threshold: float
    treat_missing_data: TreatMissingData
    period_seconds: int
    """Length of one evaluated period (of the metric, or of each query's metrics)."""
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statistic: str | None = None
    extended_statistic: str | None = None
    metric_queries: Sequence[Mapping[str, Any]] = ()
    evaluate_low_sample_count_percentiles: str | None = None


def target_5xx_rate_alarm(
    percent: int, period_seconds: int, load_balancer: Dim, target_group: Dim
) -> AlarmSpec:
    """5XX answers of the tasks as a share of requests: a rate, so traffic volume does not
    move the threshold. Minutes without 5XX have no datapoint (FILL 0); minutes without
    requests have no rate, which is not an error (notBreaching)."""
    dimensions = {"LoadBalancer": load_balancer, "TargetGroup": target_group}

    def metric(query_id: str, name: str) -> dict[str, Any]:
        return {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": ALB_NAMESPACE,
                "metric_name": name,
                "dimensions": dimensions,
                "period": period_seconds,
                "stat": "Sum",
            },
        }

    return AlarmSpec(
        role="target-5xx",
        description=(
            f"More than {percent}% of requests answered 5XX by the app "
            "(rolls back a deployment in progress)"
        ),
        comparison="GreaterThanThreshold",
        threshold=percent,
        treat_missing_data="notBreaching",
        period_seconds=period_seconds,
        metric_queries=(
            metric("errors", "HTTPCode_Target_5XX_Count"),
            metric("requests", "RequestCount"),
            {
                "id": "rate",
                "expression": "100 * FILL(errors, 0) / requests",
                "label": "Target 5XX rate (%)",
                "return_data": True,
            },
        ),
    )


def unhealthy_hosts_alarm(
    hosts: int, period_seconds: int, load_balancer: Dim, target_group: Dim
) -> AlarmSpec:
    """The ALB publishes this every minute while the target group is attached; a gap means no
    targets registered at all, which the running-task alarm reports (notBreaching here)."""
    return AlarmSpec(
        role="unhealthy-hosts",
        description=(
            f"More than {hosts} target(s) failing the health check "
            "(rolls back a deployment in progress)"
        ),
        comparison="GreaterThanThreshold",
        threshold=hosts,
        treat_missing_data="notBreaching",
        period_seconds=period_seconds,
        namespace=ALB_NAMESPACE,
        metric_name="UnHealthyHostCount",
        dimensions={"LoadBalancer": load_balancer, "TargetGroup": target_group},
        statistic="Maximum",
    )


def latency_alarm(
    statistic: LatencyStatistic,
    threshold_ms: int,
    period_seconds: int,
    load_balancer: Dim,
    target_group: Dim,
) -> AlarmSpec:
    """No requests, no latency (notBreaching); percentiles of a handful of requests are noise,
    so low-sample periods are ignored rather than evaluated."""
    return AlarmSpec(
        role=f"latency-{statistic}",
        description=f"Target response time {statistic} above {threshold_ms} ms",
        comparison="GreaterThanThreshold",
        threshold=threshold_ms / 1000,  # the metric is in seconds
        treat_missing_data="notBreaching",
        period_seconds=period_seconds,
        namespace=ALB_NAMESPACE,
        metric_name="TargetResponseTime",
        dimensions={"LoadBalancer": load_balancer, "TargetGroup": target_group},
        extended_statistic=statistic,
        evaluate_low_sample_count_percentiles="ignore",
    )


def service_alarms(
    *,
    cpu_percent: int,
    memory_percent: int,
    period_seconds: int,
    cluster: Dim,
    service: Dim,
    min_count: int,
) -> list[AlarmSpec]:
    """CPU and memory of the service, and fewer running tasks than autoscaling's floor."""
    dimensions = {"ClusterName": cluster, "ServiceName": service}
    specs = [
        AlarmSpec(
            role=f"{resource}-high",
            description=f"Average service {resource} above {percent}% of the reservation",
            comparison="GreaterThanThreshold",
            threshold=percent,
            # No tasks, no utilisation: the running-task alarm covers that case.
            treat_missing_data="notBreaching",
            period_seconds=period_seconds,
            namespace=ECS_NAMESPACE,
            metric_name=metric,
            dimensions=dimensions,
            statistic="Average",
        )
        for resource, metric, percent in (
            ("cpu", "CPUUtilization", cpu_percent),
            ("memory", "MemoryUtilization", memory_percent),
        )
    ]
    if min_count > 0:
        specs.append(
            AlarmSpec(
                role="running-tasks-low",
                description=f"Fewer than {min_count} task(s) running (autoscaling's minimum)",
                comparison="LessThanThreshold",
                threshold=min_count,
                # Container Insights reports every minute while tasks run; silence means
                # none are (or the service is gone), which is exactly what this alarm is for.
                treat_missing_data="breaching",
                period_seconds=period_seconds,
                namespace=INSIGHTS_NAMESPACE,
                metric_name="RunningTaskCount",
                dimensions=dimensions,
                statistic="Minimum",
            )
        )
    return specs


def dashboard_body(
    *,
    region: str,
    load_balancer: str,
    target_group: str,
    cluster: str,
    service: str,
    alarm_arns: Sequence[str] = (),
) -> str:
    """The CloudWatch dashboard (``PutDashboard`` body JSON) of this stack's service."""
    alb = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    ecs = {"ClusterName": cluster, "ServiceName": service}

    def line(namespace: str, metric: str, dims: Mapping[str, str], **options: Any) -> list[Any]:
        flat = [part for pair in dims.items() for part in pair]
        return [namespace, metric, *flat, options]

    def widget(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stacked": False,
                "period": 60,
                "metrics": metrics,
            },
        }

    widgets = [
        widget(
            "Requests and target 5XX",
            [
                line(ALB_NAMESPACE, "RequestCount", alb, stat="Sum", label="Requests"),
                line(ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", alb, stat="Sum", label="5XX"),
            ],
            0,
            0,
        ),
        widget(
            "Target response time (s)",
            [
                line(ALB_NAMESPACE, "TargetResponseTime", alb, stat="p95", label="p95"),
                line(ALB_NAMESPACE, "TargetResponseTime", alb, stat="p99", label="p99"),
            ],
            12,
            0,
        ),
        widget(
            "Targets",
            [
                line(ALB_NAMESPACE, "HealthyHostCount", alb, stat="Minimum", label="Healthy"),
                line(ALB_NAMESPACE, "UnHealthyHostCount", alb, stat="Maximum", label="Unhealthy"),
            ],
            0,
            6,
        ),
        widget(
            "Tasks",
            [
                line(INSIGHTS_NAMESPACE, "RunningTaskCount", ecs, stat="Minimum", label="Running"),
                line(INSIGHTS_NAMESPACE, "DesiredTaskCount", ecs, stat="Maximum", label="Desired"),
            ],
            12,
            6,
        ),
        widget(
            "CPU and memory (% of reservation)",
            [
                line(ECS_NAMESPACE, "CPUUtilization", ecs, stat="Average", label="CPU"),
                line(ECS_NAMESPACE, "MemoryUtilization", ecs, stat="Average", label="Memory"),
            ],
            0,
            12,
        ),
    ]
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 12,
                "y": 12,
                "width": 12,
                "height": 6,
                "properties": {"title": "Alarms", "alarms": sorted(alarm_arns)},
            }
        )
    return json.dumps({"widgets": widgets}, sort_keys=True)


def _create_alarm(
    name: str,
    spec: AlarmSpec,
    evaluation_periods: int,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    single_metric = not spec.metric_queries
    return aws.cloudwatch.MetricAlarm(
        f"{name}-{spec.role}",
        alarm_description=spec.description,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        treat_missing_data=spec.treat_missing_data,
        namespace=spec.namespace,
        metric_name=spec.metric_name,
        dimensions=dict(spec.dimensions) if single_metric else None,
        period=spec.period_seconds if single_metric else None,
        statistic=spec.statistic,
        extended_statistic=spec.extended_statistic,
        evaluate_low_sample_count_percentiles=spec.evaluate_low_sample_count_percentiles,
        metric_queries=[dict(query) for query in spec.metric_queries] or None,  # pyright: ignore[reportArgumentType]
        actions_enabled=True,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class DeploymentAlarmsArgs:
    target_5xx_percent: int
    """Share of requests answered 5XX by the tasks that raises the alarm (and rolls back)."""
    unhealthy_hosts: int
    """More targets failing the health check than this raise the alarm (and roll back)."""
    period_seconds: int
    """Length of one evaluated period."""
    evaluation_periods: int
    """Consecutive breaching periods before an alarm fires."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """CloudWatch dimension ``LoadBalancer`` of this stack's load balancer."""
    target_group_arn_suffix: pulumi.Input[str]
    """CloudWatch dimension ``TargetGroup`` of this stack's target group."""
    topic_arn: pulumi.Input[str]
    """Where ALARM and OK notifications go."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class DeploymentAlarms(pulumi.ComponentResource):
    target_5xx_alarm_name: pulumi.Output[str]
    unhealthy_hosts_alarm_name: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    """The alarms ECS watches during a deployment (rollback when one fires)."""
    alarm_arns: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: DeploymentAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:DeploymentAlarms",
            name,
            None,
            component_options(opts, "elixir-devops:index:DeploymentAlarms"),
        )
        lb = args.load_balancer_arn_suffix
        tg = args.target_group_arn_suffix
        alarms = [
            _create_alarm(name, spec, args.evaluation_periods, args.topic_arn, args.tags, self)
            for spec in (
                target_5xx_rate_alarm(args.target_5xx_percent, args.period_seconds, lb, tg),
                unhealthy_hosts_alarm(args.unhealthy_hosts, args.period_seconds, lb, tg),
            )
        ]
        self.target_5xx_alarm_name = alarms[0].name
        self.unhealthy_hosts_alarm_name = alarms[1].name
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in alarms))
        self.alarm_arns = pulumi.Output.all(*(alarm.arn for alarm in alarms))
        self.register_outputs(
            {
                "target_5xx_alarm_name": self.target_5xx_alarm_name,
                "unhealthy_hosts_alarm_name": self.unhealthy_hosts_alarm_name,
                "alarm_names": self.alarm_names,
                "alarm_arns": self.alarm_arns,
            }
        )


@dataclass(frozen=True)
class MonitoringArgs:
    cpu_high_percent: int
    """Average service CPU (% of the task's reservation) that raises an alarm."""
    memory_high_percent: int
    """Average service memory (% of the task's reservation) that raises an alarm."""
    latency_statistic: LatencyStatistic
    """Percentile of the target response time that is watched."""
    latency_threshold_ms: int
    """Target response time (ms) at that percentile that raises an alarm."""
    period_seconds: int
    """Length of one evaluated period."""
    evaluation_periods: int
    """Consecutive breaching periods before an alarm fires."""
    topic_arn: pulumi.Input[str]
    """Where ALARM and OK notifications go."""
    cluster_name: pulumi.Input[str]
    """CloudWatch dimension ``ClusterName`` of this stack's ECS cluster."""
    service_name: pulumi.Input[str]
    """CloudWatch dimension ``ServiceName`` of this stack's ECS service."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """CloudWatch dimension ``LoadBalancer`` of this stack's load balancer."""
    target_group_arn_suffix: pulumi.Input[str]
    """CloudWatch dimension ``TargetGroup`` of this stack's target group."""
    min_count: int
    """Autoscaling's floor: fewer running tasks raise an alarm (no alarm when 0)."""
    deployment_alarm_arns: pulumi.Input[Sequence[str]] = ()
    other_alarm_arns: pulumi.Input[Sequence[str]] = ()
    """Alarms of other units (the database's) shown on the dashboard too."""
    """Shown on the dashboard next to this component's own alarms."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class Monitoring(pulumi.ComponentResource):
    dashboard_name: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    """This component's alarms (the deployment alarms are DeploymentAlarms')."""

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:Monitoring",
            name,
            None,
            component_options(opts, "elixir-devops:index:Monitoring"),
        )
        specs = [
            latency_alarm(
                args.latency_statistic,
                args.latency_threshold_ms,
                args.period_seconds,
                args.load_balancer_arn_suffix,
                args.target_group_arn_suffix,
            ),
            *service_alarms(
                cpu_percent=args.cpu_high_percent,
                memory_percent=args.memory_high_percent,
                period_seconds=args.period_seconds,
                cluster=args.cluster_name,
                service=args.service_name,
                min_count=args.min_count,
            ),
        ]
        alarms = [
            _create_alarm(name, spec, args.evaluation_periods, args.topic_arn, args.tags, self)
            for spec in specs
        ]
        region = aws.get_region_output()
        body = pulumi.Output.all(
            region=region.region,
            load_balancer=args.load_balancer_arn_suffix,
            target_group=args.target_group_arn_suffix,
            cluster=args.cluster_name,
            service=args.service_name,
            own=pulumi.Output.all(*(alarm.arn for alarm in alarms)),
            deployment=args.deployment_alarm_arns,
            other=args.other_alarm_arns,
        ).apply(
            lambda v: dashboard_body(
                region=v["region"],
                load_balancer=v["load_balancer"],
                target_group=v["target_group"],
                cluster=v["cluster"],
                service=v["service"],
                alarm_arns=[*v["deployment"], *v["own"], *v["other"]],
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            # Dashboards have no name prefix; the stack prefix keeps it unique per account.
            dashboard_name=name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in alarms))
        self.register_outputs(
            {"dashboard_name": self.dashboard_name, "alarm_names": self.alarm_names}
        )
