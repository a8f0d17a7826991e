"""Stack settings: defaults, every committed stack valid, every bad value named with its fix."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

import program
import settings
from config_reader import ConfigError, ConfigReader, cli_value
from tests.harness import STACKS, project_values, run_components, stack_file_config

ARN_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-url-AbCdEf"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def problems_of(values: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as raised:
        settings.load("test", values)
    return raised.value.problems


def test_defaults_are_the_local_target_on_port_4000_with_health_checks() -> None:
    loaded = settings.load("test", {})
    assert loaded.target == "local"
    assert loaded.service.container_port == 4000
    assert loaded.service.health_check_path == "/health"
    assert loaded.image.platform == "linux/amd64"
    assert loaded.registry.tag_mutability == "IMMUTABLE"
    assert loaded.service.stop_timeout_seconds > loaded.service.deregistration_delay_seconds


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_is_valid(stack: str) -> None:
    loaded = settings.load(stack, project_values(stack_file_config(stack)))
    assert loaded.stack == stack
    assert loaded.tags["stack"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_stack_values_have_the_types_pulumi_yaml_declares(stack: str) -> None:
    """What `pulumi up` checks before starting the program (project config types)."""
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for key, value in project_values(stack_file_config(stack)).items():
        declared = settings.DECLARED_KEYS.get(key)
        if declared is None:
            assert key in settings.common.OBJECT_KEYS, f"{stack}: {key} is not declared"
            assert isinstance(value, dict), f"{stack}: {key} must be an object"
            continue
        expected = python_types[declared["type"]]
        assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (
            f"{stack}: {key} = {value!r} is not {declared['type']}"
        )


def test_every_declared_key_has_a_description_a_typed_default_and_is_read() -> None:
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for key, declaration in settings.DECLARED_KEYS.items():
        assert declaration.get("description"), key
        # A declared key without a default is *required* by the Pulumi CLI.
        assert "default" in declaration, key
        assert isinstance(declaration["default"], python_types[declaration["type"]]), key
    # A spying reader records every key load() reads: no declared key may be dead.
    original = settings.ConfigReader
    seen: set[str] = set()

    class Spy(ConfigReader):
        def _raw(self, key: str) -> Any:
            seen.add(key)
            return super()._raw(key)

    settings.ConfigReader = Spy  # type: ignore[misc]
    try:
        settings.load("test", {})
    finally:
        settings.ConfigReader = original  # type: ignore[misc]
    assert set(settings.DECLARED_KEYS) <= seen, set(settings.DECLARED_KEYS) - seen
    assert set(settings.common.OBJECT_KEYS) <= seen


BAD_VALUES: list[tuple[dict[str, Any], str, str]] = [
    ({"target": "gcp"}, "target", "allowed values: local, aws"),
    ({"architecture": "amd64"}, "architecture", "allowed values: x86_64, arm64, auto"),
    ({"appName": "My_App"}, "appName", "lowercase letters"),
    (
        {"target": "aws", "appName": "a-very-long-app-name"},
        "appName",
        "load balancer's name '<appName>-test-alb-<suffix>' is limited to 32",
    ),
    ({"cpu": 300}, "cpu", "allowed values: 256, 512"),
    ({"cpu": 256, "memory": 4096}, "memory", "cpu=256 accepts memory 512-2048"),
    ({"memory": "lots"}, "memory", "whole number"),
    ({"containerPort": 80}, "containerPort", "between 1024 and 65535"),
    ({"containerPort": 70000}, "containerPort", "between 1024 and 65535"),
    ({"desiredCount": 5, "maxCount": 3}, "desiredCount", "minCount (1) ≤ desiredCount"),
    ({"minCount": 3, "desiredCount": 2, "maxCount": 4}, "desiredCount", "minCount (3)"),
    ({"healthCheckPath": "health"}, "healthCheckPath", "starting with '/'"),
    ({"vpcCidr": "10.0.0.0/33"}, "vpcCidr", "IPv4 CIDR"),
    ({"vpcCidr": "10.0.0.1/16"}, "vpcCidr", "IPv4 CIDR"),
    ({"vpcCidr": "10.0.0.0/8"}, "vpcCidr", "/16 to /23"),
    ({"vpcCidr": "10.0.0.0/24"}, "vpcCidr", "needs at least a /27"),
    ({"ingressCidrs": ["0.0.0.0/0", "nope"]}, "ingressCidrs", "IPv4 CIDR"),
    ({"ingressCidrs": []}, "ingressCidrs", "at least 1"),
    ({"natGateways": "two"}, "natGateways", "none, single, perAz"),
    ({"availabilityZones": 1}, "availabilityZones", "between 2 and 6"),
    ({"logRetentionDays": 10}, "logRetentionDays", "allowed values: 1, 3, 5, 7, 14"),
    ({"deregistrationDelaySeconds": 300}, "deregistrationDelaySeconds", "between 0 and 105"),
    ({"registryTagMutability": "immutable"}, "registryTagMutability", "IMMUTABLE, MUTABLE"),
    ({"prebuiltImage": "nginx:latest"}, "prebuiltImage", "pinned by digest"),
    ({"imageTag": "has space"}, "imageTag", "a Docker tag"),
    ({"imageDockerfile": "app/Nope"}, "imageDockerfile", "file not found"),
    ({"secrets": {"DATABASE_URL": "postgres://x"}}, "secrets", "Secrets Manager or SSM"),
    (
        {"secrets": {"DATABASE_URL": ARN_SECRET.removesuffix("-AbCdEf")}},
        "secrets",
        "6-character suffix",
    ),
    ({"secrets": {"PORT": ARN_SECRET}}, "secrets", "set by the service itself"),
    ({"environment": {"SECRET_KEY_BASE": "x"}}, "environment", "set by the service itself"),
    ({"environment": {"bad-name": "x"}}, "environment", "an environment variable name"),
    (
        {"environment": {"DATABASE_URL": "postgres://u:p@db/app"}},
        "environment",
        "looks like a secret",
    ),
    ({"environment": {"SMTP_PASSWORD": "hunter2"}}, "environment", "looks like a secret"),
    ({"environment": {"A": "1"}, "secrets": {"A": ARN_SECRET}}, "secrets", "one place only"),
    ({"environment": "A=1"}, "environment", "YAML list or object"),
    ({"certificateArn": CERTIFICATE}, "domain", "required with certificateArn"),
    ({"certificateArn": "arn:aws:iam::1:cert"}, "certificateArn", "ACM certificate ARN"),
    ({"domain": "Not A Host"}, "domain", "host name"),
    ({"vpcId": "vpc-0abc1234"}, "publicSubnetIds", "≥ 2 AZs"),
    ({"privateSubnetIds": ["subnet-0abc1234"]}, "vpcId", "required when"),
    ({"publicSubnetIds": ["sn-1"]}, "publicSubnetIds", "subnet id"),
    ({"enableExecuteCommand": "yes"}, "enableExecuteCommand", "true or false"),
    ({"desireCount": 2}, "desireCount", "did you mean elixir-devops:desiredCount?"),
    ({"collectorImage": "amazon/aws-otel-collector:latest"}, "collectorImage", "version tag"),
    ({"registryPullAccountIds": ["12345678901"]}, "registryPullAccountIds", "exactly 12 digits"),
    ({"registryPullAccountIds": ["prod"]}, "registryPullAccountIds", "AWS account id"),
    ({"registryPullAccountIds": [210987654321]}, "registryPullAccountIds", "list of strings"),
]


@pytest.mark.parametrize(
    ("values", "key", "allowed"), BAD_VALUES, ids=[f"{k}:{a}" for _, k, a in BAD_VALUES]
)
def test_bad_value_is_named_with_what_is_allowed(
    values: dict[str, Any], key: str, allowed: str
) -> None:
    problems = problems_of(values)
    matching = [p for p in problems if p.startswith(f"elixir-devops:{key} = ")]
    assert matching, problems
    assert any(allowed in p for p in matching), matching


@pytest.mark.parametrize(
    ("values", "key", "allowed"), BAD_VALUES, ids=[f"{k}:{a}" for _, k, a in BAD_VALUES]
)
def test_bad_value_stops_the_aws_program_before_any_resource(
    values: dict[str, Any], key: str, allowed: str
) -> None:
    dev = project_values(stack_file_config("dev"))

    def build() -> list[pulumi.Output[Any]]:
        outputs = program.build(settings.load("dev", {**dev, **values}))
        return [pulumi.Output.from_input(value) for value in outputs.values()]

    run = run_components(build)
    assert run.error is not None and f"elixir-devops:{key} = " in run.error
    assert run.resources == [], [r.urn for r in run.resources]


def test_all_problems_are_reported_together_in_one_message() -> None:
    with pytest.raises(ConfigError) as raised:
        settings.load("test", {"cpu": 300, "target": "gcp", "healthCheckPath": "x"})
    message = str(raised.value)
    assert message.startswith("Invalid stack configuration (3 problems):")
    for key in ("cpu", "target", "healthCheckPath"):
        assert f"elixir-devops:{key}" in message


def test_config_error_prints_without_a_traceback() -> None:
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_values_arrive_as_cli_strings_too() -> None:
    """The CLI hands the program strings, JSON for lists and objects."""
    native = {"cpu": 512, "memory": 1024, "fargateSpot": True, "ingressCidrs": ["10.0.0.0/8"]}
    from_cli = {k: cli_value(v) for k, v in native.items()}
    assert settings.load("x", from_cli) == settings.load("x", native)


def test_environment_is_sorted_and_drops_nulls() -> None:
    loaded = settings.load("x", {"environment": {"B": "2", "A": 1, "C": None}})
    assert list(loaded.service.environment.items()) == [("A", "1"), ("B", "2")]


def test_secret_values_are_not_echoed_in_errors() -> None:
    reader = ConfigReader("p", {"token": "hunter2"}, {}, secret_keys={"token"})
    reader.string("token", choices=("a",))
    assert reader.problems == ["p:token = <secret>: allowed values: a"]


@pytest.mark.parametrize(
    ("target", "machine", "expected"),
    [
        ("local", "arm64", "arm64"),  # Apple Silicon
        ("local", "aarch64", "arm64"),
        ("local", "x86_64", "x86_64"),
        ("local", "AMD64", "x86_64"),
        ("aws", "arm64", "x86_64"),  # Fargate default, whatever the laptop
    ],
)
def test_auto_architecture_is_native_for_local_and_x86_64_for_fargate(
    target: str, machine: str, expected: str
) -> None:
    assert settings.common.resolve_architecture("auto", target, machine) == expected
    assert settings.common.resolve_architecture("arm64", target, machine) == "arm64"


def test_arm64_builds_and_runs_arm64() -> None:
    loaded = settings.load("x", {"architecture": "arm64"})
    assert loaded.image.platform == "linux/arm64"
    assert loaded.service.cpu_architecture == "ARM64"


def test_registry_pull_accounts_default_to_none_and_keep_the_given_ids() -> None:
    assert settings.load("test", {}).registry.pull_account_ids == ()
    loaded = settings.load("test", {"registryPullAccountIds": ["210987654321", "345678901234"]})
    assert loaded.registry.pull_account_ids == ("210987654321", "345678901234")
    # From the CLI (`pulumi config set --path`), arrays arrive as JSON strings.
    loaded = settings.load("test", {"registryPullAccountIds": '["210987654321"]'})
    assert loaded.registry.pull_account_ids == ("210987654321",)


# What real AWS would refuse later, refused here first (issue: what a real `pulumi up` rejects).


def test_arm64_tasks_are_refused_on_fargate_spot() -> None:
    (problem,) = problems_of({"target": "aws", "architecture": "arm64", "fargateSpot": True})
    assert problem.startswith("elixir-devops:fargateSpot = True")
    assert "x86_64" in problem
    assert settings.load("test", {"target": "aws", "architecture": "x86_64", "fargateSpot": True})


def test_secret_kms_keys_are_key_arns() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/12345678-1234-1234-1234-123456789012"
    loaded = settings.load("test", {"target": "aws", "secretsKmsKeyArns": [key]})
    assert loaded.service.secret_kms_key_arns == (key,)
    (problem,) = problems_of({"target": "aws", "secretsKmsKeyArns": ["alias/app"]})
    assert "secretsKmsKeyArns" in problem and "not an alias" in problem


@pytest.mark.parametrize(
    "hook",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "https://outlook.office.com/webhook/abc",
        "https://acme.webhook.office.com/webhookb2/abc",
        "https://discord.com/api/webhooks/1/abc",
        "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k",
    ],
)
def test_chat_incoming_webhooks_are_refused_as_alarm_hooks(hook: str) -> None:
    (problem,) = problems_of({"target": "aws", "alarmWebhooks": [hook]})
    assert "alarmWebhooks" in problem and "never confirms an SNS subscription" in problem


def test_a_webhook_that_confirms_is_accepted() -> None:
    hook = "https://events.pagerduty.com/integration/abc/enqueue"
    assert settings.load("test", {"target": "aws", "alarmWebhooks": [hook]})


@pytest.mark.parametrize("key", ["imageContext", "imageDockerfile"])
def test_a_path_too_long_for_the_os_is_a_config_error_not_a_crash(key: str) -> None:
    problems = problems_of({key: "x" * 5000})
    assert any(p.startswith(f"elixir-devops:{key} = ") for p in problems), problems


def test_local_secrets_on_an_aws_stack_are_refused_not_dropped() -> None:
    (problem,) = problems_of({"target": "aws", "localSecrets": {"SMTP_PASSWORD": "hunter2"}})
    assert "localSecrets" in problem and "local target only" in problem
    assert "hunter2" not in problem


def test_a_credential_pasted_into_secrets_is_never_echoed() -> None:
    credential = "AKIAIOSFODNN7EXAMPLE/wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
    (problem,) = problems_of({"target": "aws", "secrets": {"AWS_KEY": credential}})
    assert "secrets" in problem and "AWS_KEY" in problem
    assert credential not in problem and "value hidden" in problem


@pytest.mark.parametrize(
    "name", ["API_KEY", "STRIPE_API_KEY", "SMTP_PASS", "GOOGLE_CREDENTIALS", "JWT_PRIVATE_KEY"]
)
def test_more_secret_looking_names_are_refused_in_plain_environment(name: str) -> None:
    (problem,) = problems_of({"environment": {name: "x"}})
    assert name in problem and "looks like a secret" in problem
