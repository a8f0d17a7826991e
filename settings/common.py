"""Constants, patterns and readers shared by the units' settings."""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from config_reader import ConfigReader, load_project_config

PROJECT_DIR = Path(__file__).resolve().parent.parent


@cache
def project_config() -> tuple[str, dict[str, dict[str, Any]]]:
    """(project name, declared keys) from ``Pulumi.yaml``, read once, on first use."""
    return load_project_config(PROJECT_DIR / "Pulumi.yaml")


# Object-valued keys: valid, but not declarable in Pulumi.yaml (no object type there).
OBJECT_KEYS: tuple[str, ...] = (
    "tags",
    "environment",
    "secrets",
    "imageBuildArgs",
    "localSecrets",
    "taskRolePolicyStatements",
)

TARGETS = ("local", "aws")
ARCHITECTURES = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
AUTO_ARCHITECTURE = "auto"
# What platform.machine() says on the machines Docker runs natively on.
HOST_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}

# Fargate's accepted task sizes: cpu units -> memory MiB.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_MEMORY: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: tuple(range(1024, 4096 + 1, 1024)),
        1024: tuple(range(2048, 8192 + 1, 1024)),
        2048: tuple(range(4096, 16384 + 1, 1024)),
        4096: tuple(range(8192, 30720 + 1, 1024)),
        8192: tuple(range(16384, 61440 + 1, 4096)),
        16384: tuple(range(32768, 122880 + 1, 8192)),
    }
)

# Values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip

# Fargate caps the container stopTimeout at 120 s; the task must outlive the ALB's draining.
MAX_STOP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_MARGIN_SECONDS = 15

# Subnets are 1/16 of the VPC (components.aws.network); ALB subnets must be /27 or larger.
MAX_VPC_PREFIX = 23
# An ALB name is at most 32 characters; Pulumi names it "<appName>-<stack>-alb-" + 7 hex.
MAX_LOAD_BALANCER_NAME = 32
AUTONAME_SUFFIX_LENGTH = 8


@dataclass(frozen=True)
class GeneratedName:
    """A physical name the aws target derives from ``<appName>-<stack>``."""

    what: str
    suffix: str
    """What follows ``<appName>-<stack>`` before Pulumi's random part."""
    limit: int
    """AWS's maximum length."""
    random: int = AUTONAME_SUFFIX_LENGTH
    """Pulumi's autoname adds '-' + 7 hex; a ``*_prefix`` input is checked on its own."""


# The longest names per AWS limit (tests/test_pr_environments.py checks the list against a run of
# the program through tests/aws_limits.py): the load balancer is the tightest today.
GENERATED_NAMES: tuple[GeneratedName, ...] = (
    GeneratedName("load balancer", "-alb", MAX_LOAD_BALANCER_NAME),
    GeneratedName("access-log bucket prefix", "-alb-logs-", 37, random=0),
    GeneratedName("RDS instance identifier", "-db", 63),
    GeneratedName("IAM role", "-flow-logs", 64),
    GeneratedName("Lambda function", "-chat", 64),
)


def generated_name_problem(app_name: str, stack: str) -> str | None:
    """Why ``<appName>-<stack>`` makes a name AWS refuses (the tightest limit), or None."""
    for name in GENERATED_NAMES:
        room = name.limit - name.random - len(f"-{stack}{name.suffix}")
        if len(app_name) > room:
            shown = f"<appName>-{stack}{name.suffix}{'-' if name.random else ''}<suffix>"
            return (
                f"at most {room} characters for stack '{stack}': the {name.what}'s name "
                f"'{shown}' is limited to {name.limit}"
            )
    return None


def longest_pr_number(app_name: str) -> int:
    """How many digits a pull-request number may have for this appName (0: none fits)."""
    digits = 0
    while (
        digits < 7
        and generated_name_problem(app_name, f"{PR_STACK_PREFIX}{'9' * (digits + 1)}") is None
    ):
        digits += 1
    return digits


