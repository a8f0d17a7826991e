"""AWS's own limits on every input the program registers, as one table (issue #9).

Mocks accept any value; AWS does not. Each row of :data:`ROWS` maps one input of one pulumi-aws
resource type (by its wire name, with a small path syntax for nested values) to what AWS
accepts there:

- ``api``: the AWS API member the provider sends the value to, as botocore models it
  (``service``, ``shape``, ``member``). Its ``min``/``max``/``pattern``/``enum`` are checked.
- ``docs``: limits that only AWS's documentation states (EC2 description characters, ALB name
  rules, alarm periods, log retention values, policy sizes...), each with its source. Where the
  source is a sentence in botocore's documentation string or in pulumi-aws's docstrings,
  ``quote`` holds it and a test proves it still says so.
- ``autoname``: for a ``name`` the program leaves out, how Pulumi makes one up, so the name AWS
  will really see is checked (see :class:`Autoname`).
- ``note``: why an input needs no check (a boolean, a value the provider translates), so that
  every scalar input of every registered resource is accounted for.

Path syntax: ``a.b`` nested object, ``a[]`` each list item, ``a.*key`` / ``a.*value`` each key /
value of a map (tags, dimensions), ``a.@json`` the JSON document inside a string, and ``""`` the
whole resource (for rules across inputs).

:func:`check` runs the table over recorded resources and returns every problem at once: a limit
broken, an AWS type the table does not know, or an input of a known type no row accounts for.
"""

from __future__ import annotations

import collections.abc
import functools
import html
import html.parser
import importlib
import inspect
import ipaddress
import json
import keyword
import re
import types
import typing
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore.model
import botocore.session
import pulumi
import pulumi._types as pulumi_types
import regress

# -- what is out of scope ---------------------------------------------------------------------

OUT_OF_SCOPE: dict[str, str] = {
    "docker:": "the Docker provider talks to a Docker engine (local target, image builds), not AWS",
    "random:": "pulumi-random makes values locally; nothing reaches an AWS API",
    "elixir-devops:": "this program's own component resources; they register no cloud object",
    "pulumi:": "engine resources (stack, providers)",
}
"""Type-token prefixes the table deliberately does not cover, and why. Any other type,
``aws:`` or not, must have rows."""

# -- sources ----------------------------------------------------------------------------------

PULUMI_AWS_AUTONAMING = (
    "pulumi-aws provider/autonaming.go: every resource with a `name` input gets "
    "tfbridge.AutoName(name, 255, '-'), i.e. logical name + '-' + 7 random hex characters, "
    "unless provider/resource_overrides.go or aliases.go set another maximum "
    "(https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming)"
)
PULUMI_AWS_OVERRIDE = "pulumi-aws provider/resource_overrides.go"
NAME_PREFIX_SOURCE = (
    "terraform-plugin-sdk helper/id PrefixedUniqueId: prefix + 26 digits "
    "(UniqueIDSuffixLength); Pulumi fills no `name` when `namePrefix` is set "
    "(https://github.com/pulumi/pulumi-aws/issues/143)"
)
TAGGING = "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html"
EC2_SG = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
EC2_RULES = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
VPC_CIDR = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html"
ELB_LIMITS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"
)
ELB_HEALTH = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
ECR_TAGS = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-using-tags.html"
ECR_LIFECYCLE = (
    "https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html"
)
IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
KMS_QUOTAS = "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html"
SNS_POLICY = "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html"
SNS_TOPIC = "https://docs.aws.amazon.com/sns/latest/dg/sns-create-topic.html"
CW_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"
CW_STATISTICS = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html"
)
FARGATE_SIZES = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size"

# -- references into botocore and into documentation -----------------------------------------

_SESSION = botocore.session.get_session()


@functools.cache
def _model(service: str) -> botocore.model.ServiceModel:
    return _SESSION.get_service_model(service)


@dataclass(frozen=True)
class Api:
    """An AWS API member as botocore models it: ``member`` of structure ``shape`` in ``service``
    (``key``/``value`` of a map shape, ``member`` of a list shape)."""

    service: str
    shape: str
    member: str

    def target(self) -> botocore.model.Shape:
        shape = _model(self.service).shape_for(self.shape)
        if isinstance(shape, botocore.model.StructureShape):
            return _members(shape)[self.member]
        if isinstance(shape, botocore.model.MapShape) and self.member in ("key", "value"):
            return typing.cast(botocore.model.Shape, getattr(shape, self.member))
        if isinstance(shape, botocore.model.ListShape) and self.member == "member":
            return typing.cast(botocore.model.Shape, shape.member)
        raise KeyError(f"{self.shape} has no member {self.member}")

    def constraints(self) -> dict[str, Any]:
        """The member's ``min``, ``max`` and ``pattern`` (botocore's metadata)."""
        return typing.cast(dict[str, Any], self.target().metadata)

    def source(self) -> str:
        version = _model(self.service).api_version
        return f"botocore {self.service} {version} {self.shape}.{self.member}"

    def documentation(self) -> str:
        shape = _model(self.service).shape_for(self.shape)
        raw = self.target().documentation or ""
        if isinstance(shape, botocore.model.StructureShape):
            raw = raw or _members(shape)[self.member].documentation or ""
        return _text(raw)


def _members(shape: botocore.model.StructureShape) -> Mapping[str, botocore.model.Shape]:
    # botocore declares members as a cached property, which pyright cannot see through.
    return typing.cast(Mapping[str, botocore.model.Shape], shape.members)


