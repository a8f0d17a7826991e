"""FargateTask (aws): what one kind of task is — its definition, identity, logs and firewall.

Creates: the log group; a least-privilege execution role (pull this image, write these logs,
read these secrets and decrypt them with these keys) and a separate task role (the app's own
AWS identity, plus ECS Exec's channels and session logs when exec is on, and the app's own
statements and managed policies from the stack's settings, in a policy of their own); the
Fargate task definition (the app container on its port, awslogs, secrets by ARN, a stop timeout
longer than the load balancer's draining, optional sidecars); the task security group (egress
only: who may reach the tasks is decided where the units are composed).

The web service, a worker service and one-off runs (migrations) are all tasks of this kind:
``components.aws.service.Service`` runs one as a service, the composition may run the same
definition with another command.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import PULL_ACTIONS, policy_document
from components.urns import LEGACY_SERVICE_TYPE, former_parent

CONTAINER_NAME = "app"
MIGRATE_CONTAINER_NAME = "migrate"
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"
ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<china>\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)[@:]"
)
_SECRET_JSON_KEY = re.compile(r"^(arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:[^:]+)(:.*)?$")


def ecr_repository_arn(image_ref: str) -> str | None:
    """The ECR repository ARN an image reference points into, or None for other registries."""
    match = _ECR_IMAGE.match(image_ref)
    if match is None:
        return None
    partition = "aws-cn" if match["china"] else "aws"
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def secret_resource_arn(reference: str) -> str:
    """The ARN IAM grants on, for an ECS ``valueFrom`` (drops a ``:json-key:stage:version``)."""
    match = _SECRET_JSON_KEY.match(reference)
    return match.group(1) if match else reference


def container_definitions(
    *,
    image: str,
    port: int,
    environment: Mapping[str, str | None],
    secrets: Mapping[str, str],
    stop_timeout: int,
    log_group: str,
    region: str,
    command: Sequence[str] | None = None,
    migrate_command: Sequence[str] | None = None,
    sidecars: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The task's container definitions (``RegisterTaskDefinition`` shape, camelCase).

    Environment variables are sorted and ``None`` values dropped, so identical deployments
    produce an identical definition (no churn)."""
    app: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "protocol": "tcp", "name": "http"}],
        "environment": [
            {"name": name, "value": value}
            for name, value in sorted(environment.items())
            if value is not None
        ],
        "secrets": [{"name": name, "valueFrom": arn} for name, arn in sorted(secrets.items())],
        "stopTimeout": stop_timeout,
        "linuxParameters": {"initProcessEnabled": True},
        # Nothing in the image can be changed at run time; the BEAM writes only to /tmp
        # (RELEASE_TMP, ERL_CRASH_DUMP: components.runtime), an ephemeral task volume.
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": TMP_PATH, "readOnly": False}],
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
    if command:
        app["command"] = list(command)
    containers = [app]
    if migrate_command:
        # Migrations before traffic: the same image, environment and secrets, run to completion
        # first; the app starts only when they exit 0 (a failure stops the task, and the
        # deployment circuit breaker rolls the service back to the revision that serves).
        migrate = {
            key: value
            for key, value in app.items()
            if key
            in (
                "image",
                "environment",
                "secrets",
                "linuxParameters",
                "readonlyRootFilesystem",
                "mountPoints",
            )
        }
        migrate |= {
            "name": MIGRATE_CONTAINER_NAME,
            "essential": False,
            "command": list(migrate_command),
            "logConfiguration": _log_configuration(app, MIGRATE_CONTAINER_NAME),
        }
        app["dependsOn"] = [{"containerName": MIGRATE_CONTAINER_NAME, "condition": "SUCCESS"}]
        containers.append(migrate)
    for sidecar in sidecars:
        if sidecar.get("essential", True) or sidecar.get("name") == CONTAINER_NAME:
            # ECS defaults "essential" to true: a crashing helper would stop the app's task.
            raise ValueError(
                f"sidecar {sidecar.get('name')!r} must set essential: false and not be named "
                f"{CONTAINER_NAME!r}"
            )
        definition = dict(sidecar)
        # Sidecar logs go to the app's log group under their own stream prefix.
        definition.setdefault("logConfiguration", _log_configuration(app, str(sidecar["name"])))
        containers.append(definition)
    return containers


