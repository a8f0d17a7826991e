"""Every input the program registers is one AWS accepts (issue #9).

Mocks take anything; AWS refuses a description with an apostrophe, a 33-character load
balancer name or a 45-second alarm period only at ``pulumi up``. ``tests/aws_limits.py`` holds
the table (pulumi-aws input -> botocore member or documented limit); these tests run it over
every committed stack, over runs with the options the stacks leave off, over values AWS refuses
(so each mechanism provably fails), and check the table itself against pulumi-aws and botocore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests import aws_limits
from tests.aws_limits import (
    OUT_OF_SCOPE,
    ROWS,
    TABLE,
    Problem,
    check,
    compiled_pattern,
    path_problem,
)
from tests.conftest import STACKS, stack_run
from tests.harness import Registered, run_stack

# Options the committed stacks leave off, switched on so every type the program can create
# (and every input it can set) goes through the table.
OPTION_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "prod with every option on": (
        "prod",
        {
            "managedPrometheus": True,
            "managedGrafana": True,
            "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/"
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "domain": "app.example.com",
            "alarmEmails": ["ops@example.com"],
            "alarmWebhooks": ["https://events.pagerduty.com/integration/abc123/enqueue"],
            "alarmSqsQueueArn": "arn:aws:sqs:eu-west-1:123456789012:alarms",
            "registryPullAccountIds": ["210987654321"],
            "logKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/"
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "enableExecuteCommand": True,
            "fargateSpot": True,
            "secrets": {
                "SMTP_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp-AbCdEf"
            },
            "secretsKmsKeyArns": [
                "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            ],
        },
    ),
    "dev in an existing VPC with a prebuilt image": (
        "dev",
        {
            "vpcId": "vpc-0abc1234",
            "publicSubnetIds": ["subnet-0aaa1111", "subnet-0bbb2222"],
            "privateSubnetIds": ["subnet-0ccc3333", "subnet-0ddd4444"],
            "prebuiltImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "a" * 64,
            "database": "external",
            "databaseUrlSecretArn": (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
            ),
            "databaseSecurityGroupId": "sg-0abc1234",
        },
    ),
    "staging with its own domain, LiveView settings and app permissions": (
        "staging",
        {
            "domain": "shop.example.com",
            "hostedZoneId": "Z0123456789ABCDEFGHIJ",
            "domainAliases": ["www.shop.example.com"],
            "loadBalancerIdleTimeout": 3600,
            "loadBalancerStickinessSeconds": 86400,
            "taskRolePolicyStatements": [
                {
                    "Sid": "Uploads",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": "arn:aws:s3:::shop-uploads/*",
                }
            ],
            "taskRoleManagedPolicyArns": ["arn:aws:iam::123456789012:policy/elixir-app-staging-x"],
        },
    ),
}

OPTION_SECRETS: dict[str, dict[str, Any]] = {
    "prod with every option on": {
        "chatWebhookUrl": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
    },
}
_OPTION_RESULTS: dict[str, Registered] = {}


def option_run(label: str) -> Registered:
    if label not in _OPTION_RESULTS:
        stack, overrides = OPTION_RUNS[label]
        _OPTION_RESULTS[label] = run_stack(stack, overrides, secrets=OPTION_SECRETS.get(label))
        assert _OPTION_RESULTS[label].error is None, _OPTION_RESULTS[label].error
    return _OPTION_RESULTS[label]


def report(stack: str, problems: list[Problem]) -> str:
    return f"{len(problems)} input(s) AWS would refuse or the table does not cover:\n" + "\n".join(
        p.describe(stack) for p in problems
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_input_of_a_committed_stack_is_one_aws_accepts(stack: str) -> None:
    problems = check(stack_run(stack).resources)
    assert not problems, report(stack, problems)


@pytest.mark.parametrize("label", OPTION_RUNS)
def test_every_input_with_the_options_stacks_leave_off_is_one_aws_accepts(label: str) -> None:
    problems = check(option_run(label).resources)
    assert not problems, report(label, problems)


def test_the_runs_register_every_aws_type_the_table_knows() -> None:
    """A table row no run exercises is either dead or an option run that lost its coverage.
    The bootstrap's run counts too: its resources are checked against the same table
    (tests/test_bootstrap.py)."""
    from tests.test_bootstrap import REPOSITORY, run_bootstrap

    registered = {r.type for stack in STACKS for r in stack_run(stack).resources}
    registered |= {r.type for label in OPTION_RUNS for r in option_run(label).resources}
    registered |= {r.typ for r in run_bootstrap({"githubRepository": REPOSITORY}).mocks.resources}
    assert set(TABLE) - registered == set()


# -- the checker refuses what AWS refuses -----------------------------------------------------


@dataclass
class Fake:
    """A registered resource as the checker reads it."""

    type: str
    inputs: dict[str, Any]
    name: str = "elixir-app-dev-thing"
    urn: str = field(default="")

    def __post_init__(self) -> None:
        self.urn = self.urn or f"urn:pulumi:dev::elixir-devops::{self.type}::{self.name}"


def test_the_apostrophe_in_the_task_egress_rule_description_is_refused() -> None:
    rule = Fake(
        aws_limits.EGRESS_RULE,
        {
            "description": "Image pulls, logs, secrets and the app's own dependencies",
            "ipProtocol": "-1",
            "cidrIpv4": "0.0.0.0/0",
            "securityGroupId": "sg-0123456789abcdef0",
        },
        name="elixir-app-dev-task-out",
    )

    problems = check([rule])

    assert [(p.urn, p.path, p.value) for p in problems] == [
        (rule.urn, "description", "Image pulls, logs, secrets and the app's own dependencies")
    ]
    assert "._-:/()#,@[]+=&;{}!$*" in problems[0].rule
    assert problems[0].source == aws_limits.EC2_SG
    message = problems[0].describe("dev")
    assert rule.urn in message and "app's own" in message and aws_limits.EC2_SG in message


def _policy(characters: int) -> str:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Sid": ""}
    padding = characters - len(json.dumps(statement).replace(" ", ""))
    statement["Sid"] = "A" * padding
    return json.dumps(statement)


def _lifecycle(*rules: tuple[int, str]) -> str:
    """An ECR lifecycle policy of (rulePriority, tagStatus) rules keeping 5 images."""
    selection = {"countType": "imageCountMoreThan", "countNumber": 5}
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": priority,
                    "selection": {"tagStatus": status, **selection},
                    "action": {"type": "expire"},
                }
                for priority, status in rules
            ]
        }
    )


# (why, resource, the paths it must be reported at, a phrase of the rule broken)
REFUSED: list[tuple[str, Fake, set[str], str]] = [
    (
        "botocore max: an alarm description of 1,025 characters",
        Fake(aws_limits.ALARM, {"alarmDescription": "x" * 1025}),
        {"alarmDescription"},
        "at most 1024 characters",
    ),
    (
        "botocore pattern: an ECR repository name with capitals",
        Fake(aws_limits.REPOSITORY, {"name": "Elixir-App"}),
        {"name"},
        "must match",
    ),
    (
        "botocore pattern on the name Pulumi generates from the logical name",
        Fake(aws_limits.REPOSITORY, {}, name="Elixir-App-repository"),
        {"name (Pulumi's auto-name: logical name + '-' + 7 hex)"},
        "must match",
    ),
    (
        "botocore enum: a target group protocol AWS does not have",
        Fake(aws_limits.TARGET_GROUP, {"protocol": "HTTP2", "namePrefix": "app-"}),
        {"protocol"},
        "must be one of",
    ),
    (
        "botocore range: a health check interval of 301 s",
        Fake(aws_limits.TARGET_GROUP, {"namePrefix": "app-", "healthCheck": {"interval": 301}}),
        {"healthCheck.interval"},
        "at most 300",
    ),
    (
        "botocore type: a fractional health check interval",
        Fake(aws_limits.TARGET_GROUP, {"namePrefix": "app-", "healthCheck": {"interval": 10.5}}),
        {"healthCheck.interval"},
        "must be an integer",
    ),
    (
        "botocore list max: six alarm actions",
        Fake(
            aws_limits.ALARM, {"alarmActions": [f"arn:aws:sns:eu-west-1:1:t{i}" for i in range(6)]}
        ),
        {"alarmActions"},
        "at most 5 items",
    ),
    (
        "botocore \\p{L} pattern: an ECS tag value with an apostrophe",
        Fake(aws_limits.CLUSTER, {"tags": {"team": "it's ours"}}),
        {"tags['team']"},
        "must match",
    ),
    (
        "botocore \\p{Print} pattern: a scaling policy name with a tab",
        Fake(aws_limits.SCALING_POLICY, {"name": "scale\tcpu"}),
        {"name"},
        "must match",
    ),
    (
        "documented: a log retention of 8 days",
        Fake(aws_limits.LOG_GROUP, {"namePrefix": "/ecs/app-", "retentionInDays": 8.0}),
        {"retentionInDays"},
        "CloudWatch Logs retention",
    ),
    (
        "documented: an alarm period of 45 s",
        Fake(aws_limits.ALARM, {"period": 45.0, "evaluationPeriods": 3.0}),
        {"period"},
        "10, 20, 30 or a multiple of 60",
    ),
    (
        "documented: an alarm evaluated over more than 7 days",
        Fake(aws_limits.ALARM, {"period": 3600.0, "evaluationPeriods": 200.0}),
        {"(the whole resource)"},
        "604,800",
    ),
    (
        "documented: a metric query id starting with a capital",
        Fake(aws_limits.ALARM, {"metricQueries": [{"id": "Errors", "expression": "1"}]}),
        {"metricQueries[0].id"},
        "starting with a lowercase letter",
    ),
    (
        "documented: a target group namePrefix of 9 characters, and the 35-character name",
        Fake(aws_limits.TARGET_GROUP, {"namePrefix": "elixirapp"}),
        {"namePrefix", "name (namePrefix + 26 digits)"},
        "target group",
    ),
    (
        "documented: the load balancer name Pulumi makes from a 28-character logical name",
        Fake(aws_limits.LOAD_BALANCER, {}, name="elixir-app-production-eu-alb"),
        {"name (Pulumi's auto-name: logical name + '-' + 7 hex)"},
        "at most 32 alphanumeric characters",
    ),
    (
        "pulumi-aws: an IAM role whose logical name leaves no room for the random suffix",
        Fake(aws_limits.ROLE, {}, name="r" * 60),
        {"name (Pulumi's auto-name: logical name + '-' + 7 hex)"},
        "Pulumi refuses to auto-name beyond 64",
    ),
    (
        "documented: an inline role policy of 10,241 characters",
        Fake(aws_limits.ROLE_POLICY, {"role": "r1", "policy": _policy(10_241)}),
        {"policy", "policy (all inline policies of role r1)"},
        "10,240 characters",
    ),
    (
        "documented: a role trust policy of 2,049 characters",
        Fake(aws_limits.ROLE, {"assumeRolePolicy": _policy(2049)}),
        {"assumeRolePolicy"},
        "2,048 characters",
    ),
    (
        "documented: a KMS deletion window of 3 days (botocore allows 1-365)",
        Fake(aws_limits.KMS_KEY, {"deletionWindowInDays": 3.0}),
        {"deletionWindowInDays"},
        "7-30 days",
    ),
    (
        "documented: a health check timeout as long as its interval",
        Fake(
            aws_limits.TARGET_GROUP,
            {"namePrefix": "app-", "healthCheck": {"interval": 5.0, "timeout": 5.0}},
        ),
        {"healthCheck"},
        "smaller than the interval",
    ),
    (
        "documented: a security group rule from port 443 to port 80",
        Fake(aws_limits.INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443.0, "toPort": 80.0}),
        {"(the whole resource)"},
        "fromPort must not exceed toPort",
    ),
    (
        "documented: a security group description in German",
        Fake(aws_limits.SECURITY_GROUP, {"description": "Zugriff für Clients"}),
        {"description"},
        "._-:/()#,@[]+=&;{}!$*",
    ),
    (
        "documented: a tag key in the aws: namespace",
        Fake(aws_limits.VPC, {"tags": {"aws:owner": "me"}}),
        {"tags['aws:owner'] (key)"},
        "must not start with aws:",
    ),
    (
        "documented: 51 tags",
        Fake(aws_limits.VPC, {"tags": {f"k{i}": "v" for i in range(51)}}),
        {"tags"},
        "at most 50",
    ),
    (
        "documented: a subnet of /29",
        Fake(aws_limits.SUBNET, {"cidrBlock": "10.0.0.0/29"}),
        {"cidrBlock"},
        "/16 and /28",
    ),
    (
        "documented: a Fargate task of 256 CPU units with 4 GiB",
        Fake(
            aws_limits.TASK_DEFINITION,
            {"cpu": "256", "memory": "4096", "requiresCompatibilities": ["FARGATE"]},
        ),
        {"(the whole resource)"},
        "Fargate task's cpu and memory",
    ),
    (
        "documented: an https subscription to an http:// endpoint",
        Fake(
            aws_limits.SUBSCRIPTION, {"protocol": "https", "endpoint": "http://hooks.example.com"}
        ),
        {"(the whole resource)"},
        "of its protocol's kind",
    ),
    (
        "documented: an ECR lifecycle rule for tagged images without a tag list, after an any rule",
        Fake(aws_limits.LIFECYCLE_POLICY, {"policy": _lifecycle((2, "any"), (3, "tagged"))}),
        {"policy (as JSON).rules", "policy (as JSON).rules[1]"},
        "ECR lifecycle",
    ),
    (
        "documented: a dashboard of 501 widgets",
        Fake(
            aws_limits.DASHBOARD,
            {"dashboardBody": json.dumps({"widgets": [{"type": "text"}] * 501})},
        ),
        {"dashboardBody (as JSON).widgets"},
        "500 widgets",
    ),
    (
        "documented: a secret name (from its prefix) with a space",
        Fake(aws_limits.SECRET, {"namePrefix": "app secrets/"}),
        {"name (namePrefix + 26 digits)"},
        "ASCII letters, numbers and /_+=.@-",
    ),
]


@pytest.mark.parametrize(
    ("resource", "paths", "phrase"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_value_aws_refuses_is_reported_at_its_input(
    resource: Fake, paths: set[str], phrase: str
) -> None:
    problems = check([resource])

    assert {p.path for p in problems} == paths, report("case", problems)
    assert all(p.kind == "limit" and p.urn == resource.urn for p in problems)
    assert any(phrase in p.rule for p in problems), report("case", problems)


def test_values_aws_accepts_are_not_reported() -> None:
    """The other side of the rules above: Unicode letters in tags, 26 digits after a 6-character
    prefix, a 32-character generated load balancer name, a percentile statistic."""
    accepted = [
        Fake(aws_limits.CLUSTER, {"tags": {"équipe": "Plateforme été"}}),
        Fake(
            aws_limits.TARGET_GROUP,
            {
                "namePrefix": "elixir",
                "healthCheck": {"interval": 10.0, "timeout": 5.0, "matcher": "200-299,302"},
            },
        ),
        Fake(aws_limits.LOAD_BALANCER, {}, name="elixir-app-production-al"),
        Fake(
            aws_limits.ALARM,
            {"extendedStatistic": "p99.9", "period": 60.0, "evaluationPeriods": 1440.0},
        ),
        Fake(aws_limits.INGRESS_RULE, {"ipProtocol": "icmp", "fromPort": -1.0, "toPort": -1.0}),
        Fake(aws_limits.SECRET, {"recoveryWindowInDays": 0.0, "name": "elixir-app/db-url"}),
    ]
    assert check(accepted) == []


def test_the_inline_policies_of_one_role_count_together() -> None:
    policies = [
        Fake(aws_limits.ROLE_POLICY, {"role": "task", "policy": _policy(6000)}, name=f"p{i}")
        for i in range(2)
    ]
    other_role = Fake(aws_limits.ROLE_POLICY, {"role": "other", "policy": _policy(6000)})

    problems = check([*policies, other_role])

    assert [(p.urn, p.path, p.value) for p in problems] == [
        (policies[0].urn, "policy (all inline policies of role task)", 12_000)
    ]


def test_an_aws_type_without_rows_fails_and_other_providers_need_a_reason() -> None:
    unknown = Fake("aws:elasticache/cluster:Cluster", {"clusterId": "cache"})
    other_provider = Fake("tls:index/privateKey:PrivateKey", {"algorithm": "RSA"})
    out_of_scope = [
        Fake("docker:index/container:Container", {"name": "anything goes"}),
        Fake("random:index/randomPassword:RandomPassword", {"length": 86.0}),
    ]

    problems = check([unknown, other_provider, *out_of_scope])

    assert [(p.kind, p.urn) for p in problems] == [
        ("type", unknown.urn),
        ("type", other_provider.urn),
    ]


def test_an_input_no_row_accounts_for_fails() -> None:
    problems = check(
        [Fake(aws_limits.VPC, {"cidrBlock": "10.0.0.0/16", "ipv6NetmaskLength": 56.0})]
    )

    assert [(p.kind, p.path) for p in problems] == [("input", "ipv6NetmaskLength")]


# -- the table itself -------------------------------------------------------------------------


def test_every_row_names_an_input_of_its_pulumi_aws_resource() -> None:
    wrong = {(row.type, row.path): path_problem(row.type, row.path) for row in ROWS}
    assert {key: why for key, why in wrong.items() if why} == {}
    # The lookup itself can fail: a misspelt nested input is found out.
    assert path_problem(aws_limits.TARGET_GROUP, "healthCheck.intervall") is not None
    assert path_problem(aws_limits.ALARM, "metricQueries[].metric.dimensions.*key") is None


def test_every_botocore_reference_exists_and_its_pattern_compiles() -> None:
    missing, uncompilable = [], []
    for row in ROWS:
        if row.api is None:
            continue
        try:
            constraints = row.api.constraints()
        except KeyError as exc:
            missing.append(f"{row.type} {row.path}: {row.api} ({exc})")
            continue
        if pattern := constraints.get("pattern"):
            try:
                compiled_pattern(pattern)
            except Exception as exc:  # regress raises its own error type for bad patterns
                uncompilable.append(f"{row.api}: {pattern} ({exc})")
    assert missing == [] and uncompilable == []


def test_every_quoted_limit_still_reads_so_in_its_source() -> None:
    """Documented limits copied from botocore's documentation strings or pulumi-aws's
    docstrings: a model update that changes them makes this fail."""
    docs = {doc for row in ROWS for doc in row.docs} | {
        getattr(aws_limits, name)
        for name in dir(aws_limits)
        if isinstance(getattr(aws_limits, name), aws_limits.Doc)
    }
    quoted = [doc for doc in docs if doc.quote is not None]
    stale = [
        (doc.rule, doc.quote.text)
        for doc in quoted
        if doc.quote and doc.quote.text not in doc.quote.found_in()
    ]
    assert len(quoted) >= 25
    assert stale == []


def test_every_row_checks_something_or_says_why_not() -> None:
    silent = [
        (row.type, row.path) for row in ROWS if row.api is None and not row.docs and not row.note
    ]
    unsourced = sorted(
        {doc.source for row in ROWS for doc in row.docs if not doc.source.startswith("https://")}
    )
    assert silent == [] and unsourced == []


def test_the_out_of_scope_providers_are_not_aws() -> None:
    assert not any(prefix.startswith("aws") for prefix in OUT_OF_SCOPE)
