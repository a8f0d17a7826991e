"""Stack settings: every config key read once, validated, returned as frozen dataclasses.

Components never read ``pulumi.Config``; ``__main__.py`` calls :func:`from_pulumi` and hands the
parts to them. A bad value stops the program with one :class:`ConfigError` that lists every
problem (key, value, what is allowed) before a single resource is registered.
"""

from __future__ import annotations

import hashlib
import platform
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pulumi

from config_reader import (
    ConfigError,
    ConfigReader,
    cidr_problem,
    current_stack_config,
    load_project_config,
)

__all__ = ["ConfigError", "Settings", "from_pulumi", "load"]

PROJECT_DIR = Path(__file__).resolve().parent
PROJECT_NAME, DECLARED_KEYS = load_project_config(PROJECT_DIR / "Pulumi.yaml")

# Object-valued keys: valid, but not declarable in Pulumi.yaml (no object type there).
OBJECT_KEYS: tuple[str, ...] = ("tags", "environment", "secrets", "imageBuildArgs", "localSecrets")

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

NAME_PATTERN = r"[a-z][a-z0-9-]{1,18}[a-z0-9]"
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
DOMAIN_PATTERN = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
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
    {"PORT", "PHX_SERVER", "PHX_HOST", "SECRET_KEY_BASE", "RELEASE_COOKIE", "SHUTDOWN_DRAIN_MS"}
)
# Names whose values are secrets by convention: refused in plain `environment` (the policy pack's
# ecs-no-plaintext-secrets rule uses the same convention; a test keeps the two in step).
SECRET_LIKE_NAME = (
    r"(?i)(SECRET_KEY_BASE|RELEASE_COOKIE|DATABASE_URL|API_KEY"
    r"|[A-Z0-9_]*_(PASSWORD|PASSWD|PASS|TOKEN|SECRET|API_KEY|CREDENTIALS|PRIVATE_KEY))"
)
# Build inputs whose changes matter to the image; anything else in the context is ignored.
CONTEXT_IGNORED_DIRS = frozenset({"_build", "deps", ".git", ".elixir_ls", "node_modules"})

# Host ports the local target publishes (on 127.0.0.1); each must be distinct.
LOCAL_PORT_KEYS = ("localAppPort", "localRegistryPort", "localPrometheusPort", "localGrafanaPort")
# A decimal number of CPUs, like `docker run --cpus` takes (e.g. 1, 0.5, 2.25).
CPUS_PATTERN = r"[0-9]{1,3}(\.[0-9]{1,3})?"

NatGateways = Literal["none", "single", "perAz"]
LatencyStatistic = Literal["p95", "p99"]