class _TextOnly(html.parser.HTMLParser):
    BLOCKS = frozenset({"p", "li", "ul", "ol", "br", "dd", "dt", "dl", "note", "important"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append(" ")


def _text(markup: str) -> str:
    """Botocore's HTML documentation as plain text, whitespace collapsed."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


@dataclass(frozen=True)
class Quote:
    """A sentence that must appear in a botocore documentation string (``api``) or in the
    docstring of a pulumi-aws argument (``pulumi`` = (type token, wire name))."""

    text: str
    api: Api | None = None
    pulumi: tuple[str, str] | None = None

    def found_in(self) -> str:
        if self.api is not None:
            return self.api.documentation()
        if self.pulumi is not None:
            token, wire_name = self.pulumi
            args = pulumi_args_class(token)
            for py_name, name in _input_names(args).items():
                if name == wire_name:
                    return " ".join((inspect.getdoc(getattr(args, py_name)) or "").split())
        return ""


@dataclass(frozen=True)
class Doc:
    """A limit only AWS's documentation states: ``rule`` in words, ``source`` where it is
    written, ``accepts`` the test of one value."""

    rule: str
    source: str
    accepts: Callable[[Any], bool]
    quote: Quote | None = None


@dataclass(frozen=True)
class Autoname:
    """How Pulumi names a resource whose ``name`` the program leaves out: logical name + '-' +
    7 hex characters, refused by the provider itself beyond ``maxlen``; with ``namePrefix``,
    the prefix + 26 digits (terraform's PrefixedUniqueId)."""

    maxlen: int
    source: str = PULUMI_AWS_AUTONAMING


@dataclass(frozen=True)
class Row:
    """One input (``path``) of one resource type and what AWS accepts there."""

    type: str
    path: str
    api: Api | None = None
    docs: tuple[Doc, ...] = ()
    autoname: Autoname | None = None
    note: str = ""


# -- documented rules -------------------------------------------------------------------------


def _chars(pattern: str, *, at_most: int) -> Callable[[Any], bool]:
    compiled = re.compile(f"[{pattern}]{{0,{at_most}}}")
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: _is_number(v) and low <= float(v) <= high


def _one_of(*allowed: Any) -> Callable[[Any], bool]:
    return lambda v: v in allowed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def _size_without_whitespace(value: Any) -> int:
    return len(re.sub(r"\s", "", value)) if isinstance(value, str) else 0


def _utf8_size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


EC2_TEXT_CHARS = r"a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*"
EC2_DESCRIPTION = Doc(
    "EC2 accepts only a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* in a security group "
    "(rule) description, at most 255 characters",
    EC2_SG,
    _chars(EC2_TEXT_CHARS, at_most=255),
    Quote(
        "Allowed characters are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
        api=Api("ec2", "IpRange", "Description"),
    ),
)
EC2_SG_DESCRIPTION = Doc(
    EC2_DESCRIPTION.rule,
    EC2_SG,
    EC2_DESCRIPTION.accepts,
    Quote(
        "Valid characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
        api=Api("ec2", "CreateSecurityGroupRequest", "Description"),
    ),
)
EC2_GROUP_NAME = Doc(
    "a security group name: at most 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*, "
    "not starting with sg-",
    EC2_SG,
    lambda v: _chars(EC2_TEXT_CHARS, at_most=255)(v) and not v.lower().startswith("sg-"),
    Quote("Can't start with sg-", api=Api("ec2", "CreateSecurityGroupRequest", "GroupName")),
)


def _cidr_between(low: int, high: int) -> Callable[[Any], bool]:
    def accepts(value: Any) -> bool:
        try:
            network = ipaddress.IPv4Network(value)
        except (ValueError, TypeError):
            return False
        return low <= network.prefixlen <= high

    return accepts


VPC_CIDR_SIZE = Doc("an IPv4 CIDR block between /16 and /28", VPC_CIDR, _cidr_between(16, 28))
IPV4_CIDR = Doc("an IPv4 CIDR block", EC2_RULES, _cidr_between(0, 32))
PORT_OR_ALL = Doc(
    "a port 0-65535, or -1 (all) for ICMP and all protocols", EC2_RULES, _between(-1, 65535)
)
IP_PROTOCOL = Doc(
    "tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0-255",
    EC2_RULES,
    lambda v: (
        v in ("tcp", "udp", "icmp", "icmpv6", "-1")
        or (isinstance(v, str) and v.isdigit() and int(v) <= 255)
    ),
    Quote(
        "The IP protocol name (tcp, udp, icmp, icmpv6) or number",
        api=Api("ec2", "IpPermission", "IpProtocol"),
    ),
)


def _ports_in_order(rule: Any) -> bool:
    low, high = rule.get("fromPort"), rule.get("toPort")
    return low is None or high is None or float(low) <= float(high) or float(low) == -1


FROM_PORT_NOT_ABOVE_TO_PORT = Doc("fromPort must not exceed toPort", EC2_RULES, _ports_in_order)

TAG_KEY_NOT_RESERVED = Doc(
    "tag keys must not start with aws: (reserved for AWS)",
    TAGGING,
    lambda v: isinstance(v, str) and not v.lower().startswith("aws:"),
)
AT_MOST_50_TAGS = Doc("at most 50 user tags per resource", TAGGING, lambda v: len(v) <= 50)
TAG_CHARS = r"\w\s+\-=._:/@"
TAG_KEY_DOCUMENTED = Doc(
    "tag keys: 1-128 letters, numbers, spaces and _ . : / = + - @",
    TAGGING,
    lambda v: isinstance(v, str) and 1 <= len(v) <= 128 and _chars(TAG_CHARS, at_most=128)(v),
)
TAG_VALUE_DOCUMENTED = Doc(
    "tag values: at most 256 letters, numbers, spaces and _ . : / = + - @",
    TAGGING,
    _chars(TAG_CHARS, at_most=256),
)
EC2_TAG_KEY = Doc(
    "EC2 tag keys: at most 127 characters",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html",
    lambda v: isinstance(v, str) and 1 <= len(v) <= 127,
    Quote("accept a maximum of 127 Unicode characters", api=Api("ec2", "Tag", "Key")),
)
EC2_TAG_VALUE = Doc(
    "EC2 tag values: at most 256 characters",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html",
    lambda v: isinstance(v, str) and len(v) <= 256,
    Quote("accept a maximum of 256 Unicode characters", api=Api("ec2", "Tag", "Value")),
)

LB_NAME = Doc(
    "a load balancer name: at most 32 alphanumeric characters or hyphens, not beginning or "
    "ending with a hyphen, not beginning with internal-",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    lambda v: (
        isinstance(v, str)
        and re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?", v) is not None
        and not v.startswith("internal-")
    ),
    Quote(
        'must not begin or end with a hyphen, and must not begin with "internal-"',
        api=Api("elbv2", "CreateLoadBalancerInput", "Name"),
    ),
)
TG_NAME = Doc(
    "a target group name: at most 32 alphanumeric characters or hyphens, not beginning or "
    "ending with a hyphen",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    lambda v: (
        isinstance(v, str)
        and re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?", v) is not None
    ),
    Quote(
        "can have a maximum of 32 characters, must contain only alphanumeric characters or "
        "hyphens, and must not begin or end with a hyphen",
        api=Api("elbv2", "CreateTargetGroupInput", "Name"),
    ),
)
TG_NAME_PREFIX = Doc(
    "a target group namePrefix: at most 6 characters (the provider adds 26)",
    "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lb_target_group",
    lambda v: isinstance(v, str) and len(v) <= 6,
    Quote(
        "Cannot be longer than 6 characters.",
        pulumi=("aws:lb/targetGroup:TargetGroup", "namePrefix"),
    ),
)
DEREGISTRATION_DELAY = Doc(
    "deregistration delay: 0-3600 seconds",
    ELB_HEALTH,
    _between(0, 3600),
    Quote(
        "deregistration_delay.timeout_seconds - The amount of time, in seconds, for Elastic "
        "Load Balancing to wait before changing the state of a deregistering target from "
        "draining to unused. The range is 0-3600 seconds.",
        api=Api("elbv2", "TargetGroupAttribute", "Key"),
    ),
)
SLOW_START = Doc(
    "slow start: 0 (off) or 30-900 seconds",
    ELB_HEALTH,
    lambda v: _is_number(v) and (float(v) == 0 or 30 <= float(v) <= 900),
    Quote(
        "The range is 30-900 seconds (15 minutes).", api=Api("elbv2", "TargetGroupAttribute", "Key")
    ),
)
IDLE_TIMEOUT = Doc(
    "load balancer idle timeout: 1-4000 seconds",
    ELB_LIMITS,
    _between(1, 4000),
    Quote(
        "idle_timeout.timeout_seconds - The idle timeout value, in seconds. The valid range "
        "is 1-4000 seconds.",
        api=Api("elbv2", "LoadBalancerAttribute", "Key"),
    ),
)
LB_SECURITY_GROUPS = Doc(
    "at most 5 security groups per load balancer", ELB_LIMITS, lambda v: len(v) <= 5
)
HEALTH_CHECK_MATCHER = Doc(
    "ALB health check success codes: HTTP codes 200-499, as a list (200,202) or a range (200-299)",
    ELB_HEALTH,
    lambda v: (
        isinstance(v, str)
        and all(
            re.fullmatch(r"\d{3}(-\d{3})?", part) is not None
            and all(200 <= int(code) <= 499 for code in part.split("-"))
            for part in v.split(",")
        )
    ),
    Quote(
        "For Application Load Balancers, you can specify values between 200 and 499",
        api=Api("elbv2", "Matcher", "HttpCode"),
    ),
)
HEALTH_CHECK_PORT = Doc(
    "health check port: traffic-port or 1-65535",
    ELB_HEALTH,
    lambda v: v == "traffic-port" or (isinstance(v, str) and v.isdigit() and 1 <= int(v) <= 65535),
    Quote(
        "the default is traffic-port", api=Api("elbv2", "CreateTargetGroupInput", "HealthCheckPort")
    ),
)
HEALTH_CHECK_TIMEOUT_BELOW_INTERVAL = Doc(
    "health check timeout must be smaller than the interval",
    ELB_HEALTH,
    lambda hc: (
        "timeout" not in hc or "interval" not in hc or float(hc["timeout"]) < float(hc["interval"])
    ),
)
REDIRECT_PORT = Doc(
    "redirect port: 1-65535 or #{port}",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html",
    lambda v: v == "#{port}" or (isinstance(v, str) and v.isdigit() and 1 <= int(v) <= 65535),
    Quote(
        "You can specify a value from 1 to 65535 or #{port}.",
        api=Api("elbv2", "RedirectActionConfig", "Port"),
    ),
)
PATH_PATTERN = Doc(
    "a path pattern of at most 128 characters (case sensitive; wildcards * and ?)",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html",
    lambda v: isinstance(v, str) and 0 < len(v) <= 128,
    Quote(
        "The maximum length of each string is 128 characters.",
        api=Api("elbv2", "PathPatternConditionConfig", "Values"),
    ),
)
FIXED_RESPONSE_CONTENT_TYPE = Doc(
    "text/plain, text/css, text/html, application/javascript or application/json",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_FixedResponseActionConfig.html",
    _one_of("text/plain", "text/css", "text/html", "application/javascript", "application/json"),
    Quote(
        "Valid Values: text/plain | text/css | text/html | application/javascript | "
        "application/json",
        api=Api("elbv2", "FixedResponseActionConfig", "ContentType"),
    ),
)
RULE_VALUES_PER_CONDITION = Doc(
    "at most 5 match evaluations (condition values) per rule",
    ELB_LIMITS,
    lambda v: isinstance(v, list) and 0 < len(v) <= 5,
)

_ECS_NAME_SENTENCE = (
    "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
)


def _ecs_name(shape: str, member: str) -> Doc:
    """ECS's name rule, quoted from the member's own documentation."""
    return Doc(
        "up to 255 letters, numbers, underscores and hyphens",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html",
        lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,255}", v) is not None,
        Quote(_ECS_NAME_SENTENCE, api=Api("ecs", shape, member)),
    )


ECS_NAME = _ecs_name("CreateServiceRequest", "serviceName")
ECS_CLUSTER_NAME = _ecs_name("CreateClusterRequest", "clusterName")
ECS_FAMILY = _ecs_name("RegisterTaskDefinitionRequest", "family")
CONTAINER_INSIGHTS = Doc(
    "containerInsights: enhanced, enabled or disabled",
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ClusterSetting.html",
    _one_of("enhanced", "enabled", "disabled"),
    Quote(
        "The supported values are enhanced, enabled, and disabled.",
        api=Api("ecs", "ClusterSetting", "value"),
    ),
)
AT_MOST_16_SUBNETS = Doc(
    "at most 16 subnets",
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html",
    lambda v: len(v) <= 16,
    Quote(
        "There's a limit of 16 subnets that can be specified.",
        api=Api("ecs", "AwsVpcConfiguration", "subnets"),
    ),
)
AT_MOST_5_SECURITY_GROUPS = Doc(
    "at most 5 security groups",
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html",
    lambda v: len(v) <= 5,
    Quote(
        "There's a limit of 5 security groups that can be specified.",
        api=Api("ecs", "AwsVpcConfiguration", "securityGroups"),
    ),
)
FARGATE_MEMORY_FOR_CPU: dict[int, Collection[int]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}
"""Fargate task sizes as the ECS documentation lists them (256 CPU: 512, 1024, 2048 MiB)."""


def _fargate_size(task: Any) -> bool:
    if "FARGATE" not in (task.get("requiresCompatibilities") or []):
        return True
    cpu, memory = str(task.get("cpu", "")), str(task.get("memory", ""))
    if not (cpu.isdigit() and memory.isdigit()):
        return False
    return int(memory) in FARGATE_MEMORY_FOR_CPU.get(int(cpu), ())


FARGATE_TASK_SIZE = Doc(
    "a Fargate task's cpu and memory must be a listed combination (256: 512/1024/2048 MiB; "
    "512: 1-4 GiB; 1024: 2-8 GiB; 2048: 4-16 GiB; 4096: 8-30 GiB; 8192: 16-60 GiB by 4; "
    "16384: 32-120 GiB by 8)",
    FARGATE_SIZES,
    _fargate_size,
    Quote(
        "512 (0.5 GB), 1024 (1 GB), 2048 (2 GB) - Available cpu values: 256 (.25 vCPU)",
        api=Api("ecs", "RegisterTaskDefinitionRequest", "memory"),
    ),
)

LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
LOG_RETENTION = Doc(
    "CloudWatch Logs retention: one of " + ", ".join(map(str, LOG_RETENTION_DAYS)) + " days",
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html",
    lambda v: _is_integer(v) and int(v) in LOG_RETENTION_DAYS,
    Quote(
        "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
        "1096, 1827, 2192, 2557, 2922, 3288, and 3653.",
        api=Api("logs", "PutRetentionPolicyRequest", "retentionInDays"),
    ),
)

ALARM_PERIOD = Doc(
    "an alarm period: 10, 20, 30 or a multiple of 60 seconds",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    lambda v: _is_integer(v) and (int(v) in (10, 20, 30) or (int(v) > 0 and int(v) % 60 == 0)),
    Quote(
        "Valid values are 10, 20, 30, and any multiple of 60.",
        api=Api("cloudwatch", "PutMetricAlarmInput", "Period"),
    ),
)


def _alarm_window(alarm: Any) -> bool:
    periods = [alarm.get("period")] + [
        (query.get("metric") or {}).get("period") for query in alarm.get("metricQueries") or []
    ]
    known = [float(p) for p in periods if _is_number(p)]
    evaluations = alarm.get("evaluationPeriods")
    if not known or not _is_number(evaluations):
        return True
    period = max(known)
    window = period * float(evaluations)
    return window <= 604_800 and (period >= 3600 or window <= 86_400)


ALARM_WINDOW = Doc(
    "period x evaluationPeriods: at most 604,800 s, and at most 86,400 s for periods under an hour",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    _alarm_window,
    Quote(
        "For alarms with a period of less than one hour (3,600 seconds), the total evaluation "
        "period can't be longer than one day (86,400 seconds).",
        api=Api("cloudwatch", "PutMetricAlarmInput", "Period"),
    ),
)
DATAPOINTS_WITHIN_EVALUATION = Doc(
    "datapointsToAlarm must not exceed evaluationPeriods (M out of N)",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html",
    lambda a: (
        "datapointsToAlarm" not in a
        or "evaluationPeriods" not in a
        or float(a["datapointsToAlarm"]) <= float(a["evaluationPeriods"])
    ),
)
TREAT_MISSING_DATA = Doc(
    "treatMissingData: breaching, notBreaching, ignore or missing",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    _one_of("breaching", "notBreaching", "ignore", "missing"),
    Quote(
        "Valid Values: breaching | notBreaching | ignore | missing",
        api=Api("cloudwatch", "PutMetricAlarmInput", "TreatMissingData"),
    ),
)
LOW_SAMPLE_COUNT = Doc(
    "evaluateLowSampleCountPercentile: evaluate or ignore",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    _one_of("evaluate", "ignore"),
    Quote(
        "Valid Values: evaluate | ignore",
        api=Api("cloudwatch", "PutMetricAlarmInput", "EvaluateLowSampleCountPercentile"),
    ),
)
_PERCENTILE = r"(?:p|tm|tc|ts|wm)(?:100|\d{1,2}(?:\.\d{1,10})?)"
_RANGE_STATISTIC = r"(?:TM|TC|TS|WM|PR)\([^()]*\)"
EXTENDED_STATISTIC = Doc(
    "an extended statistic: p90, tm90, tc90, ts90, wm90, IQM or TM(X%:X%)-style ranges",
    CW_STATISTICS,
    lambda v: (
        isinstance(v, str) and re.fullmatch(f"{_PERCENTILE}|IQM|{_RANGE_STATISTIC}", v) is not None
    ),
    Quote(
        "If you specify ExtendedStatistic, the following are valid values: p90 tm90 tc90 ts90 "
        "wm90 IQM",
        api=Api("cloudwatch", "PutMetricAlarmInput", "ExtendedStatistic"),
    ),
)
STAT = Doc(
    "a statistic: SampleCount, Average, Sum, Minimum, Maximum or an extended statistic",
    CW_STATISTICS,
    lambda v: (
        v in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
        or EXTENDED_STATISTIC.accepts(v)
    ),
    Quote(
        "It can include any CloudWatch statistic or extended statistic.",
        api=Api("cloudwatch", "MetricStat", "Stat"),
    ),
)
METRIC_QUERY_ID = Doc(
    "a metric query id: letters, numbers and underscores, starting with a lowercase letter",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html",
    lambda v: isinstance(v, str) and re.fullmatch(r"[a-z][A-Za-z0-9_]*", v) is not None,
    Quote(
        "The valid characters are letters, numbers, and underscore. The first character must "
        "be a lowercase letter.",
        api=Api("cloudwatch", "MetricDataQuery", "Id"),
    ),
)
DASHBOARD_NAME = Doc(
    "a dashboard name: at most 255 of A-Z, a-z, 0-9, - and _",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,255}", v) is not None,
    Quote(
        'The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_".',
        api=Api("cloudwatch", "PutDashboardInput", "DashboardName"),
    ),
)
DASHBOARD_WIDGETS = Doc("at most 500 widgets per dashboard", CW_QUOTAS, lambda v: len(v) <= 500)
WIDGET_METRICS = Doc(
    "at most 500 metrics per dashboard widget",
    CW_QUOTAS,
    lambda w: len((w.get("properties") or {}).get("metrics") or []) <= 500,
)


def _dashboard_metrics(body: Any) -> int:
    return sum(
        len((widget.get("properties") or {}).get("metrics") or [])
        for widget in body.get("widgets") or []
    )


DASHBOARD_METRICS = Doc(
    "at most 2,500 metrics per dashboard, across all widgets",
    CW_QUOTAS,
    lambda body: _dashboard_metrics(body) <= 2500,
)

IAM_TRUST_POLICY_SIZE = Doc(
    "a role trust policy: at most 2,048 characters, white space not counted (the default quota)",
    IAM_QUOTAS,
    lambda v: _size_without_whitespace(v) <= 2048,
)
IAM_INLINE_POLICY_SIZE = Doc(
    "a role's inline policies: at most 10,240 characters in total, white space not counted",
    IAM_QUOTAS,
    lambda v: _size_without_whitespace(v) <= 10_240,
)
IAM_MANAGED_POLICY_SIZE = Doc(
    "a customer-managed policy: at most 6,144 characters, white space not counted",
    IAM_QUOTAS,
    lambda v: _size_without_whitespace(v) <= 6_144,
)
KMS_ALIAS_NAME = Doc(
    "alias/<name>, never alias/aws/ (reserved for AWS managed keys)",
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    lambda v: isinstance(v, str) and v.startswith("alias/") and not v.startswith("alias/aws/"),
)
KMS_KEY_POLICY_SIZE = Doc(
    "a key policy: at most 32 KB (32,768 bytes)", KMS_QUOTAS, lambda v: _utf8_size(v) <= 32_768
)
KMS_DELETION_WINDOW = Doc(
    "a key deletion waiting period: 7-30 days",
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html",
    lambda v: _is_integer(v) and 7 <= float(v) <= 30,
    Quote(
        "If you include a value, it must be between 7 and 30, inclusive.",
        api=Api("kms", "ScheduleKeyDeletionRequest", "PendingWindowInDays"),
    ),
)

SECRET_NAME = Doc(
    "a secret name: ASCII letters, numbers and /_+=.@-",
    "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
    # The same page advises against ending in a hyphen + 6 characters; AWS accepts such names.
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9/_+=.@-]+", v) is not None,
    Quote(
        "The secret name can contain ASCII letters, numbers, and the following characters: /_+=.@-",
        api=Api("secretsmanager", "CreateSecretRequest", "Name"),
    ),
)
SECRET_RECOVERY_WINDOW = Doc(
    "a recovery window: 7-30 days, or 0 to delete without recovery",
    "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html",
    lambda v: _is_integer(v) and (float(v) == 0 or 7 <= float(v) <= 30),
    Quote(
        "The number of days from 7 to 30 that Secrets Manager waits before permanently "
        "deleting the secret.",
        api=Api("secretsmanager", "DeleteSecretRequest", "RecoveryWindowInDays"),
    ),
)

