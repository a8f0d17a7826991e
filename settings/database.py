"""The database unit's settings: a managed PostgreSQL (RDS on aws, a container locally), one
you bring, or none; the pool each task opens; and the migrations that run before traffic.

The connection budget: RDS for PostgreSQL sets ``max_connections`` to
``LEAST({DBInstanceClassMemory/9531392}, 5000)`` (the default parameter group; "Maximum number
of database connections", Amazon RDS User Guide). During a rolling deploy the old and the new
revision run side by side (ECS ``maximumPercent`` 200), so the tasks can hold
``2 * maxCount * poolSize`` connections; migrations add one pool; RDS reserves 3 connections
for its own superuser. Settings refuse a stack whose worst case does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from config_reader import ConfigReader

DatabaseMode = Literal["none", "postgres", "external"]
DATABASE_MODES: tuple[DatabaseMode, ...] = ("none", "postgres", "external")

# RDS for PostgreSQL major versions offered (engine_version takes the major; RDS picks the minor).
POSTGRES_MAJOR_VERSIONS = ("14", "15", "16", "17")

# Memory (GiB) of the RDS instance classes the budget knows; other classes are refused with the
# list, rather than guessed. https://aws.amazon.com/rds/instance-types/
INSTANCE_MEMORY_GIB: dict[str, float] = {
    **{f"db.t4g.{s}": m for s, m in (("micro", 1), ("small", 2), ("medium", 4), ("large", 8),
                                     ("xlarge", 16), ("2xlarge", 32))},
    **{f"db.t3.{s}": m for s, m in (("micro", 1), ("small", 2), ("medium", 4), ("large", 8),
                                    ("xlarge", 16), ("2xlarge", 32))},
    **{f"db.{f}.{s}": m for f in ("m6g", "m7g", "m6i", "m7i")
       for s, m in (("large", 8), ("xlarge", 16), ("2xlarge", 32), ("4xlarge", 64))},
    **{f"db.{f}.{s}": m for f in ("r6g", "r7g", "r6i", "r7i")
       for s, m in (("large", 16), ("xlarge", 32), ("2xlarge", 64), ("4xlarge", 128))},
}  # fmt: skip
MAX_CONNECTIONS_DIVISOR = 9_531_392
MAX_CONNECTIONS_CAP = 5_000
RDS_RESERVED_CONNECTIONS = 3
"""``rds.rds_superuser_reserved_connections`` + ``superuser_reserved_connections`` headroom."""
HEADROOM = 0.9
"""Leave 10 % for psql sessions through ECS Exec, monitoring agents and reconnect storms."""

IDENTIFIER = r"[a-z][a-z0-9_]{0,62}"
# Names RDS for PostgreSQL keeps for itself (`postgres` is allowed: the console's default).
RESERVED_USERNAMES = frozenset({"rdsadmin", "rdsrepladmin", "rds_superuser", "rdsproxyadmin"})
SECRET_ARN = (
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"
)
SECURITY_GROUP_ID = r"sg-[0-9a-f]{8,17}"
COMMAND_WORD = r"[A-Za-z0-9_./:=@%+-]+"


DB_INSTANCE_CLASS_MEMORY_SHARE = 0.85
"""``DBInstanceClassMemory`` is the class's memory less what the OS and RDS's own processes
keep; AWS does not publish the figure. 85 % of the nominal memory errs on the safe side."""


def max_connections(instance_class: str) -> int:
    """RDS for PostgreSQL's default ``max_connections`` for a class (estimated memory)."""
    memory = int(INSTANCE_MEMORY_GIB[instance_class] * 1024**3 * DB_INSTANCE_CLASS_MEMORY_SHARE)
    return min(memory // MAX_CONNECTIONS_DIVISOR, MAX_CONNECTIONS_CAP)


def connections_needed(max_count: int, pool_size: int) -> int:
    """Worst case during a deploy at full scale: both revisions, plus one migration pool."""
    return 2 * max_count * pool_size + pool_size + RDS_RESERVED_CONNECTIONS


@dataclass(frozen=True)
class DatabaseSettings:
    """Which database the app gets, how it connects, and its migrations."""

    mode: DatabaseMode
    """``postgres`` (created by the stack), ``external`` (your DATABASE_URL secret) or ``none``."""
    engine_version: str
    """PostgreSQL major version."""
    instance_class: str
    """RDS instance class (aws)."""
    allocated_storage_gb: int
    """Initial gp3 storage (aws)."""
    max_allocated_storage_gb: int
    """Storage autoscaling ceiling (aws)."""
    backup_retention_days: int
    """Automated backups kept (aws; 1-35)."""
    multi_az: bool
    """A standby in another zone (aws)."""
    performance_insights: bool
    """Performance Insights (aws)."""
    name: str
    """Database name."""
    username: str
    """Owner role the app connects as."""
    pool_size: int
    """Connections each task opens (POOL_SIZE)."""
    url_secret_arn: str | None
    """``external``: a Secrets Manager secret whose value is a full DATABASE_URL."""
    security_group_id: str | None
    """``external``: the database's security group, which then admits the tasks on 5432."""
    migrations: bool
    """Run the migrate command before a new revision serves."""
    migrate_command: tuple[str, ...]
    """The release's migrate command (``bin/migrate`` of ``mix phx.gen.release``)."""

    @property
    def enabled(self) -> bool:
        return self.mode != "none"


def read_database(
    reader: ConfigReader, *, target: str, max_count: int, secret_names: tuple[str, ...]
) -> DatabaseSettings:
    mode = reader.string("database", choices=DATABASE_MODES)
    version = reader.string("databaseEngineVersion", choices=POSTGRES_MAJOR_VERSIONS)
    instance_class = reader.string("databaseInstanceClass")
    if instance_class not in INSTANCE_MEMORY_GIB:
        reader.problem(
            "databaseInstanceClass",
            instance_class,
            "one of " + ", ".join(sorted(INSTANCE_MEMORY_GIB)) + " (classes whose memory, and so "
            "max_connections, is known)",
        )
    allocated = reader.integer("databaseAllocatedStorageGb", minimum=20, maximum=65536)
    ceiling = reader.integer("databaseMaxAllocatedStorageGb", minimum=20, maximum=65536)
    reader.require(
        ceiling >= allocated,
        "databaseMaxAllocatedStorageGb",
        ceiling,
        f"at least databaseAllocatedStorageGb ({allocated})",
    )
    name = reader.string(
        "databaseName", pattern=IDENTIFIER, allowed="lowercase letters, digits, '_' (max 63)"
    )
    username = reader.string(
        "databaseUsername", pattern=IDENTIFIER, allowed="lowercase letters, digits, '_' (max 63)"
    )
    if username in RESERVED_USERNAMES:
        reader.problem("databaseUsername", username, "reserved by PostgreSQL or RDS")
    pool_size = reader.integer("poolSize", minimum=1, maximum=1000)
    url_secret = reader.optional_string(
        "databaseUrlSecretArn",
        pattern=SECRET_ARN,
        allowed="a full Secrets Manager secret ARN (ending in the 6-character suffix) whose "
        "value is the DATABASE_URL",
    )
    security_group = reader.optional_string(
        "databaseSecurityGroupId", pattern=SECURITY_GROUP_ID, allowed="an id like sg-0abc1234"
    )
    command = reader.string_list("migrateCommand", item=_command_word_problem, min_items=1)
    if mode == "external" and target == "aws" and url_secret is None:
        reader.problem("databaseUrlSecretArn", None, "required with database: external")
    if mode != "external" and (url_secret or security_group):
        key = "databaseUrlSecretArn" if url_secret else "databaseSecurityGroupId"
        reader.problem(key, url_secret or security_group, "only with database: external")
    if mode != "none" and "DATABASE_URL" in secret_names:
        reader.problem(
            "secrets",
            "DATABASE_URL",
            "set by the database unit; use database: external with databaseUrlSecretArn",
        )
    if mode == "postgres" and target == "aws" and instance_class in INSTANCE_MEMORY_GIB:
        limit = int(max_connections(instance_class) * HEADROOM)
        needed = connections_needed(max_count, pool_size)
        if needed > limit:
            reader.problem(
                "poolSize",
                pool_size,
                f"2 x maxCount ({max_count}) x poolSize + one migration pool + "
                f"{RDS_RESERVED_CONNECTIONS} reserved = {needed} connections, but "
                f"{instance_class} allows {max_connections(instance_class)} (90 % = {limit}); "
                "lower poolSize or maxCount, or choose a larger databaseInstanceClass",
            )
    return DatabaseSettings(
        mode=mode if mode in DATABASE_MODES else "none",  # type: ignore[arg-type]
        engine_version=version,
        instance_class=instance_class,
        allocated_storage_gb=allocated,
        max_allocated_storage_gb=ceiling,
        backup_retention_days=reader.integer("databaseBackupRetentionDays", minimum=1, maximum=35),
        multi_az=reader.boolean("databaseMultiAz"),
        performance_insights=reader.boolean("databasePerformanceInsights"),
        name=name,
        username=username,
        pool_size=pool_size,
        url_secret_arn=url_secret,
        security_group_id=security_group,
        migrations=reader.boolean("migrations"),
        migrate_command=command,
    )


def _command_word_problem(value: str) -> str | None:
    if re.fullmatch(COMMAND_WORD, value):
        return None
    return "one word of the command, without spaces or shell characters"
