"""The app service's settings: size, scaling, health, load balancer, runtime config."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from config_reader import ConfigReader, cidr_problem
from settings.common import (
    ACM_ARN,
    DOMAIN_PATTERN,
    FARGATE_MEMORY,
    HOSTED_ZONE_ID,
    HTTP_PATH_PATTERN,
    LOG_RETENTION_DAYS,
    MAX_STOP_TIMEOUT_SECONDS,
    RESERVED_ENVIRONMENT,
    SECRET_LIKE_NAME,
    STOP_TIMEOUT_MARGIN_SECONDS,
    kms_key_problem,
    read_environment_map,
    refuse_taken_names,
    secret_arn_problem,
)
from settings.task_role import read_task_role_managed_policies, read_task_role_statements

LIVEVIEW_HEARTBEAT_SECONDS = 30
"""Phoenix's socket heartbeat: a LiveView client sends one every 30 s (phoenix.js
``heartbeatIntervalMs: 30000``); a load balancer idle timeout at or below it cuts idle sockets."""
ACM_COMMON_NAME_LENGTH = 64
"""ACM's RequestCertificate: a domain name (Common Name) of at most 64 characters."""
MAX_DOMAIN_ALIASES = 9
"""ACM's default quota of 10 names per certificate, domain included
(https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html)."""
IDLE_TIMEOUT_RANGE = (1, 4000)
"""What an ALB accepts for ``idle_timeout.timeout_seconds`` (botocore elbv2's documentation)."""
STICKINESS_RANGE = (1, 604_800)
"""What a target group accepts for ``stickiness.lb_cookie.duration_seconds`` (1 s to 1 week)."""


@dataclass(frozen=True)
class ServiceSettings:
    """The container service: size, scaling, health, load balancer and runtime config."""

    container_port: int
    cpu: int
    memory: int
    cpu_architecture: Literal["X86_64", "ARM64"]
    desired_count: int
    min_count: int
    max_count: int
    cpu_target_percent: int
    requests_per_target: int
    health_check_path: str
    health_check_grace_period_seconds: int
    deregistration_delay_seconds: int
    log_retention_days: int
    enable_execute_command: bool
    fargate_spot: bool
    on_demand_base: int
    """With Spot: tasks always on on-demand Fargate (0: all on Spot)."""
    ingress_cidrs: tuple[str, ...]
    domain: str | None
    certificate_arn: str | None
    """A certificate made elsewhere (exclusive with hosted_zone_id)."""
    hosted_zone_id: str | None
    """Route 53 public hosted zone of ``domain``: the stack issues and validates the certificate
    and points the domain at the load balancer."""
    domain_aliases: tuple[str, ...]
    """Other names of the app in the same zone (e.g. www.): on the certificate, pointed here."""
    alb_deletion_protection: bool
    load_balancer_idle_timeout_seconds: int
    """How long the load balancer keeps an idle connection (a LiveView socket) open."""
    stickiness_seconds: int | None
    """Sticky sessions (lb_cookie) this long; None - off."""
    task_role_statements: tuple[Mapping[str, Any], ...]
    """Extra IAM statements of the app's task role (its own AWS access)."""
    task_role_managed_policy_arns: tuple[str, ...]
    """Managed policies attached to the app's task role."""
    environment: Mapping[str, str]
    """Plain environment variables, sorted, no nulls."""
    secret_arns: Mapping[str, str]
    """Environment variable name -> Secrets Manager / SSM ARN, injected as ECS secrets."""
    secret_kms_key_arns: tuple[str, ...]
    clustering: bool
    """Connect the app's nodes (Cloud Map name, distribution port between tasks)."""
    alb_access_log_retention_days: int | None
    """Keep the load balancer's access logs this long (None: no access logs)."""
    distribution_port: int
    """The one port Erlang distribution listens on (no EPMD)."""
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
        return self.certificate_arn is not None or self.hosted_zone_id is not None