def _log_configuration(app: Mapping[str, Any], stream_prefix: str) -> dict[str, Any]:
    """The app's awslogs configuration under another stream prefix (same log group)."""
    configuration = app["logConfiguration"]
    return {
        **configuration,
        "options": {**configuration["options"], "awslogs-stream-prefix": stream_prefix},
    }


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
    secret_kms_key_arns: Sequence[str] = (),
    region: str = "",
) -> str:
    """Exactly what starting the task needs: pull this image, write this log group, read these
    secrets (and decrypt them with these customer-managed keys, only through Secrets Manager
    or SSM). ``ecr:GetAuthorizationToken`` has no resource-level scoping in IAM."""
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
    if secret_kms_key_arns:
        statements.append(
            {
                "Sid": "DecryptAppSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": sorted(secret_kms_key_arns),
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [
                            f"secretsmanager.{region}.amazonaws.com",
                            f"ssm.{region}.amazonaws.com",
                        ]
                    }
                },
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


def execute_command_log_statements(log_group_arn: str) -> list[dict[str, Any]]:
    """ECS Exec logs each session through the task's awslogs configuration (the cluster's
    ``DEFAULT`` logging), with the task role's credentials: without these, sessions fail."""
    return [
        {
            "Sid": "EcsExecSessionLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {
            "Sid": "EcsExecFindLogGroup",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            # DescribeLogGroups has no resource-level permissions.
            "Resource": "*",
        },
    ]


