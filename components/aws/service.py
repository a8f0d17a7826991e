"""ContainerService (aws): the app on ECS Fargate behind an Application Load Balancer.

Creates: the ECS cluster (Container Insights) and its capacity providers; the log group; the
app's runtime secrets in Secrets Manager; a least-privilege execution role and a separate task
role; the Fargate task definition (port 4000, awslogs, secrets by ARN, stopTimeout longer than
the load balancer's draining); the task security group (container port from the load
balancer's group only, and the matching egress rule on that group); the ECS service (circuit
breaker with rollback, 100/200 % rolling deploys, grace period, waits for steady state,
optionally gated by deployment alarms that roll a bad deploy back); target-tracking
autoscaling on CPU and on requests per target.

The load balancer is its own component (``components.aws.load_balancer``), built first: the
deployment alarms watch it, and the service must name those alarms when it is created.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import PULL_ACTIONS, policy_document
from components.runtime import runtime_environment
from settings import ServiceSettings

CONTAINER_NAME = "app"
ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)[@:]"
)
_SECRET_JSON_KEY = re.compile(r"^(arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:[^:]+)(:.*)?$")


def ecr_repository_arn(image_ref: str, partition: str = "aws") -> str | None:
    """The ECR repository ARN an image reference points into, or None for other registries."""
    match = _ECR_IMAGE.match(image_ref)
    if match is None:
        return None
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def secret_resource_arn(reference: str) -> str:
    """The ARN IAM grants on, for an ECS ``valueFrom`` (drops a ``:json-key:stage:version``)."""
    match = _SECRET_JSON_KEY.match(reference)
    return match.group(1) if match else reference


def container_definitions(
    *,
    settings: ServiceSettings,
    image: str,
    host: str,
    log_group: str,
    region: str,
    secrets: Mapping[str, str],
    sidecars: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The task's container definitions (``RegisterTaskDefinition`` shape, camelCase)."""
    app: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "portMappings": [
            {"containerPort": settings.container_port, "protocol": "tcp", "name": "http"}
        ],
        "environment": runtime_environment(settings, host),
        "secrets": [{"name": name, "valueFrom": arn} for name, arn in sorted(secrets.items())],
        "stopTimeout": settings.stop_timeout_seconds,
        "linuxParameters": {"initProcessEnabled": True},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER_NAME,
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }
    containers = [app]
    for sidecar in sidecars:
        if sidecar.get("essential", True) or sidecar.get("name") == CONTAINER_NAME:
            # ECS defaults "essential" to true: a crashing helper would stop the app's task.
            raise ValueError(
                f"sidecar {sidecar.get('name')!r} must set essential: false and not be named "
                f"{CONTAINER_NAME!r}"
            )
        definition = dict(sidecar)
        # Sidecar logs go to the app's log group under their own stream prefix.
        definition.setdefault(
            "logConfiguration",
            {
                **app["logConfiguration"],
                "options": {
                    **app["logConfiguration"]["options"],
                    "awslogs-stream-prefix": str(sidecar["name"]),
                },
            },
        )
        containers.append(definition)
    return containers