SNS_TOPIC_NAME = Doc(
    "a topic name: 1-256 ASCII letters, numbers, underscores and hyphens",
    "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v) is not None,
    Quote(
        "Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, "
        "underscores, and hyphens, and must be between 1 and 256 characters long.",
        api=Api("sns", "CreateTopicInput", "Name"),
    ),
)
SNS_DISPLAY_NAME = Doc(
    "a topic display name: at most 100 characters",
    SNS_TOPIC,
    lambda v: isinstance(v, str) and len(v) <= 100,
)
SNS_POLICY_SIZE = Doc(
    "a topic policy: at most 30 KB", SNS_POLICY, lambda v: _utf8_size(v) <= 30 * 1024
)
SNS_POLICY_STATEMENTS = Doc(
    "a topic policy: at most 100 statements", SNS_POLICY, lambda v: len(v) <= 100
)
SNS_PROTOCOL = Doc(
    "a subscription protocol: http, https, email, email-json, sms, sqs, application, lambda "
    "or firehose",
    "https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html",
    _one_of(
        "http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"
    ),
    Quote("Supported protocols include: http", api=Api("sns", "SubscribeInput", "Protocol")),
)


def _endpoint_fits_protocol(subscription: Any) -> bool:
    protocol, endpoint = subscription.get("protocol"), subscription.get("endpoint")
    if not isinstance(endpoint, str):
        return True
    expected = {
        "http": lambda e: e.startswith("http://"),
        "https": lambda e: e.startswith("https://"),
        "email": lambda e: "@" in e,
        "email-json": lambda e: "@" in e,
        "sqs": lambda e: e.startswith("arn:") and ":sqs:" in e,
        "lambda": lambda e: e.startswith("arn:") and ":lambda:" in e,
        "firehose": lambda e: e.startswith("arn:") and ":firehose:" in e,
    }.get(str(protocol))
    return expected is None or expected(endpoint)


SNS_ENDPOINT = Doc(
    "a subscription endpoint of its protocol's kind (https URL, e-mail address, SQS ARN...)",
    "https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html",
    _endpoint_fits_protocol,
    Quote(
        "For the https protocol, the (public) endpoint is a URL beginning with https://",
        api=Api("sns", "SubscribeInput", "Endpoint"),
    ),
)

_LIFECYCLE_SELECTION = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "countType",
    "countUnit",
    "countNumber",
}


def _lifecycle_rule(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False
    selection, action = rule.get("selection") or {}, rule.get("action") or {}
    count_type = selection.get("countType")
    return (
        _is_integer(rule.get("rulePriority"))
        and rule["rulePriority"] >= 1
        and isinstance(rule.get("description", ""), str)
        and set(selection) <= _LIFECYCLE_SELECTION
        and selection.get("tagStatus") in ("tagged", "untagged", "any")
        and (
            selection.get("tagStatus") != "tagged"
            or bool(selection.get("tagPrefixList") or selection.get("tagPatternList"))
        )
        and count_type in ("imageCountMoreThan", "sinceImagePushed")
        and (selection.get("countUnit") == "days") == (count_type == "sinceImagePushed")
        and _is_integer(selection.get("countNumber"))
        and selection["countNumber"] >= 1
        and action.get("type") == "expire"
    )


ECR_LIFECYCLE_RULE = Doc(
    "an ECR lifecycle rule: rulePriority >= 1, tagStatus tagged|untagged|any (tagged needs "
    "tagPrefixList or tagPatternList), countType imageCountMoreThan|sinceImagePushed (countUnit "
    "days only with sinceImagePushed), countNumber >= 1, action type expire",
    ECR_LIFECYCLE,
    _lifecycle_rule,
)


def _lifecycle_priorities(rules: Any) -> bool:
    priorities = [r.get("rulePriority") for r in rules]
    any_rules = [
        r.get("rulePriority") for r in rules if (r.get("selection") or {}).get("tagStatus") == "any"
    ]
    return len(set(priorities)) == len(priorities) and all(p == max(priorities) for p in any_rules)


ECR_LIFECYCLE_PRIORITIES = Doc(
    "ECR lifecycle rules: unique rulePriority values; a tagStatus any rule has the highest",
    ECR_LIFECYCLE,
    _lifecycle_priorities,
)
ECR_TAG_KEY = Doc(TAG_KEY_DOCUMENTED.rule, ECR_TAGS, TAG_KEY_DOCUMENTED.accepts)
ECR_TAG_VALUE = Doc(TAG_VALUE_DOCUMENTED.rule, ECR_TAGS, TAG_VALUE_DOCUMENTED.accepts)

# -- the table --------------------------------------------------------------------------------

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
IGW = "aws:ec2/internetGateway:InternetGateway"
EIP = "aws:ec2/eip:Eip"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
KMS_KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CLUSTER = "aws:ecs/cluster:Cluster"
CAPACITY_PROVIDERS = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
PROMETHEUS = "aws:amp/workspace:Workspace"
DB_INSTANCE = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
RULE_GROUPS = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"
ALERT_MANAGER = "aws:amp/alertManagerDefinition:AlertManagerDefinition"
FUNCTION = "aws:lambda/function:Function"
FUNCTION_PERMISSION = "aws:lambda/permission:Permission"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DNS_NAMESPACE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
DISCOVERY_SERVICE = "aws:servicediscovery/service:Service"
DB_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
DB_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
GRAFANA = "aws:grafana/workspace:Workspace"
MANAGED_POLICY = "aws:iam/policy:Policy"
KMS_ALIAS = "aws:kms/alias:Alias"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


@dataclass(frozen=True)
class Note:
    """Why an input needs no check."""

    why: str


BOOLEAN = Note("a boolean; AWS accepts either value")
PROVIDER_ONLY = Note("read by the provider itself; never sent to AWS")
NAME_PREFIX = Note("checked through the name it produces (the `name` row)")
CONTAINER_DEFINITIONS = Note(
    "validated as a whole against botocore's ECS model by tests/test_aws_program.py and "
    "tests/test_monitoring_aws.py"
)
DEFAULT_NAME = Autoname(255)

Part = str | Doc | Note | Autoname
Spec = Part | tuple[Part, ...]
"""A row in short: ``"Shape.member"`` (or ``"service:Shape.member"``) for the API member,
then any documented limits, a Note, or how Pulumi auto-names it."""


@dataclass(frozen=True)
class TagSpec:
    """Where a service's tag keys and values go, and what its documentation adds."""

    key: str
    value: str
    count: str | None = None
    key_docs: tuple[Doc, ...] = ()
    value_docs: tuple[Doc, ...] = ()


TAGS: dict[str, TagSpec] = {
    "ec2": TagSpec("Tag.Key", "Tag.Value", None, (EC2_TAG_KEY,), (EC2_TAG_VALUE,)),
    "ecr": TagSpec("Tag.Key", "Tag.Value", None, (ECR_TAG_KEY,), (ECR_TAG_VALUE,)),
    "kms": TagSpec("Tag.TagKey", "Tag.TagValue"),
    "sns": TagSpec("Tag.Key", "Tag.Value"),
    "ecs": TagSpec("Tag.key", "Tag.value", "CreateServiceRequest.tags"),
    "logs": TagSpec("Tags.key", "Tags.value", "CreateLogGroupRequest.tags"),
    "cloudwatch": TagSpec("Tag.Key", "Tag.Value"),
    "iam": TagSpec("Tag.Key", "Tag.Value", "CreateRoleRequest.Tags"),
    "secretsmanager": TagSpec("Tag.Key", "Tag.Value"),
    "elbv2": TagSpec("Tag.Key", "Tag.Value"),
    "application-autoscaling": TagSpec("TagMap.key", "TagMap.value"),
    "amp": TagSpec("TagMap.key", "TagMap.value", "CreateWorkspaceRequest.tags"),
    "grafana": TagSpec("TagMap.key", "TagMap.value", "CreateWorkspaceRequest.tags"),
    "rds": TagSpec("Tag.Key", "Tag.Value"),
    "events": TagSpec("Tag.Key", "Tag.Value"),
    "lambda": TagSpec("Tags.key", "Tags.value"),
    "s3": TagSpec("Tag.Key", "Tag.Value"),
    "servicediscovery": TagSpec("Tag.Key", "Tag.Value", "CreateServiceRequest.Tags"),
}


# -- RDS for PostgreSQL: botocore's RDS model states no patterns; the CreateDBInstance API
# reference and the RDS user guide do.
RDS_CREATE = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
RDS_SUBNET_GROUP = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html"
)
RDS_PARAMETER_GROUP = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html"
)
RDS_STORAGE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html"
RDS_PI = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PerfInsights.Overview.cost.html"
)