@dataclass(frozen=True)
class ImageSettings:
    """What to build (or which prebuilt image to deploy)."""

    context: Path
    """Absolute build context."""
    dockerfile: Path
    """Absolute Dockerfile path."""
    platform: str
    """Docker platform matching the service architecture, e.g. ``linux/amd64``."""
    tag: str
    """Tag pushed with the image; deployments still reference the digest."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    """``--build-arg`` values, sorted."""
    prebuilt: str | None = None
    """A digest-pinned reference to deploy instead of building."""
    build_on_preview: bool = True
    """Build during preview so a broken Dockerfile fails the pull request."""


@dataclass(frozen=True)
class RegistrySettings:
    """ECR repository policy."""

    tag_mutability: Literal["IMMUTABLE", "MUTABLE"] = "IMMUTABLE"
    untagged_expiry_days: int = 7
    keep_tagged_count: int = 30
    force_delete: bool = False
    pull_account_ids: tuple[str, ...] = ()
    """Other AWS accounts (12-digit ids) whose roles may pull the images: the staging/prod
    accounts when they promote the image dev built. Empty - no repository policy."""


@dataclass(frozen=True)
class NetworkSettings:
    """A new VPC, or the ids of an existing one."""

    vpc_cidr: str = "10.0.0.0/16"
    availability_zones: int = 2
    nat_gateways: NatGateways = "single"
    existing_vpc_id: str | None = None
    existing_public_subnet_ids: tuple[str, ...] = ()
    existing_private_subnet_ids: tuple[str, ...] = ()

    @property
    def tasks_in_public_subnets(self) -> bool:
        """Without NAT, tasks need public IPs to pull images; they still only admit the ALB."""
        return self.existing_vpc_id is None and self.nat_gateways == "none"


@dataclass(frozen=True)
class ServiceSettings:
    """The container service: size, scaling, health, load balancer and runtime config."""

    container_port: int = 4000
    cpu: int = 256
    memory: int = 512
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    desired_count: int = 1
    min_count: int = 1
    max_count: int = 2
    cpu_target_percent: int = 60
    requests_per_target: int = 1000
    health_check_path: str = "/health"
    health_check_grace_period_seconds: int = 60
    deregistration_delay_seconds: int = 30
    log_retention_days: int = 30
    enable_execute_command: bool = False
    fargate_spot: bool = False
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    domain: str | None = None
    certificate_arn: str | None = None
    alb_deletion_protection: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables, sorted, no nulls."""
    secret_arns: Mapping[str, str] = field(default_factory=dict)
    """Environment variable name -> Secrets Manager / SSM ARN, injected as ECS secrets."""
    secret_kms_key_arns: tuple[str, ...] = ()
    """Customer-managed KMS keys those secrets are encrypted with (the execution role may
    decrypt with exactly these, through Secrets Manager/SSM only)."""

    @property
    def stop_timeout_seconds(self) -> int:
        """Longer than the load balancer's draining, so in-flight requests finish."""
        return min(
            self.deregistration_delay_seconds + STOP_TIMEOUT_MARGIN_SECONDS,
            MAX_STOP_TIMEOUT_SECONDS,
        )

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None


