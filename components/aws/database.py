"""Database (aws): Amazon RDS for PostgreSQL for the app, and its DATABASE_URL secret.

Creates: a generated password (URL-safe, never an output); a DB subnet group over the private
subnets (they exist with or without NAT: a database never needs the internet); a parameter
group that refuses connections without TLS (``rds.force_ssl``) and stores passwords as
SCRAM-SHA-256; the database's security group (who may connect is decided where the units are
composed: the app tasks, nothing else, no CIDR); the encrypted gp3 instance with storage
autoscaling, backups, optional Multi-AZ and Performance Insights, deletion protection, a final
snapshot and ``protect`` when the stack keeps its data; the ``DATABASE_URL`` secret in Secrets
Manager that the tasks read; and alarms on CPU, free storage, freeable memory and connections
near the limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.database_url import database_url

POSTGRES_PORT = 5432
PASSWORD_LENGTH = 40
# RDS refuses '/', '@', '"' and spaces in master passwords; letters and digits suffice at 40.
RDS_CA = "rds-ca-rsa2048-g1"
URL_KEY = "DATABASE_URL"
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7  # the free tier


@dataclass(frozen=True)
class DatabaseAlarmThresholds:
    """When the database's alarms fire (derived from the instance, see ``alarm_thresholds``)."""

    cpu_percent: int
    free_storage_bytes: int
    freeable_memory_bytes: int
    connections: int


def alarm_thresholds(
    *, allocated_storage_gb: int, memory_gib: float, max_connections: int
) -> DatabaseAlarmThresholds:
    """CPU above 80 %, less than 5 % of the initial storage or of the memory left, 80 % of
    ``max_connections`` in use. Storage autoscaling grows the disk at 10 % free, so 5 % means
    it could not (the ceiling is reached, or it is growing too slowly)."""
    gib = 1024**3
    return DatabaseAlarmThresholds(
        cpu_percent=80,
        free_storage_bytes=int(allocated_storage_gb * gib * 0.05),
        freeable_memory_bytes=int(memory_gib * gib * 0.05),
        connections=int(max_connections * 0.80),
    )