def _rds_identifier(at_most: int) -> Callable[[Any], bool]:
    """A letter first, then letters, digits and hyphens; no trailing or doubled hyphen."""

    def accepts(value: Any) -> bool:
        return (
            isinstance(value, str)
            and re.fullmatch(f"[A-Za-z][A-Za-z0-9-]{{0,{at_most - 1}}}", value) is not None
            and not value.endswith("-")
            and "--" not in value
        )

    return accepts


RDS_INSTANCE_IDENTIFIER = Doc(
    "1-63 letters, digits or hyphens; a letter first; no trailing hyphen or two in a row",
    RDS_CREATE,
    _rds_identifier(63),
)
RDS_SNAPSHOT_IDENTIFIER = Doc(
    "1-255 letters, digits or hyphens; a letter first; no trailing hyphen or two in a row",
    RDS_CREATE,
    _rds_identifier(255),
)
RDS_POSTGRES_NAME = Doc(
    "PostgreSQL: 1-63 letters, digits or underscores, a letter first",
    RDS_CREATE,
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", v) is not None,
)
RDS_POSTGRES_PASSWORD = Doc(
    'PostgreSQL: 8-128 printable ASCII characters except / " @ and space',
    RDS_CREATE,
    lambda v: isinstance(v, str) and re.fullmatch(r"[!#-.0-?A-~]{8,128}", v) is not None,
)
RDS_GP3_STORAGE = Doc(
    "gp3 for PostgreSQL: 20-65,536 GiB",
    RDS_STORAGE,
    lambda v: _is_integer(v) and 20 <= v <= 65536,
)
RDS_BACKUP_RETENTION = Doc("0-35 days", RDS_CREATE, lambda v: _is_integer(v) and 0 <= v <= 35)
RDS_PI_RETENTION = Doc(
    "7 (free), a multiple of 31 up to 713, or 731 days",
    RDS_PI,
    lambda v: _is_integer(v) and (v in (7, 731) or (v % 31 == 0 and 31 <= v <= 713)),
)
RDS_SUBNET_GROUP_NAME = Doc(
    "up to 255 letters, digits, periods, underscores, spaces or hyphens; not 'default'",
    RDS_SUBNET_GROUP,
    lambda v: (
        isinstance(v, str)
        and re.fullmatch(r"[A-Za-z0-9._ -]{1,255}", v) is not None
        and v.lower() != "default"
    ),
)
RDS_PARAMETER_GROUP_NAME = Doc(
    "1-255 letters, digits or hyphens; a letter first; no trailing hyphen or two in a row",
    RDS_PARAMETER_GROUP,
    _rds_identifier(255),
)
RDS_POSTGRES_FAMILY = Doc(
    "a PostgreSQL parameter group family, postgres<major>",
    RDS_PARAMETER_GROUP,
    lambda v: isinstance(v, str) and re.fullmatch(r"postgres(1[0-9]|[2-9][0-9])", v) is not None,
)


AMP_QUOTAS = "https://docs.aws.amazon.com/prometheus/latest/userguide/AMP_quotas.html"
AMP_DEFINITION_SIZE = Doc(
    "a rule groups namespace or alert manager definition file of at most 1 MB",
    AMP_QUOTAS,
    lambda v: isinstance(v, str) and len(v.encode()) <= 1_000_000,
)
S3_NAMES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
S3_BUCKET_PREFIX = Doc(
    "a bucket name prefix: lowercase letters, digits, dots and hyphens, a letter or digit first, "
    "at most 37 characters (the provider adds 26 to reach the 63-character name limit)",
    S3_NAMES,
    lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,36}", v) is not None,
)
S3_POLICY_SIZE = Doc(
    "a bucket policy of at most 20 KB",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html",
    lambda v: isinstance(v, str) and len(v.encode()) <= 20_480,
)
POSITIVE_DAYS = Doc(
    "a positive whole number of days",
    "https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleExpiration.html",
    lambda v: _is_integer(v) and v >= 1,
)
FLOW_LOG_INTERVAL = Doc(
    "60 or 600 seconds",
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateFlowLogs.html",
    _one_of(60, 600),
)
ALB_LOG_PREFIX = Doc(
    "an access-log prefix without 'AWSLogs' and without a leading or trailing slash",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
    lambda v: (
        isinstance(v, str) and "AWSLogs" not in v and not v.startswith("/") and not v.endswith("/")
    ),
)
LAMBDA_DOCS = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
LAMBDA_NAME = Doc(
    "a function name alone is at most 64 letters, digits, hyphens or underscores",
    LAMBDA_DOCS,
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", v) is not None,
)
LAMBDA_TIMEOUT = Doc("1-900 seconds", LAMBDA_DOCS, lambda v: _is_integer(v) and 1 <= v <= 900)


def _api(service: str, ref: str) -> Api:
    if ":" in ref:
        service, ref = ref.split(":", 1)
    shape, member = ref.rsplit(".", 1)
    return Api(service, shape, member)


def rows(type_: str, service: str, specs: Mapping[str, Spec], *, tags: bool = True) -> list[Row]:
    """The rows of one resource type; ``tags`` adds the service's tag rows."""
    found: list[Row] = []
    for path, spec in specs.items():
        parts = spec if isinstance(spec, tuple) else (spec,)
        api = next((_api(service, p) for p in parts if isinstance(p, str)), None)
        docs = tuple(p for p in parts if isinstance(p, Doc))
        autoname = next((p for p in parts if isinstance(p, Autoname)), None)
        note = next((p.why for p in parts if isinstance(p, Note)), "")
        found.append(Row(type_, path, api, docs, autoname, note))
    if tags:
        tag = TAGS[service]
        found += [
            Row(type_, "tags", _api(service, tag.count) if tag.count else None, (AT_MOST_50_TAGS,)),
            Row(type_, "tags.*key", _api(service, tag.key), (TAG_KEY_NOT_RESERVED, *tag.key_docs)),
            Row(type_, "tags.*value", _api(service, tag.value), tag.value_docs),
        ]
    return found


def _security_group_rule(request: str) -> dict[str, Spec]:
    return {
        "": FROM_PORT_NOT_ABOVE_TO_PORT,
        "description": ("IpRange.Description", EC2_DESCRIPTION),
        "ipProtocol": ("IpPermission.IpProtocol", IP_PROTOCOL),
        "fromPort": ("IpPermission.FromPort", PORT_OR_ALL),
        "toPort": ("IpPermission.ToPort", PORT_OR_ALL),
        "cidrIpv4": ("IpRange.CidrIp", IPV4_CIDR),
        "cidrIpv6": "Ipv6Range.CidrIpv6",
        "prefixListId": "PrefixListId.PrefixListId",
        "referencedSecurityGroupId": "UserIdGroupPair.GroupId",
        "securityGroupId": f"{request}.GroupId",
    }


# -- HTTPS on the app's domain (ACM, Route 53), LiveView stickiness, app task-role policies ------
ACM_CERTIFICATE = "aws:acm/certificate:Certificate"
ACM_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DNS_RECORD = "aws:route53/record:Record"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ACM_REQUEST = "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html"
ROUTE53_NAMES = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html"
ROUTE53_RECORD_SET = (
    "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html"
)
ACM_COMMON_NAME = Doc(
    "a certificate's domain name (its Common Name): at most 64 characters, periods included",
    ACM_REQUEST,
    lambda v: isinstance(v, str) and len(v) <= 64,
    Quote(
        "the length of the domain name (technically, the Common Name) that you provide cannot "
        "exceed 64 octets (characters), including periods",
        api=Api("acm", "RequestCertificateRequest", "DomainName"),
    ),
)
DNS_NAME_SIZE = Doc(
    "a DNS name: at most 255 bytes, each label 1-63",
    ROUTE53_NAMES,
    lambda v: (
        isinstance(v, str)
        and len(v.rstrip(".").encode()) <= 255
        and all(0 < len(label) <= 63 for label in v.rstrip(".").split("."))
    ),
)
ALIAS_HAS_NO_TTL = Doc(
    "an alias record has no TTL and no records of its own (Route 53 uses the target's)",
    ROUTE53_RECORD_SET,
    lambda r: not r.get("aliases") or ("ttl" not in r and not r.get("records")),
    Quote(
        "If you're creating or updating an alias resource record set, omit TTL.",
        api=Api("route53", "ResourceRecordSet", "TTL"),
    ),
)
STICKINESS_TYPE = Doc(
    "an Application Load Balancer's stickiness type: lb_cookie or app_cookie",
    ELB_HEALTH,
    _one_of("lb_cookie", "app_cookie"),
    Quote(
        "The possible values are: lb_cookie and app_cookie for Application Load Balancers.",
        api=Api("elbv2", "TargetGroupAttribute", "Key"),
    ),
)
STICKINESS_DURATION = Doc(
    "lb_cookie stickiness duration: 1 second to 1 week (604800 seconds)",
    ELB_HEALTH,
    _between(1, 604_800),
    Quote(
        "The range is 1 second to 1 week (604800 seconds).",
        api=Api("elbv2", "TargetGroupAttribute", "Key"),
    ),
)
ACM_NAMES_PER_CERTIFICATE = Doc(
    "at most 10 names per ACM certificate, the domain name included (the default quota)",
    "https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html",
    lambda v: isinstance(v, list) and len(v) + 1 <= 10,
)
TAGS["acm"] = TagSpec("Tag.Key", "Tag.Value", "RequestCertificateRequest.Tags")