@dataclass(frozen=True)
class LocalSettings:
    """The local target: containers on the machine's Docker engine, ports on 127.0.0.1."""

    app_port: int = 4000
    """Host port of the app (the container still listens on ``containerPort``)."""
    registry_port: int = 5000
    """Host port of the ``registry:2`` container; images are pushed to ``localhost:<port>``."""
    prometheus_port: int = 9090
    grafana_port: int = 3000
    memory_mb: int = 1024
    """Hard memory limit of the app container, MiB."""
    cpus: str = "1"
    """CPU limit of the app container (``docker run --cpus``), a decimal number."""
    log_max_size_mb: int = 10
    """json-file log rotation: size of one file, MiB."""
    log_max_files: int = 3
    """json-file log rotation: files kept."""
    grafana_admin_password: pulumi.Output[str] | None = None
    """Grafana's admin password (secret); None - the program generates one."""
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Extra environment variables for the app whose values stay secret (``localSecrets``)."""

    @property
    def bind_address(self) -> str:
        """Published ports listen on loopback only: nothing is reachable from the network."""
        return "127.0.0.1"


@dataclass(frozen=True)
class MonitoringSettings:
    """Alarms and where they go, log encryption, and the optional managed Prometheus/Grafana."""

    log_kms_key_arn: str | None = None
    """Customer-managed KMS key for the service's log group (None: CloudWatch's own keys)."""
    alarm_emails: tuple[str, ...] = ()
    """E-mail addresses subscribed to the alarm topic (each must confirm)."""
    alarm_webhooks: tuple[str, ...] = ()
    """https endpoints that confirm SNS subscriptions (PagerDuty, Opsgenie), on the topic."""
    alarm_sqs_queue_arn: str | None = None
    """A standard SQS queue subscribed to the alarm topic (its policy must admit the topic)."""
    cpu_high_percent: int = 80
    """Average service CPU (% of the task's reservation) that raises an alarm."""
    memory_high_percent: int = 80
    """Average service memory (% of the task's reservation) that raises an alarm."""
    target_5xx_percent: int = 5
    """Share of requests answered 5XX by the tasks that raises an alarm (and rolls back)."""
    unhealthy_hosts: int = 0
    """Alarm (and roll back) when more targets than this are unhealthy."""
    latency_statistic: LatencyStatistic = "p99"
    """Percentile of the target response time that is watched."""
    latency_threshold_ms: int = 1000
    """Target response time (ms) at that percentile that raises an alarm."""
    period_seconds: int = 60
    """Length of one evaluated period."""
    evaluation_periods: int = 3
    """Consecutive breaching periods before an alarm fires."""
    managed_prometheus: bool = False
    """An Amazon Managed Service for Prometheus workspace fed by a collector sidecar."""
    managed_grafana: bool = False
    """An Amazon Managed Grafana workspace reading that Prometheus workspace."""
    metrics_path: str = "/metrics"
    """Path the collector scrapes on the app's port."""
    metrics_scrape_interval_seconds: int = 30
    """How often the collector scrapes the app."""
    collector_image: str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.47.0"
    """The ADOT collector sidecar's image: a version tag or a digest, never a moving tag."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, for one stack."""

    project: str
    stack: str
    target: Literal["local", "aws"]
    app_name: str
    tags: Mapping[str, str]
    retain_on_delete: bool
    image: ImageSettings
    registry: RegistrySettings
    network: NetworkSettings
    service: ServiceSettings
    monitoring: MonitoringSettings
    local: LocalSettings = field(default_factory=LocalSettings)

    @property
    def resource_prefix(self) -> str:
        """``<app>-<stack>``: the prefix of every physical name."""
        return f"{self.app_name}-{self.stack}"


def _secret_arn_problem(value: str) -> str | None:
    if re.fullmatch(SECRET_ARN, value):
        return None
    return (
        "must be a Secrets Manager or SSM parameter ARN; for Secrets Manager the full ARN, "
        "ending in the 6-character suffix (`aws secretsmanager describe-secret` prints it)"
    )


def build_digest(
    context: Path, dockerfile: Path, build_args: Mapping[str, str], docker_platform: str
) -> str:
    """A short hash of everything that makes the image: same inputs, same tag.

    Covers the sources, the Dockerfile (content and path), the build args and the platform, so
    any change that rebuilds the image also changes the tag (immutable tags refuse a new digest
    under an old tag).
    """
    digest = hashlib.sha256()
    digest.update(f"{docker_platform}\0{dockerfile}\0".encode())
    for name, value in sorted(build_args.items()):
        digest.update(f"{name}={value}\0".encode())
    files = [dockerfile, *sorted(p for p in context.rglob("*") if p.is_file())]
    for path in files:
        relative = path.relative_to(context) if path.is_relative_to(context) else path
        if CONTEXT_IGNORED_DIRS.intersection(relative.parts):
            continue
        digest.update(str(relative).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def resolve_architecture(configured: str, target: str, machine: str | None = None) -> str:
    """``auto``: the local target builds for this machine (no emulation on Apple Silicon);
    Fargate defaults to x86_64, the architecture every region offers."""
    if configured != AUTO_ARCHITECTURE:
        return configured
    if target != "local":
        return "x86_64"
    return HOST_ARCHITECTURES.get((machine or platform.machine()).lower(), "x86_64")


def _path_is(path: Path, test: Callable[[Path], bool]) -> bool:
    """``test(path)``, False where the OS refuses the path itself (name too long, NUL byte)."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False


def _read_image(reader: ConfigReader, project_dir: Path, architecture: str) -> ImageSettings:
    context = project_dir / reader.string("imageContext")
    dockerfile = project_dir / reader.string("imageDockerfile")
    prebuilt = reader.optional_string(
        "prebuiltImage",
        pattern=DIGEST_REFERENCE,
        allowed="must be pinned by digest: <repository>@sha256:<64 hex digits>",
    )
    tag = reader.optional_string(
        "imageTag",
        pattern=IMAGE_TAG_PATTERN,
        allowed="a Docker tag: letters, digits, '_', '.', '-' (max 128), e.g. the commit SHA",
    )
    build_args = reader.string_map(
        "imageBuildArgs", name_pattern=ENV_NAME_PATTERN, name_allowed="a build-arg name"
    )
    build_on_preview = reader.boolean("buildOnPreview")
    context_found = _path_is(context, Path.is_dir)
    dockerfile_found = _path_is(dockerfile, Path.is_file)
    if prebuilt is None:
        reader.require(context_found, "imageContext", str(context), "must be a directory")
        reader.require(dockerfile_found, "imageDockerfile", str(dockerfile), "file not found")
    docker_platform = ARCHITECTURES.get(architecture, "linux/amd64")
    if tag is None:
        tag = (
            "src-" + build_digest(context, dockerfile, build_args, docker_platform)
            if context_found and dockerfile_found
            else "latest"
        )
    return ImageSettings(
        context=context,
        dockerfile=dockerfile,
        platform=docker_platform,
        tag=tag,
        build_args=MappingProxyType(build_args),
        prebuilt=prebuilt,
        build_on_preview=build_on_preview,
    )


def _read_registry(reader: ConfigReader) -> RegistrySettings:
    mutability = reader.string("registryTagMutability", choices=("IMMUTABLE", "MUTABLE"))
    return RegistrySettings(
        tag_mutability="MUTABLE" if mutability == "MUTABLE" else "IMMUTABLE",
        untagged_expiry_days=reader.integer("registryUntaggedExpiryDays", minimum=1, maximum=3650),
        keep_tagged_count=reader.integer("registryKeepTaggedCount", minimum=1, maximum=10000),
        force_delete=reader.boolean("registryForceDelete"),
        pull_account_ids=reader.string_list("registryPullAccountIds", item=_account_id_problem),
    )


def _account_id_problem(value: str) -> str | None:
    if re.fullmatch(ACCOUNT_ID, value):
        return None
    return "an AWS account id: exactly 12 digits, e.g. '123456789012' (quote it in YAML)"


def _read_network(reader: ConfigReader) -> NetworkSettings:
    vpc_cidr = reader.string("vpcCidr")
    if message := cidr_problem(vpc_cidr):
        reader.problem("vpcCidr", vpc_cidr, message)
    elif not 16 <= int(vpc_cidr.split("/")[1]) <= MAX_VPC_PREFIX:
        reader.problem(
            "vpcCidr",
            vpc_cidr,
            f"prefix length must be /16 to /{MAX_VPC_PREFIX}: subnets are 1/16 of the VPC and "
            "a load balancer subnet needs at least a /27",
        )
    zones = reader.integer("availabilityZones", minimum=2, maximum=6)
    nat = reader.string("natGateways", choices=("none", "single", "perAz"))
    vpc_id = reader.optional_string("vpcId", pattern=VPC_ID, allowed="a VPC id like vpc-0abc1234")

    def subnet(value: str) -> str | None:
        return None if re.fullmatch(SUBNET_ID, value) else "a subnet id like subnet-0abc1234"

    public = reader.string_list("publicSubnetIds", item=subnet)
    private = reader.string_list("privateSubnetIds", item=subnet)
    if vpc_id is not None:
        for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
            reader.require(len(ids) >= 2, key, list(ids), "with vpcId, list subnets in ≥ 2 AZs")
    elif public or private:
        reader.problem(
            "vpcId", None, "required when publicSubnetIds/privateSubnetIds name existing subnets"
        )
    return NetworkSettings(
        vpc_cidr=vpc_cidr,
        availability_zones=zones,
        nat_gateways=nat if nat in ("none", "single", "perAz") else "single",  # type: ignore[arg-type]
        existing_vpc_id=vpc_id,
        existing_public_subnet_ids=public,
        existing_private_subnet_ids=private,
    )


def _read_environment_map(
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


def _refuse_taken_names(
    reader: ConfigReader, key: str, names: Collection[str], *, environment: Collection[str] = ()
) -> None:
    """Names the service sets itself, and names plain ``environment`` already sets."""
    for name in sorted(RESERVED_ENVIRONMENT.intersection(names)):
        reader.problem(key, name, "set by the service itself; choose another name")
    for name in sorted(set(environment).intersection(names)):
        reader.problem(key, name, "also set in environment; set it in one place only")


def _read_service(reader: ConfigReader, architecture: str) -> ServiceSettings:
    port = reader.integer("containerPort", minimum=1024, maximum=65535)
    cpu = reader.integer("cpu", choices=FARGATE_MEMORY.keys())
    memory = reader.integer("memory", minimum=512)
    if cpu in FARGATE_MEMORY and memory not in FARGATE_MEMORY[cpu]:
        allowed = FARGATE_MEMORY[cpu]
        reader.problem(
            "memory",
            memory,
            f"Fargate with cpu={cpu} accepts memory {allowed[0]}-{allowed[-1]} MiB "
            f"({', '.join(map(str, allowed))})",
        )
    desired = reader.integer("desiredCount", minimum=0, maximum=1000)
    low = reader.integer("minCount", minimum=0, maximum=1000)
    high = reader.integer("maxCount", minimum=1, maximum=1000)
    reader.require(
        low <= desired <= high,
        "desiredCount",
        desired,
        f"must satisfy minCount ({low}) ≤ desiredCount ≤ maxCount ({high})",
    )
    path = reader.string(
        "healthCheckPath",
        pattern=HTTP_PATH_PATTERN,
        allowed="an HTTP path starting with '/', e.g. /health",
    )
    drain = reader.integer(
        "deregistrationDelaySeconds",
        minimum=0,
        maximum=MAX_STOP_TIMEOUT_SECONDS - STOP_TIMEOUT_MARGIN_SECONDS,
    )
    environment = _read_environment_map(reader, "environment")
    secrets = _read_environment_map(reader, "secrets", value=_secret_arn_problem, mask_values=True)
    _refuse_taken_names(reader, "environment", environment)
    _refuse_taken_names(reader, "secrets", secrets, environment=environment)
    for name in sorted(n for n in environment if re.fullmatch(SECRET_LIKE_NAME, n)):
        if name in RESERVED_ENVIRONMENT:
            continue  # already reported as set by the service
        reader.problem(
            "environment",
            name,
            "looks like a secret: plain environment variables are visible in the task "
            "definition; use `secrets` (aws: a Secrets Manager/SSM ARN) or `localSecrets` (local)",
        )
    domain = reader.optional_string(
        "domain", pattern=DOMAIN_PATTERN, allowed="a lowercase host name like app.example.com"
    )
    certificate = reader.optional_string(
        "certificateArn",
        pattern=ACM_ARN,
        allowed="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
    )
    if certificate is not None and domain is None:
        reader.problem("domain", None, "required with certificateArn (the certificate's host)")
    fargate_spot = reader.boolean("fargateSpot")
    if fargate_spot and architecture == "arm64":
        reader.problem(
            "fargateSpot",
            True,
            "Fargate Spot runs x86_64 Linux tasks only: with architecture arm64, set "
            "fargateSpot: false (or architecture: x86_64)",
        )
    return ServiceSettings(
        container_port=port,
        cpu=cpu,
        memory=memory,
        cpu_architecture="ARM64" if architecture == "arm64" else "X86_64",
        desired_count=desired,
        min_count=low,
        max_count=high,
        cpu_target_percent=reader.integer("cpuTargetPercent", minimum=10, maximum=95),
        requests_per_target=reader.integer("requestsPerTarget", minimum=1, maximum=1_000_000),
        health_check_path=path,
        health_check_grace_period_seconds=reader.integer(
            "healthCheckGracePeriodSeconds", minimum=0, maximum=7200
        ),
        deregistration_delay_seconds=drain,
        log_retention_days=reader.integer("logRetentionDays", choices=LOG_RETENTION_DAYS),
        enable_execute_command=reader.boolean("enableExecuteCommand"),
        fargate_spot=fargate_spot,
        ingress_cidrs=reader.string_list("ingressCidrs", item=cidr_problem, min_items=1),
        domain=domain,
        certificate_arn=certificate,
        alb_deletion_protection=reader.boolean("albDeletionProtection"),
        environment=MappingProxyType(environment),
        secret_arns=MappingProxyType(secrets),
        secret_kms_key_arns=reader.string_list("secretsKmsKeyArns", item=_kms_key_problem),
    )


def _read_local(reader: ConfigReader, service: ServiceSettings) -> LocalSettings:
    ports = {key: reader.integer(key, minimum=1024, maximum=65535) for key in LOCAL_PORT_KEYS}
    for port in sorted(set(ports.values())):
        clashing = [key for key, value in ports.items() if value == port]
        if len(clashing) > 1:
            reader.problem(
                clashing[-1], port, f"host port already used by {', '.join(clashing[:-1])}"
            )
    cpus = reader.string(
        "localCpus", pattern=CPUS_PATTERN, allowed="a positive number of CPUs, e.g. 1 or 0.5"
    )
    if re.fullmatch(CPUS_PATTERN, cpus) and float(cpus) <= 0:
        reader.problem("localCpus", cpus, "must be positive, e.g. 1 or 0.5")
    secrets = _read_environment_map(reader, "localSecrets", mask_values=True)
    _refuse_taken_names(reader, "localSecrets", secrets, environment=service.environment)
    return LocalSettings(
        app_port=ports["localAppPort"],
        registry_port=ports["localRegistryPort"],
        prometheus_port=ports["localPrometheusPort"],
        grafana_port=ports["localGrafanaPort"],
        # The BEAM alone needs ~100 MiB; a smaller hard limit only produces OOM kills.
        memory_mb=reader.integer("localMemoryMb", minimum=128, maximum=1_048_576),
        cpus=cpus,
        log_max_size_mb=reader.integer("localLogMaxSizeMb", minimum=1, maximum=1024),
        log_max_files=reader.integer("localLogMaxFiles", minimum=1, maximum=100),
        grafana_admin_password=reader.secret("grafanaAdminPassword"),
        secrets=MappingProxyType(
            {name: pulumi.Output.secret(value) for name, value in secrets.items()}
        ),
    )


def _kms_key_problem(value: str) -> str | None:
    if re.fullmatch(KMS_KEY_ARN, value):
        return None
    return "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias"


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


def _read_monitoring(reader: ConfigReader) -> MonitoringSettings:
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
    )


def load(
    stack: str,
    values: Mapping[str, Any],
    *,
    secret_keys: Collection[str] = (),
    project_dir: Path = PROJECT_DIR,
) -> Settings:
    """Settings from a stack's raw values (CLI strings or native YAML values).

    Defaults come from ``Pulumi.yaml``. Raises :class:`ConfigError` listing every problem.
    """
    reader = ConfigReader(PROJECT_NAME, values, DECLARED_KEYS, secret_keys)
    target = reader.string("target", choices=TARGETS)
    app_name = reader.string(
        "appName",
        pattern=NAME_PATTERN,
        allowed="3-20 characters: lowercase letters, digits and '-', starting with a letter",
    )
    if target == "aws":
        room = MAX_LOAD_BALANCER_NAME - AUTONAME_SUFFIX_LENGTH - len(f"-{stack}-alb")
        reader.require(
            len(app_name) <= room,
            "appName",
            app_name,
            f"at most {room} characters for stack '{stack}': the load balancer's name "
            f"'<appName>-{stack}-alb-<suffix>' is limited to {MAX_LOAD_BALANCER_NAME}",
        )
    architecture = resolve_architecture(
        reader.string("architecture", choices=(*ARCHITECTURES, AUTO_ARCHITECTURE)), target
    )
    tags = reader.string_map("tags", name_pattern=r"[\w.:/=+\-@ ]{1,128}")
    service = _read_service(reader, architecture)
    settings = Settings(
        project=PROJECT_NAME,
        stack=stack,
        target="aws" if target == "aws" else "local",
        app_name=app_name,
        tags=MappingProxyType(
            {
                **tags,
                "app": app_name,
                "stack": stack,
                "managed-by": "pulumi",
                "project": PROJECT_NAME,
            }
        ),
        retain_on_delete=reader.boolean("retainOnDelete"),
        image=_read_image(reader, project_dir, architecture),
        registry=_read_registry(reader),
        network=_read_network(reader),
        service=service,
        local=_read_local(reader, service),
        monitoring=_read_monitoring(reader),
    )
    if target == "aws" and settings.local.secrets:
        reader.problem(
            "localSecrets",
            sorted(settings.local.secrets),
            "applies to the local target only; on aws give the app secrets through `secrets` "
            "(Secrets Manager or SSM ARNs)",
        )
    reader.check_unknown_keys(OBJECT_KEYS)
    reader.raise_if_problems()
    return settings


def from_pulumi() -> Settings:
    """Settings of the running stack, from the configuration the Pulumi CLI passed in."""
    values, secret_keys = current_stack_config(PROJECT_NAME)
    return load(pulumi.get_stack(), values, secret_keys=secret_keys)