def read_service(reader: ConfigReader, architecture: str) -> ServiceSettings:
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
    environment = read_environment_map(reader, "environment")
    secrets = read_environment_map(reader, "secrets", value=secret_arn_problem, mask_values=True)
    refuse_taken_names(reader, "environment", environment)
    refuse_taken_names(reader, "secrets", secrets, environment=environment)
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
    zone = reader.optional_string(
        "hostedZoneId",
        pattern=HOSTED_ZONE_ID,
        allowed="a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ (without /hostedzone/)",
    )
    if zone is not None and domain is None:
        reader.problem(
            "domain", None, "required with hostedZoneId (the name the certificate and record get)"
        )
    if zone is not None and domain is not None and len(domain) > ACM_COMMON_NAME_LENGTH:
        reader.problem(
            "domain",
            domain,
            f"at most {ACM_COMMON_NAME_LENGTH} characters with hostedZoneId: ACM refuses a longer "
            "certificate name (its Common Name); use a shorter host or certificateArn",
        )
    if zone is not None and certificate is not None:
        reader.problem(
            "certificateArn",
            certificate,
            "set either hostedZoneId (the stack issues and validates a certificate for domain) "
            "or certificateArn (a certificate made elsewhere), not both",
        )
    aliases = reader.string_list(
        "domainAliases",
        item=lambda v: (
            None
            if re.fullmatch(DOMAIN_PATTERN, v)
            else "a lowercase host name like www.example.com"
        ),
    )
    if aliases and zone is None:
        reader.problem(
            "domainAliases",
            list(aliases),
            "needs hostedZoneId (the stack puts them on its certificate and in that zone); "
            "with certificateArn, point the names at loadBalancerDnsName yourself",
        )
    repeated = sorted({a for a in aliases if aliases.count(a) > 1 or a == domain})
    if repeated:
        reader.problem("domainAliases", repeated, "each name once, and not domain itself")
    if len(aliases) > MAX_DOMAIN_ALIASES:
        reader.problem(
            "domainAliases",
            f"<{len(aliases)} names>",
            f"at most {MAX_DOMAIN_ALIASES}: ACM's default quota is 10 names per certificate",
        )
    idle_low, idle_high = IDLE_TIMEOUT_RANGE
    idle_timeout = reader.integer("loadBalancerIdleTimeout", minimum=idle_low, maximum=idle_high)
    if idle_low <= idle_timeout <= LIVEVIEW_HEARTBEAT_SECONDS:
        reader.problem(
            "loadBalancerIdleTimeout",
            idle_timeout,
            f"must be above {LIVEVIEW_HEARTBEAT_SECONDS} s, Phoenix's socket heartbeat: the load "
            "balancer would close idle LiveView sockets before the next heartbeat "
            f"(allowed {LIVEVIEW_HEARTBEAT_SECONDS + 1}-{idle_high}; AWS default 60)",
        )
    sticky_low, sticky_high = STICKINESS_RANGE
    stickiness = reader.integer("loadBalancerStickinessSeconds", minimum=0, maximum=sticky_high)
    distribution_port = reader.integer("distributionPort", minimum=1024, maximum=65535)
    reader.require(
        distribution_port != port,
        "distributionPort",
        distribution_port,
        f"must differ from containerPort ({port})",
    )
    access_log_days = reader.integer("albAccessLogRetentionDays", minimum=1, maximum=3650)
    fargate_spot = reader.boolean("fargateSpot")
    if fargate_spot and architecture == "arm64":
        reader.problem(
            "fargateSpot",
            True,
            "Fargate Spot runs x86_64 Linux tasks only: with architecture arm64, set "
            "fargateSpot: false (or architecture: x86_64)",
        )
    on_demand_base = reader.integer("fargateOnDemandBase", minimum=0, maximum=100)
    if on_demand_base == 0 and not fargate_spot:
        reader.problem(
            "fargateOnDemandBase",
            0,
            "0 puts every task on Fargate Spot: set fargateSpot: true as well (or keep 1)",
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
        on_demand_base=on_demand_base,
        ingress_cidrs=reader.string_list("ingressCidrs", item=cidr_problem, min_items=1),
        domain=domain,
        certificate_arn=certificate,
        hosted_zone_id=zone,
        domain_aliases=aliases,
        alb_deletion_protection=reader.boolean("albDeletionProtection"),
        load_balancer_idle_timeout_seconds=idle_timeout,
        stickiness_seconds=stickiness if stickiness >= sticky_low else None,
        task_role_statements=read_task_role_statements(reader),
        task_role_managed_policy_arns=read_task_role_managed_policies(reader),
        environment=MappingProxyType(environment),
        secret_arns=MappingProxyType(secrets),
        secret_kms_key_arns=reader.string_list("secretsKmsKeyArns", item=kms_key_problem),
        clustering=reader.boolean("clustering"),
        alb_access_log_retention_days=access_log_days if reader.boolean("albAccessLogs") else None,
        distribution_port=distribution_port,
    )