@dataclass(frozen=True)
class FargateTaskArgs:
    image_ref: pulumi.Input[str]
    """The image to run, pinned by digest."""
    repository_arn: pulumi.Input[str] | None
    """ECR repository the execution role may pull from (None: a registry needing no grant)."""
    container_port: int
    """Port the app listens on (also the name ``http`` port mapping)."""
    cpu: int
    """Fargate CPU units of the task."""
    memory: int
    """Fargate memory of the task, MiB."""
    cpu_architecture: str
    """``X86_64`` or ``ARM64``."""
    stop_timeout_seconds: int
    """How long ECS waits after SIGTERM before SIGKILL."""
    vpc_id: pulumi.Input[str]
    """VPC of the task security group."""
    log_retention_days: int
    """Retention of the task's log group."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain environment variables (sorted, ``None`` dropped, in the definition)."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Variable name -> Secrets Manager/SSM ``valueFrom``; may be Outputs of this program."""
    secret_kms_key_arns: Sequence[str] = ()
    """Customer-managed KMS keys those secrets are encrypted with (``kms:Decrypt``)."""
    command: Sequence[str] | None = None
    """Override of the image's CMD (e.g. a worker's entry point); None - the image's."""
    migrate_command: Sequence[str] | None = None
    """Run this to completion, with the same image, environment and secrets, before the app
    container starts; the app starts only if it exits 0. None - no migrations."""
    enable_execute_command: bool = False
    """Give the task role ECS Exec's channels and session-log permissions."""
    task_role_statements: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """IAM statements the stack's own parts need on the task role (exec, metrics)."""
    app_policy_statements: Sequence[Mapping[str, Any]] = ()
    """The app's own statements (taskRolePolicyStatements), in an inline policy of their own."""
    app_managed_policy_arns: Sequence[str] = ()
    """Managed policies attached to the task role (taskRoleManagedPolicyArns)."""
    sidecars: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """Extra container definitions (e.g. the metrics collector); must be non-essential."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """Customer-managed KMS key encrypting the log group (None: CloudWatch's own keys)."""
    retain_on_delete: bool = False
    """Keep (and protect) the log group when the stack is destroyed."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class FargateTask(pulumi.ComponentResource):
    task_definition_arn: pulumi.Output[str]
    """Resolves once the execution role's policy exists, so no task starts without it."""
    family: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    task_role_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    """The tasks' group: egress only; ingress rules are added by the composition."""
    security_group: aws.ec2.SecurityGroup
    """The group itself, parent of the rules that admit traffic to the tasks."""

    def __init__(
        self, name: str, args: FargateTaskArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:FargateTask", name, None, opts)
        self._name = name
        self._tags = dict(args.tags)
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self))
        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self))
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"/ecs/{name}-",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=self._tags,
            opts=self._child(retain_on_delete=args.retain_on_delete, protect=args.retain_on_delete),
        )
        self.security_group = self._create_security_group(args)
        trust = pulumi.Output.all(caller.account_id, partition.partition, region.region).apply(
            lambda v: assume_role_policy(v[0], v[1], v[2])
        )
        execution_role = aws.iam.Role(
            f"{name}-execution",
            description="ECS agent: pull the app image, write its logs, read its secrets",
            assume_role_policy=trust,
            tags=self._tags,
            opts=self._child(),
        )
        execution_policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=execution_role.id,
            policy=pulumi.Output.all(
                repository=args.repository_arn,
                log_group_arn=log_group.arn,
                region=region.region,
                secrets=pulumi.Output.all(*args.secrets.values()),
            ).apply(
                lambda v: execution_role_policy(
                    repository_arn=v["repository"],
                    log_group_arn=v["log_group_arn"],
                    secret_arns=v["secrets"],
                    secret_kms_key_arns=args.secret_kms_key_arns,
                    region=v["region"],
                )
            ),
            opts=self._child(parent=execution_role),
        )
        task_role = aws.iam.Role(
            f"{name}-task",
            description="The app's own AWS identity",
            assume_role_policy=trust,
            tags=self._tags,
            opts=self._child(),
        )
        statements: list[pulumi.Input[Mapping[str, Any]]] = list(args.task_role_statements)
        exec_statements: pulumi.Input[list[dict[str, Any]]] = []
        if args.enable_execute_command:
            statements.append(EXECUTE_COMMAND_STATEMENT)
            exec_statements = log_group.arn.apply(execute_command_log_statements)
        # The app may call AWS while it boots: its task role is complete before a task starts.
        task_role_grants: list[pulumi.Resource] = []
        if statements:
            task_role_grants.append(
                aws.iam.RolePolicy(
                    f"{name}-task",
                    role=task_role.id,
                    policy=pulumi.Output.all(pulumi.Output.all(*statements), exec_statements).apply(
                        lambda v: policy_document([*v[0], *v[1]])
                    ),
                    opts=self._child(parent=task_role),
                )
            )
        if args.app_policy_statements:
            task_role_grants.append(
                aws.iam.RolePolicy(
                    f"{name}-task-app",
                    role=task_role.id,
                    policy=policy_document([dict(s) for s in args.app_policy_statements]),
                    opts=self._child(parent=task_role),
                )
            )
        for arn in args.app_managed_policy_arns:
            # Named by the ARN, not by position: reordering the list changes nothing.
            task_role_grants.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-task-policy-{hashlib.sha256(arn.encode()).hexdigest()[:8]}",
                    role=task_role.name,
                    policy_arn=arn,
                    opts=self._child(parent=task_role),
                )
            )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=name,
            cpu=str(args.cpu),
            memory=str(args.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            # An ephemeral volume on the task's own storage: the only writable path.
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=TMP_VOLUME)],
            runtime_platform={
                "cpu_architecture": args.cpu_architecture,
                "operating_system_family": "LINUX",
            },
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=pulumi.Output.all(
                image=args.image_ref,
                environment=pulumi.Output.all(**args.environment),
                secrets=pulumi.Output.all(**args.secrets),
                log_group=log_group.name,
                region=region.region,
                sidecars=pulumi.Output.all(*args.sidecars),
            ).apply(
                lambda v: json.dumps(
                    container_definitions(
                        port=args.container_port,
                        stop_timeout=args.stop_timeout_seconds,
                        command=args.command,
                        migrate_command=args.migrate_command,
                        **v,
                    ),
                    sort_keys=True,
                )
            ),
            tags=self._tags,
            # Tasks start with the execution role's permissions or not at all.
            opts=self._child(depends_on=[execution_policy, *task_role_grants]),
        )

        self.task_definition_arn = task_definition.arn
        self.family = task_definition.family
        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn
        self.execution_role_arn = execution_role.arn
        self.task_role_arn = task_role.arn
        self.task_role_name = task_role.name
        self.security_group_id = self.security_group.id
        self.register_outputs(
            {
                "task_definition_arn": self.task_definition_arn,
                "family": self.family,
                "log_group_name": self.log_group_name,
                "log_group_arn": self.log_group_arn,
                "execution_role_arn": self.execution_role_arn,
                "task_role_arn": self.task_role_arn,
                "task_role_name": self.task_role_name,
                "security_group_id": self.security_group_id,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a direct child; before this unit existed, its children were the
        ContainerService component's (same names), hence the alias."""
        aliases = [former_parent(LEGACY_SERVICE_TYPE, self._name)] if "parent" not in kwargs else []
        return pulumi.ResourceOptions(**{"parent": self, "aliases": aliases, **kwargs})

    def _create_security_group(self, args: FargateTaskArgs) -> aws.ec2.SecurityGroup:
        task_sg = aws.ec2.SecurityGroup(
            f"{self._name}-task-sg",
            vpc_id=args.vpc_id,
            description="App tasks: container port from the load balancer only",
            tags=self._tags,
            opts=self._child(),
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