NAME_PATTERN = r"[a-z][a-z0-9-]{1,18}[a-z0-9]"
# Pull-request environments: stack pr-<number>, made from stack-templates/Pulumi.pr.yaml.
PR_STACK_PREFIX = "pr-"
PR_STACK_PATTERN = r"pr-[1-9][0-9]{0,6}"
ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
HTTP_PATH_PATTERN = r"/[A-Za-z0-9/_.\-~%]*"
DIGEST_REFERENCE = r"[a-z0-9.\-/:_]+@sha256:[0-9a-f]{64}"
# A third-party image pinned by version tag or digest (not latest, not a branch).
PINNED_IMAGE = (
    r"([a-z0-9.\-]+(:\d+)?/)?[a-z0-9.\-/_]+"
    r"(:v?\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})"
)
IMAGE_TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}"
SECRET_ARN = (
    # Secrets Manager: the full ARN, with the 6-character suffix AWS adds to the name; a
    # partial ARN would be granted in IAM as written and never match the real secret.
    r"arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"
    r"|ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]+)"
    r"(:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*)?"
)
ACM_ARN = r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}"
# Route 53 hosted zone ids (botocore route53 ResourceId: at most 32 characters).
HOSTED_ZONE_ID = r"Z[A-Z0-9]{1,31}"
# The last label: letters, or an internationalised TLD's A-label (xn--p1ai, xn--fiqs8s).
DOMAIN_PATTERN = (
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
SUBNET_ID = r"subnet-[0-9a-f]{8,17}"
ACCOUNT_ID = r"\d{12}"
VPC_ID = r"vpc-[0-9a-f]{8,17}"
KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})"
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,63}"
HTTPS_URL_PATTERN = r"https://[A-Za-z0-9\-.]+\.[A-Za-z]{2,63}(:\d{1,5})?(/\S*)?"
# Incoming webhooks of chat tools: they answer SNS's SubscriptionConfirmation with nothing.
CHAT_WEBHOOK = (
    r"https://(hooks\.slack\.com|(discord|discordapp)\.com/api/webhooks|chat\.googleapis\.com"
    r"|[a-z0-9.-]*\.webhook\.office\.com|outlook\.office\.com/webhook)"
)
SQS_QUEUE_ARN = r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_\-]{1,80}(\.fifo)?"
# Periods CloudWatch accepts for AWS/ECS and AWS/ApplicationELB metrics (1-minute resolution).
ALARM_PERIODS = (60, 300, 900, 3600)
LATENCY_STATISTICS = ("p95", "p99")
# Names the service sets itself; config must not override them.
RESERVED_ENVIRONMENT = frozenset(
    {
        "PORT",
        "PHX_SERVER",
        "PHX_HOST",
        "SECRET_KEY_BASE",
        "RELEASE_COOKIE",
        "SHUTDOWN_DRAIN_MS",
        "POOL_SIZE",
        "DNS_CLUSTER_QUERY",
        "RELEASE_DISTRIBUTION",
        "ERL_AFLAGS",
        "RELEASE_TMP",
        "ERL_CRASH_DUMP",
    }
)
# Names whose values are secrets by convention: refused in plain `environment` (the policy pack's
# ecs-no-plaintext-secrets rule uses the same convention; a test keeps the two in step).
SECRET_LIKE_NAME = (
    r"(?i)(SECRET_KEY_BASE|RELEASE_COOKIE|DATABASE_URL|API_KEY"
    r"|[A-Z0-9_]*_(PASSWORD|PASSWD|PASS|TOKEN|SECRET|API_KEY|CREDENTIALS|PRIVATE_KEY))"
)

# Host ports the local target publishes (on 127.0.0.1); each must be distinct.
LOCAL_PORT_KEYS = (
    "localAppPort",
    "localRegistryPort",
    "localPrometheusPort",
    "localGrafanaPort",
    "localDatabasePort",
    "localAlertmanagerPort",
)
# A decimal number of CPUs, like `docker run --cpus` takes (e.g. 1, 0.5, 2.25).
CPUS_PATTERN = r"[0-9]{1,3}(\.[0-9]{1,3})?"

NatGateways = Literal["none", "single", "perAz"]
LatencyStatistic = Literal["p95", "p99"]


def secret_arn_problem(value: str) -> str | None:
    if re.fullmatch(SECRET_ARN, value):
        return None
    return (
        "must be a Secrets Manager or SSM parameter ARN; for Secrets Manager the full ARN, "
        "ending in the 6-character suffix (`aws secretsmanager describe-secret` prints it)"
    )


def resolve_architecture(configured: str, target: str, machine: str | None = None) -> str:
    """``auto``: the local target builds for this machine (no emulation on Apple Silicon);
    Fargate defaults to x86_64, the architecture every region offers."""
    if configured != AUTO_ARCHITECTURE:
        return configured
    if target != "local":
        return "x86_64"
    return HOST_ARCHITECTURES.get((machine or platform.machine()).lower(), "x86_64")


def path_is(path: Path, test: Callable[[Path], bool]) -> bool:
    """``test(path)``, False where the OS refuses the path itself (name too long, NUL byte)."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False


def account_id_problem(value: str) -> str | None:
    if re.fullmatch(ACCOUNT_ID, value):
        return None
    return "an AWS account id: exactly 12 digits, e.g. '123456789012' (quote it in YAML)"


def read_environment_map(
    reader: ConfigReader,
    key: str,
    *,
    value: Callable[[str], str | None] | None = None,
    mask_values: bool = False,
) -> dict[str, str]:
    """An object of environment variable names to values (``value`` checks each value)."""
    return reader.string_map(
        key,
        name_pattern=ENV_NAME_PATTERN,
        name_allowed="an environment variable name",
        value=value,
        mask_values=mask_values,
    )


def refuse_taken_names(
    reader: ConfigReader, key: str, names: Collection[str], *, environment: Collection[str] = ()
) -> None:
    """Names the service sets itself, and names plain ``environment`` already sets."""
    for name in sorted(RESERVED_ENVIRONMENT.intersection(names)):
        reader.problem(key, name, "set by the service itself; choose another name")
    for name in sorted(set(environment).intersection(names)):
        reader.problem(key, name, "also set in environment; set it in one place only")


def kms_key_problem(value: str) -> str | None:
    if re.fullmatch(KMS_KEY_ARN, value):
        return None
    return "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias"