# fmt: off
ROWS: list[Row] = [
    *rows(VPC, "ec2", {
        "cidrBlock": ("CreateVpcRequest.CidrBlock", VPC_CIDR_SIZE),
        "instanceTenancy": "CreateVpcRequest.InstanceTenancy",
        "enableDnsHostnames": BOOLEAN,
        "enableDnsSupport": BOOLEAN,
    }),
    *rows(SUBNET, "ec2", {
        "vpcId": "CreateSubnetRequest.VpcId",
        "cidrBlock": ("CreateSubnetRequest.CidrBlock", VPC_CIDR_SIZE),
        "availabilityZone": "CreateSubnetRequest.AvailabilityZone",
        "mapPublicIpOnLaunch": BOOLEAN,
    }),
    *rows(IGW, "ec2", {"vpcId": "AttachInternetGatewayRequest.VpcId"}),
    *rows(EIP, "ec2", {"domain": "AllocateAddressRequest.Domain"}),
    *rows(NAT, "ec2", {
        "subnetId": "CreateNatGatewayRequest.SubnetId",
        "allocationId": "CreateNatGatewayRequest.AllocationId",
        "connectivityType": "CreateNatGatewayRequest.ConnectivityType",
    }),
    *rows(ROUTE_TABLE, "ec2", {
        "vpcId": "CreateRouteTableRequest.VpcId",
        "routes[].cidrBlock": ("CreateRouteRequest.DestinationCidrBlock", IPV4_CIDR),
        "routes[].gatewayId": "CreateRouteRequest.GatewayId",
        "routes[].natGatewayId": "CreateRouteRequest.NatGatewayId",
    }),
    *rows(ROUTE_TABLE_ASSOCIATION, "ec2", {
        "subnetId": "AssociateRouteTableRequest.SubnetId",
        "routeTableId": "AssociateRouteTableRequest.RouteTableId",
    }, tags=False),
    *rows(SECURITY_GROUP, "ec2", {
        "name": ("CreateSecurityGroupRequest.GroupName", EC2_GROUP_NAME, DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "description": ("CreateSecurityGroupRequest.Description", EC2_SG_DESCRIPTION),
        "vpcId": "CreateSecurityGroupRequest.VpcId",
        "revokeRulesOnDelete": PROVIDER_ONLY,
    }),
    *rows(INGRESS_RULE, "ec2", _security_group_rule("AuthorizeSecurityGroupIngressRequest")),
    *rows(EGRESS_RULE, "ec2", _security_group_rule("AuthorizeSecurityGroupEgressRequest")),

    *rows(REPOSITORY, "ecr", {
        "name": ("CreateRepositoryRequest.repositoryName", DEFAULT_NAME),
        "imageTagMutability": "CreateRepositoryRequest.imageTagMutability",
        "imageTagMutabilityExclusionFilters":
            "CreateRepositoryRequest.imageTagMutabilityExclusionFilters",
        "imageTagMutabilityExclusionFilters[].filter": "ImageTagMutabilityExclusionFilter.filter",
        "imageTagMutabilityExclusionFilters[].filterType":
            "ImageTagMutabilityExclusionFilter.filterType",
        "encryptionConfigurations[].encryptionType": "EncryptionConfiguration.encryptionType",
        "encryptionConfigurations[].kmsKey": "EncryptionConfiguration.kmsKey",
        "imageScanningConfiguration.scanOnPush": "ImageScanningConfiguration.scanOnPush",
        "forceDelete": "DeleteRepositoryRequest.force",
    }),
    *rows(LIFECYCLE_POLICY, "ecr", {
        "repository": "PutLifecyclePolicyRequest.repositoryName",
        "policy": "PutLifecyclePolicyRequest.lifecyclePolicyText",
        "policy.@json.rules": ECR_LIFECYCLE_PRIORITIES,
        "policy.@json.rules[]": ECR_LIFECYCLE_RULE,
    }, tags=False),
    *rows(REPOSITORY_POLICY, "ecr", {
        "repository": "SetRepositoryPolicyRequest.repositoryName",
        "policy": "SetRepositoryPolicyRequest.policyText",
    }, tags=False),

    *rows(KMS_KEY, "kms", {
        "description": "CreateKeyRequest.Description",
        "policy": ("CreateKeyRequest.Policy", KMS_KEY_POLICY_SIZE),
        "keyUsage": "CreateKeyRequest.KeyUsage",
        "customerMasterKeySpec": "CreateKeyRequest.KeySpec",
        "deletionWindowInDays": ("ScheduleKeyDeletionRequest.PendingWindowInDays",
                                 KMS_DELETION_WINDOW),
        "enableKeyRotation": BOOLEAN,
        "rotationPeriodInDays": "EnableKeyRotationRequest.RotationPeriodInDays",
    }),

    *rows(TOPIC, "sns", {
        "name": ("CreateTopicInput.Name", SNS_TOPIC_NAME,
                 Autoname(80, f"{PULUMI_AWS_OVERRIDE}: aws_sns_topic name Maxlen 80")),
        "namePrefix": NAME_PREFIX,
        "displayName": ("TopicAttributesMap.value", SNS_DISPLAY_NAME),
        "kmsMasterKeyId": "TopicAttributesMap.value",
        "policy": ("TopicAttributesMap.value", SNS_POLICY_SIZE),
    }),
    *rows(TOPIC_POLICY, "sns", {
        "arn": "SetTopicAttributesInput.TopicArn",
        "policy": ("SetTopicAttributesInput.AttributeValue", SNS_POLICY_SIZE),
        "policy.@json.Statement": SNS_POLICY_STATEMENTS,
    }, tags=False),
    *rows(SUBSCRIPTION, "sns", {
        "": SNS_ENDPOINT,
        "topic": "SubscribeInput.TopicArn",
        "protocol": ("SubscribeInput.Protocol", SNS_PROTOCOL),
        "endpoint": "SubscribeInput.Endpoint",
        "rawMessageDelivery": BOOLEAN,
        "endpointAutoConfirms": PROVIDER_ONLY,
        "confirmationTimeoutInMinutes": PROVIDER_ONLY,
    }, tags=False),

    *rows(CLUSTER, "ecs", {
        "name": ("CreateClusterRequest.clusterName", ECS_CLUSTER_NAME, DEFAULT_NAME),
        "settings[].name": "ClusterSetting.name",
        "settings[].value": ("ClusterSetting.value", CONTAINER_INSIGHTS),
    }),
    *rows(CAPACITY_PROVIDERS, "ecs", {
        "clusterName": "PutClusterCapacityProvidersRequest.cluster",
        "capacityProviders": "PutClusterCapacityProvidersRequest.capacityProviders",
        "capacityProviders[]": "StringList.member",
        "defaultCapacityProviderStrategies[].capacityProvider":
            "CapacityProviderStrategyItem.capacityProvider",
        "defaultCapacityProviderStrategies[].base": "CapacityProviderStrategyItem.base",
        "defaultCapacityProviderStrategies[].weight": "CapacityProviderStrategyItem.weight",
    }, tags=False),
    *rows(TASK_DEFINITION, "ecs", {
        "": FARGATE_TASK_SIZE,
        "family": ("RegisterTaskDefinitionRequest.family", ECS_FAMILY),
        "cpu": "RegisterTaskDefinitionRequest.cpu",
        "memory": "RegisterTaskDefinitionRequest.memory",
        "networkMode": "RegisterTaskDefinitionRequest.networkMode",
        "requiresCompatibilities[]": "CompatibilityList.member",
        "runtimePlatform.cpuArchitecture": "RuntimePlatform.cpuArchitecture",
        "runtimePlatform.operatingSystemFamily": "RuntimePlatform.operatingSystemFamily",
        "taskRoleArn": "RegisterTaskDefinitionRequest.taskRoleArn",
        "executionRoleArn": "RegisterTaskDefinitionRequest.executionRoleArn",
        "containerDefinitions": CONTAINER_DEFINITIONS,
        "volumes": "RegisterTaskDefinitionRequest.volumes",
        "volumes[].name": "Volume.name",
        "skipDestroy": PROVIDER_ONLY,
        "trackLatest": PROVIDER_ONLY,
    }),
    *rows(SERVICE, "ecs", {
        "name": ("CreateServiceRequest.serviceName", ECS_NAME, DEFAULT_NAME),
        "cluster": "CreateServiceRequest.cluster",
        "taskDefinition": "CreateServiceRequest.taskDefinition",
        "desiredCount": "CreateServiceRequest.desiredCount",
        "launchType": "CreateServiceRequest.launchType",
        "platformVersion": "CreateServiceRequest.platformVersion",
        "schedulingStrategy": "CreateServiceRequest.schedulingStrategy",
        "healthCheckGracePeriodSeconds": "CreateServiceRequest.healthCheckGracePeriodSeconds",
        "deploymentMaximumPercent": "DeploymentConfiguration.maximumPercent",
        "deploymentMinimumHealthyPercent": "DeploymentConfiguration.minimumHealthyPercent",
        "deploymentCircuitBreaker.enable": "DeploymentCircuitBreaker.enable",
        "deploymentCircuitBreaker.rollback": "DeploymentCircuitBreaker.rollback",
        "alarms.alarmNames": "DeploymentAlarms.alarmNames",
        "alarms.alarmNames[]": "StringList.member",
        "alarms.enable": "DeploymentAlarms.enable",
        "alarms.rollback": "DeploymentAlarms.rollback",
        "enableEcsManagedTags": "CreateServiceRequest.enableECSManagedTags",
        "enableExecuteCommand": "CreateServiceRequest.enableExecuteCommand",
        "propagateTags": "CreateServiceRequest.propagateTags",
        "forceNewDeployment": "UpdateServiceRequest.forceNewDeployment",
        "forceDelete": "DeleteServiceRequest.force",
        "loadBalancers": "CreateServiceRequest.loadBalancers",
        "serviceRegistries": Note("one registry; its fields below"),
        "serviceRegistries.registryArn": "ServiceRegistry.registryArn",
        "loadBalancers[].containerName": "LoadBalancer.containerName",
        "loadBalancers[].containerPort": "LoadBalancer.containerPort",
        "loadBalancers[].targetGroupArn": "LoadBalancer.targetGroupArn",
        "networkConfiguration.assignPublicIp":
            Note("a boolean the provider sends as AssignPublicIp ENABLED or DISABLED"),
        "networkConfiguration.subnets": ("AwsVpcConfiguration.subnets", AT_MOST_16_SUBNETS),
        "networkConfiguration.subnets[]": "StringList.member",
        "networkConfiguration.securityGroups": ("AwsVpcConfiguration.securityGroups",
                                                AT_MOST_5_SECURITY_GROUPS),
        "networkConfiguration.securityGroups[]": "StringList.member",
        "capacityProviderStrategies": "CreateServiceRequest.capacityProviderStrategy",
        "capacityProviderStrategies[].capacityProvider":
            "CapacityProviderStrategyItem.capacityProvider",
        "capacityProviderStrategies[].base": "CapacityProviderStrategyItem.base",
        "capacityProviderStrategies[].weight": "CapacityProviderStrategyItem.weight",
        "waitForSteadyState": PROVIDER_ONLY,
    }),

    *rows(LOG_GROUP, "logs", {
        "name": ("CreateLogGroupRequest.logGroupName", DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "retentionInDays": ("PutRetentionPolicyRequest.retentionInDays", LOG_RETENTION),
        "kmsKeyId": "CreateLogGroupRequest.kmsKeyId",
        "logGroupClass": "CreateLogGroupRequest.logGroupClass",
        "skipDestroy": PROVIDER_ONLY,
    }),
    *rows(ALARM, "cloudwatch", {
        "": (ALARM_WINDOW, DATAPOINTS_WITHIN_EVALUATION),
        "name": ("PutMetricAlarmInput.AlarmName",
                 Autoname(255, f"{PULUMI_AWS_OVERRIDE}: alarm_name AutoName(255)")),
        "alarmDescription": "PutMetricAlarmInput.AlarmDescription",
        "actionsEnabled": "PutMetricAlarmInput.ActionsEnabled",
        "alarmActions": "PutMetricAlarmInput.AlarmActions",
        "alarmActions[]": "ResourceList.member",
        "okActions": "PutMetricAlarmInput.OKActions",
        "okActions[]": "ResourceList.member",
        "insufficientDataActions": "PutMetricAlarmInput.InsufficientDataActions",
        "insufficientDataActions[]": "ResourceList.member",
        "comparisonOperator": "PutMetricAlarmInput.ComparisonOperator",
        "datapointsToAlarm": "PutMetricAlarmInput.DatapointsToAlarm",
        "evaluationPeriods": "PutMetricAlarmInput.EvaluationPeriods",
        "threshold": "PutMetricAlarmInput.Threshold",
        "thresholdMetricId": "PutMetricAlarmInput.ThresholdMetricId",
        "treatMissingData": ("PutMetricAlarmInput.TreatMissingData", TREAT_MISSING_DATA),
        "evaluateLowSampleCountPercentiles":
            ("PutMetricAlarmInput.EvaluateLowSampleCountPercentile", LOW_SAMPLE_COUNT),
        "statistic": "PutMetricAlarmInput.Statistic",
        "extendedStatistic": ("PutMetricAlarmInput.ExtendedStatistic", EXTENDED_STATISTIC),
        "metricName": "PutMetricAlarmInput.MetricName",
        "namespace": "PutMetricAlarmInput.Namespace",
        "period": ("PutMetricAlarmInput.Period", ALARM_PERIOD),
        "unit": "PutMetricAlarmInput.Unit",
        "dimensions": "PutMetricAlarmInput.Dimensions",
        "dimensions.*key": "Dimension.Name",
        "dimensions.*value": "Dimension.Value",
        "metricQueries": "PutMetricAlarmInput.Metrics",
        "metricQueries[].id": ("MetricDataQuery.Id", METRIC_QUERY_ID),
        "metricQueries[].expression": "MetricDataQuery.Expression",
        "metricQueries[].label": "MetricDataQuery.Label",
        "metricQueries[].returnData": "MetricDataQuery.ReturnData",
        "metricQueries[].period": ("MetricDataQuery.Period", ALARM_PERIOD),
        "metricQueries[].accountId": "MetricDataQuery.AccountId",
        "metricQueries[].metric.metricName": "Metric.MetricName",
        "metricQueries[].metric.namespace": "Metric.Namespace",
        "metricQueries[].metric.period": ("MetricStat.Period", ALARM_PERIOD),
        "metricQueries[].metric.stat": ("MetricStat.Stat", STAT),
        "metricQueries[].metric.unit": "MetricStat.Unit",
        "metricQueries[].metric.dimensions": "Metric.Dimensions",
        "metricQueries[].metric.dimensions.*key": "Dimension.Name",
        "metricQueries[].metric.dimensions.*value": "Dimension.Value",
    }),
    *rows(DASHBOARD, "cloudwatch", {
        "dashboardName": ("PutDashboardInput.DashboardName", DASHBOARD_NAME),
        "dashboardBody": "PutDashboardInput.DashboardBody",
        "dashboardBody.@json": DASHBOARD_METRICS,
        "dashboardBody.@json.widgets": DASHBOARD_WIDGETS,
        "dashboardBody.@json.widgets[]": WIDGET_METRICS,
    }, tags=False),

    *rows(ROLE, "iam", {
        "name": ("CreateRoleRequest.RoleName",
                 Autoname(64, f"{PULUMI_AWS_OVERRIDE}: aws_iam_role name AutoName(64)")),
        "namePrefix": NAME_PREFIX,
        "description": "CreateRoleRequest.Description",
        "path": "CreateRoleRequest.Path",
        "maxSessionDuration": "CreateRoleRequest.MaxSessionDuration",
        "permissionsBoundary": "CreateRoleRequest.PermissionsBoundary",
        "assumeRolePolicy": ("CreateRoleRequest.AssumeRolePolicyDocument", IAM_TRUST_POLICY_SIZE),
        "inlinePolicies[].name": "PutRolePolicyRequest.PolicyName",
        "inlinePolicies[].policy": ("PutRolePolicyRequest.PolicyDocument", IAM_INLINE_POLICY_SIZE),
        "managedPolicyArns[]": "AttachRolePolicyRequest.PolicyArn",
        "forceDetachPolicies": PROVIDER_ONLY,
    }),
    *rows(MANAGED_POLICY, "iam", {
        "name": ("CreatePolicyRequest.PolicyName", Autoname(128)),
        "namePrefix": NAME_PREFIX,
        "path": "CreatePolicyRequest.Path",
        "description": "CreatePolicyRequest.Description",
        "policy": ("CreatePolicyRequest.PolicyDocument", IAM_MANAGED_POLICY_SIZE),
    }),
    *rows(OIDC_PROVIDER, "iam", {
        "url": "CreateOpenIDConnectProviderRequest.Url",
        "clientIdLists[]": "clientIDListType.member",
        "thumbprintLists[]": "thumbprintListType.member",
    }),
    *rows(KMS_ALIAS, "kms", {
        "name": ("CreateAliasRequest.AliasName", KMS_ALIAS_NAME),
        "targetKeyId": "CreateAliasRequest.TargetKeyId",
    }, tags=False),
    *rows(ROLE_POLICY, "iam", {
        "name": ("PutRolePolicyRequest.PolicyName", DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "role": "PutRolePolicyRequest.RoleName",
        "policy": ("PutRolePolicyRequest.PolicyDocument", IAM_INLINE_POLICY_SIZE),
    }, tags=False),

    *rows(SECRET, "secretsmanager", {
        "name": ("CreateSecretRequest.Name", SECRET_NAME, DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "description": "CreateSecretRequest.Description",
        "kmsKeyId": "CreateSecretRequest.KmsKeyId",
        "recoveryWindowInDays": ("DeleteSecretRequest.RecoveryWindowInDays",
                                 SECRET_RECOVERY_WINDOW),
        "policy": "PutResourcePolicyRequest.ResourcePolicy",
    }),
    *rows(SECRET_VERSION, "secretsmanager", {
        "secretId": "PutSecretValueRequest.SecretId",
        "secretString": "PutSecretValueRequest.SecretString",
        "versionStages": "PutSecretValueRequest.VersionStages",
        "versionStages[]": "SecretVersionStagesType.member",
    }, tags=False),

    *rows(DB_INSTANCE, "rds", {
        "identifier": ("CreateDBInstanceMessage.DBInstanceIdentifier", RDS_INSTANCE_IDENTIFIER,
                       Autoname(63)),
        "identifierPrefix": NAME_PREFIX,
        "engine": ("CreateDBInstanceMessage.Engine", Doc(
            "postgres", RDS_CREATE, lambda v: v == "postgres")),
        "engineVersion": "CreateDBInstanceMessage.EngineVersion",
        "instanceClass": "CreateDBInstanceMessage.DBInstanceClass",
        "allocatedStorage": ("CreateDBInstanceMessage.AllocatedStorage", RDS_GP3_STORAGE),
        "maxAllocatedStorage": ("CreateDBInstanceMessage.MaxAllocatedStorage", RDS_GP3_STORAGE),
        "storageType": "CreateDBInstanceMessage.StorageType",
        "storageEncrypted": BOOLEAN,
        "dbName": ("CreateDBInstanceMessage.DBName", RDS_POSTGRES_NAME),
        "username": ("CreateDBInstanceMessage.MasterUsername", RDS_POSTGRES_NAME),
        "password": ("CreateDBInstanceMessage.MasterUserPassword", RDS_POSTGRES_PASSWORD),
        "port": ("CreateDBInstanceMessage.Port", Doc(
            "1150-65535", RDS_CREATE, lambda v: _is_integer(v) and 1150 <= v <= 65535)),
        "dbSubnetGroupName": "CreateDBInstanceMessage.DBSubnetGroupName",
        "vpcSecurityGroupIds": "CreateDBInstanceMessage.VpcSecurityGroupIds",
        "vpcSecurityGroupIds[]": "VpcSecurityGroupIdList.member",
        "parameterGroupName": "CreateDBInstanceMessage.DBParameterGroupName",
        "publiclyAccessible": BOOLEAN,
        "multiAz": BOOLEAN,
        "backupRetentionPeriod": ("CreateDBInstanceMessage.BackupRetentionPeriod",
                                  RDS_BACKUP_RETENTION),
        "copyTagsToSnapshot": BOOLEAN,
        "autoMinorVersionUpgrade": BOOLEAN,
        "allowMajorVersionUpgrade": BOOLEAN,
        "applyImmediately": BOOLEAN,
        "caCertIdentifier": "CreateDBInstanceMessage.CACertificateIdentifier",
        "performanceInsightsEnabled": BOOLEAN,
        "performanceInsightsRetentionPeriod": (
            "CreateDBInstanceMessage.PerformanceInsightsRetentionPeriod", RDS_PI_RETENTION),
        "deletionProtection": BOOLEAN,
        "skipFinalSnapshot": PROVIDER_ONLY,
        "finalSnapshotIdentifier": ("DeleteDBInstanceMessage.FinalDBSnapshotIdentifier",
                                    RDS_SNAPSHOT_IDENTIFIER),
    }),
    *rows(FUNCTION, "lambda", {
        "name": ("CreateFunctionRequest.FunctionName", LAMBDA_NAME, Autoname(64)),
        "description": "CreateFunctionRequest.Description",
        "runtime": "CreateFunctionRequest.Runtime",
        "handler": "CreateFunctionRequest.Handler",
        "role": "CreateFunctionRequest.Role",
        "timeout": ("CreateFunctionRequest.Timeout", LAMBDA_TIMEOUT),
        "memorySize": "CreateFunctionRequest.MemorySize",
        "code": Note("a zip archive the provider uploads (ZipFile, 50 MB zipped)"),
        "environment": Note("its variables below"),
        "environment.variables": Note("each key and value below; 4 KB in all"),
        "environment.variables.*key": "lambda:EnvironmentVariables.key",
        "environment.variables.*value": "lambda:EnvironmentVariables.value",
        "loggingConfig": Note("its fields below"),
        "loggingConfig.logFormat": "LoggingConfig.LogFormat",
        "loggingConfig.logGroup": "LoggingConfig.LogGroup",
    }),
    *rows(FUNCTION_PERMISSION, "lambda", {
        "action": "AddPermissionRequest.Action",
        "function": "AddPermissionRequest.FunctionName",
        "principal": "AddPermissionRequest.Principal",
        "sourceArn": "AddPermissionRequest.SourceArn",
        "statementId": ("AddPermissionRequest.StatementId", Autoname(100)),
    }, tags=False),
    *rows(RULE_GROUPS, "amp", {
        "name": "CreateRuleGroupsNamespaceRequest.name",
        "workspaceId": "CreateRuleGroupsNamespaceRequest.workspaceId",
        "data": ("CreateRuleGroupsNamespaceRequest.data", AMP_DEFINITION_SIZE),
    }),
    *rows(ALERT_MANAGER, "amp", {
        "workspaceId": "CreateAlertManagerDefinitionRequest.workspaceId",
        "definition": ("CreateAlertManagerDefinitionRequest.data", AMP_DEFINITION_SIZE),
    }, tags=False),
    *rows(EVENT_RULE, "events", {
        "name": ("PutRuleRequest.Name", Autoname(64)),
        "namePrefix": NAME_PREFIX,
        "description": "PutRuleRequest.Description",
        "eventPattern": "PutRuleRequest.EventPattern",
        "state": "PutRuleRequest.State",
    }),
    *rows(EVENT_TARGET, "events", {
        "rule": "PutTargetsRequest.Rule",
        "arn": "Target.Arn",
        "targetId": ("Target.Id", Autoname(64)),
    }, tags=False),
    *rows(DNS_NAMESPACE, "servicediscovery", {
        "name": "CreatePrivateDnsNamespaceRequest.Name",
        "vpc": "CreatePrivateDnsNamespaceRequest.Vpc",
        "description": "CreatePrivateDnsNamespaceRequest.Description",
    }),
    *rows(DISCOVERY_SERVICE, "servicediscovery", {
        "name": "CreateServiceRequest.Name",
        "namespaceId": "CreateServiceRequest.NamespaceId",
        "description": "CreateServiceRequest.Description",
        "dnsConfig": Note("its fields below"),
        "dnsConfig.namespaceId": "DnsConfig.NamespaceId",
        "dnsConfig.routingPolicy": "DnsConfig.RoutingPolicy",
        "dnsConfig.dnsRecords": "DnsConfig.DnsRecords",
        "dnsConfig.dnsRecords[].type": "DnsRecord.Type",
        "dnsConfig.dnsRecords[].ttl": "DnsRecord.TTL",
        "forceDestroy": PROVIDER_ONLY,
    }),
    *rows(DB_SUBNET_GROUP, "rds", {
        "name": ("CreateDBSubnetGroupMessage.DBSubnetGroupName", RDS_SUBNET_GROUP_NAME,
                 DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "description": "CreateDBSubnetGroupMessage.DBSubnetGroupDescription",
        "subnetIds": "CreateDBSubnetGroupMessage.SubnetIds",
        "subnetIds[]": "SubnetIdentifierList.member",
    }),
    *rows(DB_PARAMETER_GROUP, "rds", {
        "name": ("CreateDBParameterGroupMessage.DBParameterGroupName", RDS_PARAMETER_GROUP_NAME,
                 DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "family": ("CreateDBParameterGroupMessage.DBParameterGroupFamily", RDS_POSTGRES_FAMILY),
        "description": "CreateDBParameterGroupMessage.Description",
        "parameters": Note("sent as ModifyDBParameterGroup; its rows below"),
        "parameters[].name": "Parameter.ParameterName",
        "parameters[].value": "Parameter.ParameterValue",
        "parameters[].applyMethod": "Parameter.ApplyMethod",
    }),

    *rows(BUCKET, "s3", {
        "bucketPrefix": ("CreateBucketRequest.Bucket", S3_BUCKET_PREFIX),
        "forceDestroy": PROVIDER_ONLY,
    }),
    *rows(BUCKET_PAB, "s3", {
        "bucket": "PutPublicAccessBlockRequest.Bucket",
        "blockPublicAcls": BOOLEAN,
        "blockPublicPolicy": BOOLEAN,
        "ignorePublicAcls": BOOLEAN,
        "restrictPublicBuckets": BOOLEAN,
    }, tags=False),
    *rows(BUCKET_OWNERSHIP, "s3", {
        "bucket": "PutBucketOwnershipControlsRequest.Bucket",
        "rule": Note("its field below"),
        "rule.objectOwnership": "OwnershipControlsRule.ObjectOwnership",
    }, tags=False),
    *rows(BUCKET_SSE, "s3", {
        "bucket": "PutBucketEncryptionRequest.Bucket",
        "rules": Note("one rule; its fields below"),
        "rules[].applyServerSideEncryptionByDefault": Note("its field below"),
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm": (
            "ServerSideEncryptionByDefault.SSEAlgorithm"
        ),
        "rules[].applyServerSideEncryptionByDefault.kmsMasterKeyId": (
            "ServerSideEncryptionByDefault.KMSMasterKeyID"
        ),
        "rules[].bucketKeyEnabled": "ServerSideEncryptionRule.BucketKeyEnabled",
    }, tags=False),
    *rows(BUCKET_VERSIONING, "s3", {
        "bucket": "PutBucketVersioningRequest.Bucket",
        "versioningConfiguration": Note("its status below"),
        "versioningConfiguration.status": "VersioningConfiguration.Status",
    }, tags=False),
    *rows(BUCKET_LIFECYCLE, "s3", {
        "bucket": "PutBucketLifecycleConfigurationRequest.Bucket",
        "rules": Note("its rules below"),
        "rules[].id": "LifecycleRule.ID",
        "rules[].status": "LifecycleRule.Status",
        "rules[].filter": Note("its prefix below"),
        "rules[].filter.prefix": "LifecycleRuleFilter.Prefix",
        "rules[].expiration": Note("its days below"),
        "rules[].expiration.days": ("LifecycleExpiration.Days", POSITIVE_DAYS),
        "rules[].abortIncompleteMultipartUpload": Note("its days below"),
        "rules[].abortIncompleteMultipartUpload.daysAfterInitiation": (
            "AbortIncompleteMultipartUpload.DaysAfterInitiation",
            POSITIVE_DAYS,
        ),
    }, tags=False),
    *rows(BUCKET_POLICY, "s3", {
        "bucket": "PutBucketPolicyRequest.Bucket",
        "policy": ("PutBucketPolicyRequest.Policy", S3_POLICY_SIZE),
    }, tags=False),
    *rows(FLOW_LOG, "ec2", {
        "vpcId": Note("sent as ResourceIds with ResourceType VPC"),
        "trafficType": "CreateFlowLogsRequest.TrafficType",
        "logDestinationType": "CreateFlowLogsRequest.LogDestinationType",
        "logDestination": "CreateFlowLogsRequest.LogDestination",
        "iamRoleArn": "CreateFlowLogsRequest.DeliverLogsPermissionArn",
        "maxAggregationInterval": ("CreateFlowLogsRequest.MaxAggregationInterval",
                                   FLOW_LOG_INTERVAL),
    }),
    *rows(LOAD_BALANCER, "elbv2", {
        "name": ("CreateLoadBalancerInput.Name", LB_NAME, DEFAULT_NAME),
        "namePrefix": NAME_PREFIX,
        "internal": Note("a boolean the provider sends as Scheme internal or internet-facing"),
        "loadBalancerType": "CreateLoadBalancerInput.Type",
        "accessLogs": Note("sent as load balancer attributes access_logs.s3.*; fields below"),
        "accessLogs.enabled": BOOLEAN,
        "accessLogs.bucket": Note("the bucket this stack made for them (its own rows)"),
        "accessLogs.prefix": ALB_LOG_PREFIX,
        "ipAddressType": "CreateLoadBalancerInput.IpAddressType",
        "subnets": "CreateLoadBalancerInput.Subnets",
        "subnets[]": "Subnets.member",
        "securityGroups": ("CreateLoadBalancerInput.SecurityGroups", LB_SECURITY_GROUPS),
        "securityGroups[]": "SecurityGroups.member",
        "idleTimeout": IDLE_TIMEOUT,
        "dropInvalidHeaderFields": BOOLEAN,
        "enableDeletionProtection": BOOLEAN,
        "enableHttp2": BOOLEAN,
    }),
    *rows(TARGET_GROUP, "elbv2", {
        "name": ("CreateTargetGroupInput.Name", TG_NAME,
                 Autoname(32, f"{PULUMI_AWS_OVERRIDE} (aliases.go): aws_lb_target_group "
                              "name AutoName(32)")),
        "namePrefix": (TG_NAME_PREFIX, NAME_PREFIX),
        "port": "CreateTargetGroupInput.Port",
        "protocol": "CreateTargetGroupInput.Protocol",
        "protocolVersion": "CreateTargetGroupInput.ProtocolVersion",
        "targetType": "CreateTargetGroupInput.TargetType",
        "ipAddressType": "CreateTargetGroupInput.IpAddressType",
        "vpcId": "CreateTargetGroupInput.VpcId",
        "deregistrationDelay": DEREGISTRATION_DELAY,
        "slowStart": SLOW_START,
        "healthCheck": HEALTH_CHECK_TIMEOUT_BELOW_INTERVAL,
        "healthCheck.enabled": "CreateTargetGroupInput.HealthCheckEnabled",
        "healthCheck.interval": "CreateTargetGroupInput.HealthCheckIntervalSeconds",
        "healthCheck.timeout": "CreateTargetGroupInput.HealthCheckTimeoutSeconds",
        "healthCheck.healthyThreshold": "CreateTargetGroupInput.HealthyThresholdCount",
        "healthCheck.unhealthyThreshold": "CreateTargetGroupInput.UnhealthyThresholdCount",
        "healthCheck.path": "CreateTargetGroupInput.HealthCheckPath",
        "healthCheck.port": ("CreateTargetGroupInput.HealthCheckPort", HEALTH_CHECK_PORT),
        "healthCheck.protocol": "CreateTargetGroupInput.HealthCheckProtocol",
        "healthCheck.matcher": ("Matcher.HttpCode", HEALTH_CHECK_MATCHER),
    }),
    *rows(LISTENER, "elbv2", {
        "loadBalancerArn": "CreateListenerInput.LoadBalancerArn",
        "port": "CreateListenerInput.Port",
        "protocol": "CreateListenerInput.Protocol",
        "sslPolicy": "CreateListenerInput.SslPolicy",
        "certificateArn": "Certificate.CertificateArn",
        "defaultActions[].type": "Action.Type",
        "defaultActions[].targetGroupArn": "Action.TargetGroupArn",
        "defaultActions[].redirect.port": ("RedirectActionConfig.Port", REDIRECT_PORT),
        "defaultActions[].redirect.protocol": "RedirectActionConfig.Protocol",
        "defaultActions[].redirect.statusCode": "RedirectActionConfig.StatusCode",
        "defaultActions[].redirect.host": "RedirectActionConfig.Host",
        "defaultActions[].redirect.path": "RedirectActionConfig.Path",
        "defaultActions[].redirect.query": "RedirectActionConfig.Query",
    }),
    *rows(LISTENER_RULE, "elbv2", {
        "listenerArn": "CreateRuleInput.ListenerArn",
        "priority": "CreateRuleInput.Priority",
        "conditions[].pathPattern.values": RULE_VALUES_PER_CONDITION,
        "conditions[].pathPattern.values[]": PATH_PATTERN,
        "actions[].type": "Action.Type",
        "actions[].fixedResponse.statusCode": "FixedResponseActionConfig.StatusCode",
        "actions[].fixedResponse.messageBody": "FixedResponseActionConfig.MessageBody",
        "actions[].fixedResponse.contentType": (
            "FixedResponseActionConfig.ContentType", FIXED_RESPONSE_CONTENT_TYPE
        ),
    }),

    *rows(SCALING_TARGET, "application-autoscaling", {
        "serviceNamespace": "RegisterScalableTargetRequest.ServiceNamespace",
        "scalableDimension": "RegisterScalableTargetRequest.ScalableDimension",
        "resourceId": "RegisterScalableTargetRequest.ResourceId",
        "minCapacity": "RegisterScalableTargetRequest.MinCapacity",
        "maxCapacity": "RegisterScalableTargetRequest.MaxCapacity",
        "roleArn": "RegisterScalableTargetRequest.RoleARN",
    }),
    *rows(SCALING_POLICY, "application-autoscaling", {
        "name": ("PutScalingPolicyRequest.PolicyName", DEFAULT_NAME),
        "policyType": "PutScalingPolicyRequest.PolicyType",
        "serviceNamespace": "PutScalingPolicyRequest.ServiceNamespace",
        "scalableDimension": "PutScalingPolicyRequest.ScalableDimension",
        "resourceId": "PutScalingPolicyRequest.ResourceId",
        "targetTrackingScalingPolicyConfiguration.targetValue":
            "TargetTrackingScalingPolicyConfiguration.TargetValue",
        "targetTrackingScalingPolicyConfiguration.scaleInCooldown":
            "TargetTrackingScalingPolicyConfiguration.ScaleInCooldown",
        "targetTrackingScalingPolicyConfiguration.scaleOutCooldown":
            "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown",
        "targetTrackingScalingPolicyConfiguration.disableScaleIn":
            "TargetTrackingScalingPolicyConfiguration.DisableScaleIn",
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification"
        ".predefinedMetricType": "PredefinedMetricSpecification.PredefinedMetricType",
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.resourceLabel":
            "PredefinedMetricSpecification.ResourceLabel",
    }, tags=False),

    *rows(PROMETHEUS, "amp", {
        "alias": "CreateWorkspaceRequest.alias",
        "kmsKeyArn": "CreateWorkspaceRequest.kmsKeyArn",
    }),
    *rows(GRAFANA, "grafana", {
        "name": ("CreateWorkspaceRequest.workspaceName", DEFAULT_NAME),
        "description": "CreateWorkspaceRequest.workspaceDescription",
        "accountAccessType": "CreateWorkspaceRequest.accountAccessType",
        "permissionType": "CreateWorkspaceRequest.permissionType",
        "authenticationProviders": "CreateWorkspaceRequest.authenticationProviders",
        "authenticationProviders[]": "AuthenticationProviders.member",
        "dataSources[]": "DataSourceTypesList.member",
        "roleArn": "CreateWorkspaceRequest.workspaceRoleArn",
        "grafanaVersion": "CreateWorkspaceRequest.grafanaVersion",
    }),

    *rows(ACM_CERTIFICATE, "acm", {
        "domainName": ("RequestCertificateRequest.DomainName", ACM_COMMON_NAME),
        "validationMethod": "RequestCertificateRequest.ValidationMethod",
        "subjectAlternativeNames": ("RequestCertificateRequest.SubjectAlternativeNames",
                                    ACM_NAMES_PER_CERTIFICATE),
        "subjectAlternativeNames[]": "DomainList.member",
    }),
    *rows(ACM_VALIDATION, "acm", {
        "certificateArn": "DescribeCertificateRequest.CertificateArn",
        "validationRecordFqdns": PROVIDER_ONLY,
        "validationRecordFqdns[]": Note(
            "compared by the provider with the certificate's validation options; never sent"
        ),
    }, tags=False),
    *rows(DNS_RECORD, "route53", {
        "": ALIAS_HAS_NO_TTL,
        "zoneId": "ChangeResourceRecordSetsRequest.HostedZoneId",
        "name": ("ResourceRecordSet.Name", DNS_NAME_SIZE),
        "type": "ResourceRecordSet.Type",
        "ttl": "ResourceRecordSet.TTL",
        "records": "ResourceRecordSet.ResourceRecords",
        "records[]": "ResourceRecord.Value",
        "allowOverwrite": PROVIDER_ONLY,
        "aliases[].name": ("AliasTarget.DNSName", DNS_NAME_SIZE),
        "aliases[].zoneId": "AliasTarget.HostedZoneId",
        "aliases[].evaluateTargetHealth": "AliasTarget.EvaluateTargetHealth",
    }, tags=False),
    *rows(ROLE_POLICY_ATTACHMENT, "iam", {
        "role": "AttachRolePolicyRequest.RoleName",
        "policyArn": "AttachRolePolicyRequest.PolicyArn",
    }, tags=False),
    *rows(TARGET_GROUP, "elbv2", {
        "stickiness.enabled": BOOLEAN,
        "stickiness.type": STICKINESS_TYPE,
        "stickiness.cookieDuration": STICKINESS_DURATION,
    }, tags=False),
]
# fmt: on


def _by_type(rows: Iterable[Row]) -> dict[str, tuple[Row, ...]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.type].append(row)
    return {type_: tuple(found) for type_, found in grouped.items()}


TABLE: dict[str, tuple[Row, ...]] = _by_type(ROWS)

# -- resources across a stack -----------------------------------------------------------------


class Resource(Protocol):
    """What the checker reads of a registered resource (``plan.mocks.Recorded`` has it)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...


def _inline_policies_per_role(resources: Sequence[Resource]) -> Iterator[Problem]:
    """IAM's 10,240-character quota holds for all inline policies of one role together."""
    per_role: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        if resource.type == ROLE_POLICY and isinstance(resource.inputs.get("role"), str):
            per_role[resource.inputs["role"]].append(resource)
    for role, policies in per_role.items():
        total = sum(_size_without_whitespace(p.inputs.get("policy")) for p in policies)
        if total > 10_240:
            yield Problem(
                policies[0].urn,
                f"policy (all inline policies of role {role})",
                total,
                IAM_INLINE_POLICY_SIZE.rule,
                IAM_QUOTAS,
            )


STACK_RULES: tuple[Callable[[Sequence[Resource]], Iterator[Problem]], ...] = (
    _inline_policies_per_role,
)
"""Limits that span resources (checked over all resources of a stack)."""

# -- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    urn: str
    path: str
    value: Any
    rule: str
    source: str
    kind: str = "limit"
    """``limit`` (AWS would refuse the value), ``type`` (an AWS type without rows) or
    ``input`` (an input of a known type that no row accounts for)."""

    def describe(self, stack: str) -> str:
        shown = repr(self.value)
        if len(shown) > 160:
            shown = shown[:157] + "..."
        return (
            f"[{stack}] {self.urn}\n    {self.path} = {shown}\n"
            f"    {self.rule}\n    source: {self.source}"
        )


@dataclass
class _Context:
    resource: Resource
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, value: Any, rule: str, source: str) -> None:
        self.problems.append(Problem(self.resource.urn, path, value, rule, source))


def out_of_scope(type_: str) -> str | None:
    return next((why for prefix, why in OUT_OF_SCOPE.items() if type_.startswith(prefix)), None)


def check(resources: Iterable[Resource]) -> list[Problem]:
    """Every problem of ``resources``: limits broken, unknown types, inputs without a row."""
    resources = list(resources)
    problems: list[Problem] = []
    for resource in resources:
        if out_of_scope(resource.type) is not None:
            continue
        rows = TABLE.get(resource.type)
        if rows is None:
            problems.append(
                Problem(
                    resource.urn,
                    "(type)",
                    resource.type,
                    "no rows in tests/aws_limits.py for this resource type: add one per input "
                    "(or declare its provider out of scope in OUT_OF_SCOPE)",
                    "tests/aws_limits.py",
                    kind="type",
                )
            )
            continue
        context = _Context(resource)
        for row in rows:
            _check_row(row, context)
        problems.extend(context.problems)
        problems.extend(_uncovered_inputs(resource, rows))
    for rule in STACK_RULES:
        problems.extend(rule(resources))
    return problems


def _check_row(row: Row, context: _Context) -> None:
    inputs = context.resource.inputs
    if row.autoname is not None and row.path == "name" and "name" not in inputs:
        found = [_generated_name(row.autoname, context)]
    else:
        found = list(resolve(inputs, row.path))
    for where, value in found:
        if row.api is not None:
            for rule in api_problems(row.api, value):
                context.add(where, value, rule, row.api.source())
        for doc in row.docs:
            try:
                accepted = doc.accepts(value)
            except (TypeError, ValueError, AttributeError, KeyError):
                accepted = False
            if not accepted:
                context.add(where, value, doc.rule, doc.source)


RANDOM_HEX = "0a1b2c3"
"""Stands in for Pulumi's 7 random hex characters."""
PREFIX_SUFFIX = "0" * 25 + "1"
"""Stands in for the 26 digits terraform's PrefixedUniqueId appends to a namePrefix
(see NAME_PREFIX_SOURCE)."""


def _generated_name(autoname: Autoname, context: _Context) -> tuple[str, str]:
    prefix = context.resource.inputs.get("namePrefix")
    if isinstance(prefix, str):
        return "name (namePrefix + 26 digits)", prefix + PREFIX_SUFFIX
    generated = f"{context.resource.name}-{RANDOM_HEX}"
    where = "name (Pulumi's auto-name: logical name + '-' + 7 hex)"
    if len(generated) > autoname.maxlen:
        context.add(
            where,
            generated,
            f"Pulumi refuses to auto-name beyond {autoname.maxlen} characters "
            f"(logical name {len(context.resource.name)} + 8)",
            autoname.source,
        )
    return where, generated


# -- paths ------------------------------------------------------------------------------------


def resolve(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Each (concrete path, value) that ``path`` selects in ``value``."""
    items: list[tuple[str, Any]] = [("", value)]
    for segment in path.split(".") if path else []:
        items = [found for where, current in items for found in _step(where, current, segment)]
    for where, found in items:
        yield where or "(the whole resource)", found


def _step(where: str, current: Any, segment: str) -> Iterator[tuple[str, Any]]:
    def join(part: str) -> str:
        return f"{where}.{part}" if where else part

    if segment == "*key" and isinstance(current, dict):
        yield from ((f"{where}[{k!r}] (key)", k) for k in current)
    elif segment == "*value" and isinstance(current, dict):
        yield from ((f"{where}[{k!r}]", v) for k, v in current.items())
    elif segment == "@json" and isinstance(current, str):
        try:
            yield f"{where} (as JSON)", json.loads(current)
        except json.JSONDecodeError:
            return
    elif segment.endswith("[]") and isinstance(current, dict):
        items = current.get(segment[:-2])
        if isinstance(items, list):
            yield from ((f"{join(segment[:-2])}[{i}]", item) for i, item in enumerate(items))
    elif isinstance(current, dict) and segment in current:
        yield join(segment), current[segment]


def leaf_paths(value: Any, maps: set[str], prefix: str = "") -> set[str]:
    """The table-style paths of every scalar in ``value`` (``maps``: paths that are maps)."""
    if isinstance(value, dict):
        if prefix in maps:
            found = {f"{prefix}.*key"} if value else set()
            for item in value.values():
                found |= leaf_paths(item, maps, f"{prefix}.*value")
            return found
        found = set()
        for key, item in value.items():
            found |= leaf_paths(item, maps, f"{prefix}.{key}" if prefix else key)
        return found
    if isinstance(value, list):
        found = set()
        for item in value:
            found |= leaf_paths(item, maps, f"{prefix}[]")
        return found
    return {prefix}


def map_paths(rows: Iterable[Row]) -> set[str]:
    return {row.path.rsplit(".", 1)[0] for row in rows if row.path.endswith((".*key", ".*value"))}


def _uncovered_inputs(resource: Resource, rows: Sequence[Row]) -> Iterator[Problem]:
    covered = {row.path for row in rows}
    for path in sorted(leaf_paths(resource.inputs, map_paths(rows))):
        if path not in covered:
            yield Problem(
                resource.urn,
                path,
                next(iter(resolve(resource.inputs, path)), ("", None))[1],
                f"no row in tests/aws_limits.py for input {path} of {resource.type}: map it to "
                "its AWS API member (Api), a documented limit (Doc) or say why none applies (note)",
                "tests/aws_limits.py",
                kind="input",
            )


# -- botocore constraints ---------------------------------------------------------------------


def _ecmascript(pattern: str) -> str:
    """A botocore (Java) pattern for an ECMAScript engine: POSIX \\p{Print} becomes its ASCII
    range; AWS matches the whole value, so the pattern is anchored."""
    out, depth, i = [], 0, 0
    while i < len(pattern):
        if pattern.startswith(r"\p{Print}", i):
            out.append(r"\x20-\x7E" if depth else r"[\x20-\x7E]")
            i += len(r"\p{Print}")
            continue
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        depth += 1 if char == "[" else -1 if char == "]" and depth else 0
        out.append(char)
        i += 1
    return f"^(?:{''.join(out)})$"


@functools.cache
def compiled_pattern(pattern: str) -> regress.Regex:
    """Botocore patterns use Java's \\p{L}, \\p{N}... classes, which Python's re lacks;
    regress (an ECMAScript engine, installed with check-jsonschema) has them."""
    return regress.Regex(_ecmascript(pattern), "u")


def api_problems(api: Api, value: Any) -> list[str]:
    """What ``value`` breaks of the botocore member ``api`` (type, min, max, pattern, enum)."""
    shape = api.target()
    kind, meta = shape.type_name, api.constraints()
    low, high = meta.get("min"), meta.get("max")
    if kind == "string":
        if not isinstance(value, str):
            return [f"must be a string ({shape.name})"]
        problems = []
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            problems.append(f"must be one of {', '.join(enum)} ({shape.name})")
        if low is not None and len(value) < low:
            problems.append(f"at least {low} characters ({shape.name} min)")
        if high is not None and len(value) > high:
            problems.append(f"at most {high} characters ({shape.name} max)")
        pattern = meta.get("pattern")
        if pattern and compiled_pattern(pattern).find(value) is None:
            problems.append(f"must match {pattern} ({shape.name} pattern)")
        return problems
    if kind in ("integer", "long", "double", "float"):
        whole = kind in ("integer", "long")
        if not _is_number(value) or (whole and not _is_integer(value)):
            return [f"must be {'an integer' if whole else 'a number'} ({shape.name})"]
        problems = []
        if low is not None and float(value) < low:
            problems.append(f"at least {low} ({shape.name} min)")
        if high is not None and float(value) > high:
            problems.append(f"at most {high} ({shape.name} max)")
        return problems
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"must be a boolean ({shape.name})"]
    if kind in ("list", "map"):
        if not isinstance(value, list | dict):
            return [f"must be a {kind} ({shape.name})"]
        problems = []
        if low is not None and len(value) < low:
            problems.append(f"at least {low} items ({shape.name} min)")
        if high is not None and len(value) > high:
            problems.append(f"at most {high} items ({shape.name} max)")
        return problems
    if kind == "structure":
        return [] if isinstance(value, dict) else [f"must be an object ({shape.name})"]
    return []


# -- pulumi-aws -------------------------------------------------------------------------------


def pulumi_resource_class(token: str) -> type:
    """The pulumi-aws class of a type token (``aws:lb/targetGroup:TargetGroup``)."""
    package, module_and_file, class_name = token.split(":")
    module = module_and_file.split("/")[0]
    # Python keywords get a trailing underscore in the SDK (``lambda`` -> ``lambda_``).
    module = f"{module}_" if keyword.iskeyword(module) else module
    imported = importlib.import_module(
        f"pulumi_{package}" if module == "index" else f"pulumi_{package}.{module}"
    )
    cls = getattr(imported, class_name)
    if getattr(cls, "pulumi_type", token) != token:
        raise LookupError(f"{cls} registers {cls.pulumi_type}, not {token}")
    return cls


def pulumi_args_class(token: str) -> type:
    """The resource's own Args class, from its module: the package namespace may hold an input
    type of the same name (``s3.BucketServerSideEncryptionConfigurationArgs`` is one)."""
    cls = pulumi_resource_class(token)
    module = importlib.import_module(cls.__module__)
    # Where an input type already has the name, the generator calls it ``<Resource>InitArgs``.
    return getattr(module, f"{cls.__name__}InitArgs", None) or getattr(
        module, f"{cls.__name__}Args"
    )


def _input_names(args: type) -> dict[str, str]:
    return pulumi_types.input_type_py_to_pulumi_names(args)


def path_problem(token: str, path: str) -> str | None:
    """Why ``path`` is not an input of the pulumi-aws resource ``token`` (None when it is)."""
    current: Any = pulumi_args_class(token)
    for segment in path.split(".") if path else []:
        if segment == "@json":
            return None if current is str else f"{segment}: not a string input"
        if segment in ("*key", "*value"):
            if typing.get_origin(current) not in (collections.abc.Mapping, dict):
                return f"{segment}: not a map input"
            current = _unwrap_input(typing.get_args(current)[1 if segment == "*value" else 0])
            continue
        wire = segment.removesuffix("[]")
        if not (isinstance(current, type) and pulumi_types.is_input_type(current)):
            return f"{wire}: its parent is not an object input"
        found = pulumi_types.input_type_types(current)
        if wire not in found:
            return f"{wire}: no such argument of {current.__name__}"
        current = _unwrap_input(found[wire])
        if segment.endswith("[]"):
            if typing.get_origin(current) not in (collections.abc.Sequence, list):
                return f"{segment}: not a list input"
            current = _unwrap_input(typing.get_args(current)[0])
    return None


def _unwrap_input(hint: Any) -> Any:
    """``Input[T]`` (T | Awaitable[T] | Output[T]) down to T."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            origin = typing.get_origin(arg) or arg
            if arg is not type(None) and origin not in (collections.abc.Awaitable, pulumi.Output):
                return arg
    return hint