def assume_role_policy(account_id: str, partition: str, region: str) -> str:
    """Only ECS tasks of this account and region may assume the roles (confused deputy)."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": ECS_TASKS_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ecs:{region}:{account_id}:*"},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ]
    )


def execution_role_policy(
    *,
    repository_arn: str | None,
    log_group_arn: str,
    secret_arns: Sequence[str],
) -> str:
    """Exactly what starting the task needs: pull this image, write this log group, read these
    secrets. ``ecr:GetAuthorizationToken`` has no resource-level scoping in IAM."""
    statements: list[dict[str, Any]] = []
    if repository_arn is not None:
        statements += [
            {
                "Sid": "AuthenticateToEcr",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "PullAppImage",
                "Effect": "Allow",
                "Action": list(PULL_ACTIONS),
                "Resource": repository_arn,
            },
        ]
    statements.append(
        {
            "Sid": "WriteAppLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:log-stream:*",
        }
    )
    secret_resources = sorted({secret_resource_arn(arn) for arn in secret_arns})
    manager = [arn for arn in secret_resources if ":secretsmanager:" in arn]
    parameters = [arn for arn in secret_resources if ":ssm:" in arn]
    if manager:
        statements.append(
            {
                "Sid": "ReadAppSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": manager,
            }
        )
    if parameters:
        statements.append(
            {
                "Sid": "ReadAppParameters",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": parameters,
            }
        )
    return policy_document(statements)


EXECUTE_COMMAND_STATEMENT: Mapping[str, Any] = {
    "Sid": "EcsExecSession",
    "Effect": "Allow",
    "Action": [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ],
    # The session channels have no resource-level permissions in IAM.
    "Resource": "*",
}


def capacity_strategy(fargate_spot: bool) -> list[tuple[str, int, int]]:
    """(provider, base, weight): the first task always on on-demand Fargate; beyond it,
    3 of 4 on Spot when allowed."""
    if not fargate_spot:
        return [("FARGATE", 1, 1)]
    return [("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 3)]


@dataclass(frozen=True)
class ContainerServiceArgs:
    settings: ServiceSettings
    """Size, scaling, health check and runtime settings."""
    image_ref: pulumi.Input[str]
    """The image to run, pinned by digest."""
    vpc_id: pulumi.Input[str]
    """VPC of the tasks' security group."""
    task_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Subnets of the tasks (private unless the network has no NAT)."""
    assign_public_ip: bool
    """True only when tasks run in public subnets."""
    host: pulumi.Input[str]
    """Public host name of the app (PHX_HOST)."""
    load_balancer_security_group_id: pulumi.Input[str]
    """The only source the tasks admit their container port from."""
    target_group_arn: pulumi.Input[str]
    """Target group the tasks register in (must already have a listener)."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """CloudWatch dimension ``LoadBalancer`` of the load balancer in front of the tasks."""
    target_group_arn_suffix: pulumi.Input[str]
    """With ``load_balancer_arn_suffix``: scaling on requests per target."""
    secret_key_base: pulumi.Input[str]
    """Phoenix SECRET_KEY_BASE (secret), stored in Secrets Manager, never in plain env."""
    release_cookie: pulumi.Input[str]
    """Erlang distribution cookie (secret), stored like SECRET_KEY_BASE."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""
    retain_on_delete: bool = False
    """Keep (and protect) the log group when the stack is destroyed."""
    sidecars: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """Extra container definitions (e.g. the metrics collector); must be non-essential."""
    task_role_statements: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """IAM statements the app's own task role needs (e.g. remote-write to one workspace)."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """Customer-managed KMS key encrypting the log group (None: CloudWatch's own keys)."""
    deployment_alarm_names: pulumi.Input[Sequence[str]] | None = None
    """Alarms that gate deployments: a deployment during which one fires is rolled back."""


class ContainerService(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:ContainerService", name, None, opts)
        self._name = name
        self._args = args
        self._tags = dict(args.tags)
        settings = args.settings
        caller = aws.get_caller_identity_output()
        partition = aws.get_partition_output()
        region = aws.get_region_output()

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=self._tags,
            opts=self._child(),
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=provider, base=base, weight=weight
                )
                for provider, base, weight in capacity_strategy(settings.fargate_spot)
            ],
            opts=self._child(),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"/ecs/{name}-",
            retention_in_days=settings.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=self._tags,
            opts=self._child(retain_on_delete=args.retain_on_delete, protect=args.retain_on_delete),
        )
        app_secret = self._create_app_secret(args)
        secret_refs = {
            **settings.secret_arns,
            "SECRET_KEY_BASE": app_secret.arn.apply(lambda arn: f"{arn}:SECRET_KEY_BASE::"),
            "RELEASE_COOKIE": app_secret.arn.apply(lambda arn: f"{arn}:RELEASE_COOKIE::"),
        }
        task_sg = self._create_task_security_group(args)
        deployment_alarms = (
            None
            if args.deployment_alarm_names is None
            else aws.ecs.ServiceAlarmsArgs(
                alarm_names=args.deployment_alarm_names, enable=True, rollback=True
            )
        )
        execution_role, task_role = self._create_roles(
            args, caller, partition, region, log_group, secret_refs
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{name}",
            cpu=str(settings.cpu),
            memory=str(settings.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={
                "cpu_architecture": settings.cpu_architecture,
                "operating_system_family": "LINUX",
            },
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=pulumi.Output.all(
                image=args.image_ref,
                host=args.host,
                log_group=log_group.name,
                region=region.region,
                secrets=pulumi.Output.all(**secret_refs),
                sidecars=pulumi.Output.all(*args.sidecars),
            ).apply(
                lambda v: json.dumps(container_definitions(settings=settings, **v), sort_keys=True)
            ),
            tags=self._tags,
            opts=self._child(),
        )
        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=settings.desired_count,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(
                    capacity_provider=provider, base=base, weight=weight
                )
                for provider, base, weight in capacity_strategy(settings.fargate_spot)
            ],
            deployment_circuit_breaker={"enable": True, "rollback": True},
            alarms=deployment_alarms,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=settings.health_check_grace_period_seconds,
            enable_execute_command=settings.enable_execute_command,
            network_configuration={
                "subnets": args.task_subnet_ids,
                "security_groups": [task_sg.id],
                "assign_public_ip": args.assign_public_ip,
            },
            load_balancers=[
                {
                    "target_group_arn": args.target_group_arn,
                    "container_name": CONTAINER_NAME,
                    "container_port": settings.container_port,
                }
            ],
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=True,
            tags=self._tags,
            # Autoscaling owns the running count once the service exists.
            opts=self._child(depends_on=[capacity], ignore_changes=["desiredCount"]),
        )
        self._create_autoscaling(args, cluster, service)

        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.task_role_arn = task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "task_role_arn": self.task_role_arn,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child: parented to this component unless another parent is given."""
        return pulumi.ResourceOptions(**{"parent": self, **kwargs})

    def _create_app_secret(self, args: ContainerServiceArgs) -> aws.secretsmanager.Secret:
        """SECRET_KEY_BASE and RELEASE_COOKIE as one JSON secret (ECS reads keys by name)."""
        secret = aws.secretsmanager.Secret(
            f"{self._name}-runtime",
            name_prefix=f"{self._name}/runtime-",
            description="Phoenix SECRET_KEY_BASE and the Erlang RELEASE_COOKIE of this stack",
            recovery_window_in_days=7,
            tags=self._tags,
            opts=self._child(),
        )
        aws.secretsmanager.SecretVersion(
            f"{self._name}-runtime",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {"SECRET_KEY_BASE": args.secret_key_base, "RELEASE_COOKIE": args.release_cookie}
            ),
            opts=self._child(parent=secret),
        )
        return secret

    def _create_task_security_group(self, args: ContainerServiceArgs) -> aws.ec2.SecurityGroup:
        """Tasks take the container port from the load balancer's group only."""
        port = args.settings.container_port
        task_sg = aws.ec2.SecurityGroup(
            f"{self._name}-task-sg",
            vpc_id=args.vpc_id,
            description="App tasks: container port from the load balancer only",
            tags=self._tags,
            opts=self._child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-task-in-alb",
            security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=args.load_balancer_security_group_id,
            description="App port from the load balancer",
            tags=self._tags,
            opts=self._child(parent=task_sg),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-alb-out-tasks",
            security_group_id=args.load_balancer_security_group_id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=task_sg.id,
            description="Requests and health checks to the tasks",
            tags=self._tags,
            opts=self._child(parent=task_sg),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-task-out",
            security_group_id=task_sg.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="Image pulls, logs, secrets and outbound calls of the app",
            tags=self._tags,
            opts=self._child(parent=task_sg),
        )
        return task_sg

    def _create_roles(
        self,
        args: ContainerServiceArgs,
        caller: Any,
        partition: Any,
        region: Any,
        log_group: aws.cloudwatch.LogGroup,
        secret_refs: Mapping[str, pulumi.Input[str]],
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        trust = pulumi.Output.all(caller.account_id, partition.partition, region.region).apply(
            lambda v: assume_role_policy(v[0], v[1], v[2])
        )
        execution_role = aws.iam.Role(
            f"{self._name}-execution",
            description="ECS agent: pull the app image, write its logs, read its secrets",
            assume_role_policy=trust,
            tags=self._tags,
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-execution",
            role=execution_role.id,
            policy=pulumi.Output.all(
                image=args.image_ref,
                partition=partition.partition,
                log_group_arn=log_group.arn,
                secrets=pulumi.Output.all(*secret_refs.values()),
            ).apply(
                lambda v: execution_role_policy(
                    repository_arn=ecr_repository_arn(v["image"], v["partition"]),
                    log_group_arn=v["log_group_arn"],
                    secret_arns=v["secrets"],
                )
            ),
            opts=self._child(parent=execution_role),
        )
        task_role = aws.iam.Role(
            f"{self._name}-task",
            description="The app's own AWS identity",
            assume_role_policy=trust,
            tags=self._tags,
            opts=self._child(),
        )
        statements: list[pulumi.Input[Mapping[str, Any]]] = list(args.task_role_statements)
        if args.settings.enable_execute_command:
            statements.append(EXECUTE_COMMAND_STATEMENT)
        if statements:
            aws.iam.RolePolicy(
                f"{self._name}-task",
                role=task_role.id,
                policy=pulumi.Output.all(*statements).apply(policy_document),
                opts=self._child(parent=task_role),
            )
        return execution_role, task_role

    def _create_autoscaling(
        self,
        args: ContainerServiceArgs,
        cluster: aws.ecs.Cluster,
        service: aws.ecs.Service,
    ) -> None:
        settings = args.settings
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=settings.min_count,
            max_capacity=settings.max_count,
            tags=self._tags,
            opts=self._child(parent=service),
        )
        common = {
            "service_namespace": target.service_namespace,
            "scalable_dimension": target.scalable_dimension,
            "resource_id": target.resource_id,
            "policy_type": "TargetTrackingScaling",
        }
        aws.appautoscaling.Policy(
            f"{self._name}-scale-cpu",
            target_tracking_scaling_policy_configuration={
                "target_value": settings.cpu_target_percent,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ECSServiceAverageCPUUtilization"
                },
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 60,
            },
            opts=self._child(parent=target),
            **common,
        )
        aws.appautoscaling.Policy(
            f"{self._name}-scale-requests",
            target_tracking_scaling_policy_configuration={
                "target_value": settings.requests_per_target,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": pulumi.Output.concat(
                        args.load_balancer_arn_suffix, "/", args.target_group_arn_suffix
                    ),
                },
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 60,
            },
            opts=self._child(parent=target),
            **common,
        )