@dataclass(frozen=True)
class DatabaseArgs:
    engine_version: str
    """PostgreSQL major version; RDS keeps the minor current (auto minor upgrades)."""
    instance_class: str
    """RDS instance class."""
    allocated_storage_gb: int
    """Initial gp3 storage."""
    max_allocated_storage_gb: int
    """Storage autoscaling ceiling."""
    backup_retention_days: int
    """Automated backups and point-in-time restore window."""
    multi_az: bool
    """A synchronous standby in another zone."""
    performance_insights: bool
    """Performance Insights (7 days, the free retention)."""
    database_name: str
    """The app's database."""
    username: str
    """The role the app connects as (the instance's master user)."""
    vpc_id: pulumi.Input[str]
    """VPC of the database's security group."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets (at least two zones)."""
    keep_data: bool
    """Deletion protection, a final snapshot, and ``protect``/``retainOnDelete`` on the instance."""
    alarm_thresholds: DatabaseAlarmThresholds
    """When the alarms fire."""
    alarm_topic_arn: pulumi.Input[str]
    """Where the alarms go."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    """Host name of the instance (private)."""
    port: pulumi.Output[int]
    identifier: pulumi.Output[str]
    url_reference: pulumi.Output[str]
    """ECS ``valueFrom`` of the DATABASE_URL (``<secret ARN>:DATABASE_URL::``)."""
    url_secret_arn: pulumi.Output[str]
    security_group: aws.ec2.SecurityGroup
    """The database's group; the composition adds who may connect."""
    alarm_arns: pulumi.Output[list[str]]
    """Its alarms (for the stack's dashboard)."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:Database", name, None, opts)
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(
            f"{name}-db-password", length=PASSWORD_LENGTH, special=False, opts=child
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-db",
            subnet_ids=args.subnet_ids,
            description="Private subnets of the app database",
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-db",
            family=f"postgres{args.engine_version}",
            description="App database - TLS only, SCRAM passwords",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="password_encryption", value="scram-sha-256"
                ),
            ],
            tags=tags,
            # A new major version needs a new family: autonamed, the new group is created
            # before the old one goes.
            opts=child,
        )
        snapshot_suffix = (
            random.RandomId(f"{name}-db-final-snapshot", byte_length=4, opts=child)
            if args.keep_data
            else None
        )
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            vpc_id=args.vpc_id,
            description="App database: PostgreSQL from the app tasks only",
            tags=tags,
            opts=child,
        )
        instance = aws.rds.Instance(
            f"{name}-db",
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=args.database_name,
            username=args.username,
            password=password.result,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            # Raising databaseEngineVersion is a deliberate major upgrade (a few minutes of
            # downtime, in the maintenance window unless applied immediately by hand).
            allow_major_version_upgrade=True,
            ca_cert_identifier=RDS_CA,
            performance_insights_enabled=args.performance_insights,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS
            if args.performance_insights
            else None,
            deletion_protection=args.keep_data,
            skip_final_snapshot=not args.keep_data,
            # Unique per instance: a second create/destroy cycle must not collide with the
            # snapshot the first one left.
            final_snapshot_identifier=snapshot_suffix.hex.apply(
                lambda suffix: f"{name}-db-final-{suffix}"
            )
            if snapshot_suffix is not None
            else None,
            # Changes apply now, not in the maintenance window: a major upgrade swaps the
            # parameter group in the same call, and the old group can only be deleted once the
            # instance has left it. Class or storage changes restart or slow it briefly.
            apply_immediately=True,
            tags=tags,
            # `protect` and AWS's deletion protection refuse a destroy; the final snapshot is
            # taken when one is allowed. (retainOnDelete would skip DeleteDBInstance altogether:
            # no snapshot, and its subnet and security groups could not be deleted.)
            opts=pulumi.ResourceOptions(parent=self, protect=args.keep_data),
        )
        url = pulumi.Output.secret(
            pulumi.Output.all(instance.address, instance.port, password.result).apply(
                lambda v: database_url(
                    username=args.username,
                    password=v[2],
                    host=v[0],
                    port=int(v[1]),
                    database=args.database_name,
                    ssl=True,
                )
            )
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-database-url",
            name_prefix=f"{name}/database-url-",
            description="DATABASE_URL of the app database (generated password, TLS)",
            recovery_window_in_days=7,
            tags=tags,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-database-url",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps({URL_KEY: url}),
            opts=pulumi.ResourceOptions(parent=secret),
        )
        alarms = self._create_alarms(name, instance, args, tags)
        self.alarm_arns = pulumi.Output.all(*(alarm.arn for alarm in alarms))
        self.address = instance.address
        self.port = instance.port
        self.identifier = instance.identifier
        self.url_secret_arn = secret.arn
        self.url_reference = secret.arn.apply(lambda arn: f"{arn}:{URL_KEY}::")
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "identifier": self.identifier,
                "url_secret_arn": self.url_secret_arn,
            }
        )

    def _create_alarms(
        self,
        name: str,
        instance: aws.rds.Instance,
        args: DatabaseArgs,
        tags: Mapping[str, str],
    ) -> list[aws.cloudwatch.MetricAlarm]:
        limits = args.alarm_thresholds
        alarms: list[tuple[str, str, str, float, str]] = [
            ("cpu", "CPUUtilization", "GreaterThanThreshold", limits.cpu_percent, "CPU above"),
            (
                "storage",
                "FreeStorageSpace",
                "LessThanThreshold",
                limits.free_storage_bytes,
                "free storage below (bytes)",
            ),
            (
                "memory",
                "FreeableMemory",
                "LessThanThreshold",
                limits.freeable_memory_bytes,
                "freeable memory below (bytes)",
            ),
            (
                "connections",
                "DatabaseConnections",
                "GreaterThanThreshold",
                limits.connections,
                "connections above",
            ),
        ]
        return [
            aws.cloudwatch.MetricAlarm(
                f"{name}-db-{role}",
                alarm_description=f"App database {words} {threshold:g} for 5 minutes",
                namespace="AWS/RDS",
                metric_name=metric,
                dimensions={"DBInstanceIdentifier": instance.identifier},
                statistic="Average",
                period=60,
                evaluation_periods=5,
                threshold=threshold,
                comparison_operator=comparison,
                # No datapoint means the instance is stopped or being replaced; RDS events
                # report those, the alarms watch a running instance.
                treat_missing_data="notBreaching",
                actions_enabled=True,
                alarm_actions=[args.alarm_topic_arn],
                ok_actions=[args.alarm_topic_arn],
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for role, metric, comparison, threshold, words in alarms
        ]
