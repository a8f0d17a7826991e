"""Each AWS component on its own (under mocks) and its pure helpers (without)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pytest
from parliament import analyze_policy_string

from components.aws.network import Network, NetworkArgs, subnet_cidrs
from components.aws.registry import (
    PULL_ACTIONS,
    ContainerRegistry,
    ContainerRegistryArgs,
    lifecycle_policy,
    pull_policy,
)
from components.aws.service import (
    capacity_strategy,
    ecr_repository_arn,
    execution_role_policy,
    runtime_environment,
    secret_resource_arn,
)
from components.image import BUILD_CACHE_TAG, ContainerImage, ContainerImageArgs
from settings import ImageSettings, NetworkSettings, RegistrySettings, ServiceSettings
from tests.harness import run_components

TAGS = {"stack": "test", "managed-by": "pulumi"}


@pytest.mark.parametrize("zones", [2, 3, 4, 6])
def test_subnets_do_not_overlap_and_fit_the_vpc(zones: int) -> None:
    public, private = subnet_cidrs("10.0.0.0/16", zones)
    assert len(public) == len(private) == zones
    networks = [ipaddress.IPv4Network(c) for c in public + private]
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    assert all(n.subnet_of(vpc) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_adding_a_zone_keeps_existing_subnets() -> None:
    two = subnet_cidrs("10.0.0.0/16", 2)
    three = subnet_cidrs("10.0.0.0/16", 3)
    assert three[0][:2] == two[0] and three[1][:2] == two[1]


def test_nat_per_zone_routes_each_private_subnet_through_its_own_zone() -> None:
    settings = NetworkSettings(availability_zones=3, nat_gateways="perAz")
    run = run_components(lambda: [Network("n", NetworkArgs(settings=settings, tags=TAGS)).vpc_id])
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    public_ids = {s.id for s in run.of_type("aws:ec2/subnet:Subnet") if "public" in s.name}
    assert {n.inputs["subnetId"] for n in nats} == public_ids
    routed = [
        t.inputs["routes"][0]["natGatewayId"]
        for t in run.of_type("aws:ec2/routeTable:RouteTable")
        if "private" in t.name
    ]
    assert sorted(routed) == sorted(str(n.id) for n in nats)


def test_single_nat_serves_every_private_subnet() -> None:
    settings = NetworkSettings(availability_zones=2, nat_gateways="single")
    run = run_components(lambda: [Network("s", NetworkArgs(settings=settings)).vpc_id])
    (nat,) = run.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [
        t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    assert [t.inputs["routes"][0]["natGatewayId"] for t in private_tables] == [nat.id, nat.id]


def test_existing_vpc_creates_nothing_and_uses_the_given_subnets() -> None:
    settings = NetworkSettings(
        existing_vpc_id="vpc-0abc1234",
        existing_public_subnet_ids=("subnet-0aaa1111", "subnet-0bbb2222"),
        existing_private_subnet_ids=("subnet-0ccc3333", "subnet-0ddd4444"),
    )
    holder: dict[str, Network] = {}

    def build() -> list[pulumi.Output[object]]:
        holder["n"] = Network("e", NetworkArgs(settings=settings))
        return [holder["n"].vpc_id]

    run = run_components(build)
    assert run.custom() == []
    assert holder["n"].assign_public_ip is False


def test_lifecycle_policy_expires_untagged_first_then_keeps_newest_tagged() -> None:
    rules = json.loads(lifecycle_policy(7, 30))["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"]["countNumber"] == 7
    assert rules[1]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }


@pytest.mark.parametrize(
    ("mutability", "expected", "filters"),
    [
        ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", [BUILD_CACHE_TAG]),
        ("MUTABLE", "MUTABLE", None),
    ],
)
def test_registry_tags_are_immutable_except_the_build_cache(
    mutability: str, expected: str, filters: list[str] | None
) -> None:
    registry_settings = RegistrySettings(tag_mutability=mutability)  # type: ignore[arg-type]
    run = run_components(
        lambda: [
            ContainerRegistry(
                f"r-{mutability}", ContainerRegistryArgs(settings=registry_settings, tags=TAGS)
            ).repository_url
        ]
    )
    repository = run.one("aws:ecr/repository:Repository").inputs
    assert repository["imageTagMutability"] == expected
    exclusions = repository.get("imageTagMutabilityExclusionFilters")
    assert (exclusions and [f["filter"] for f in exclusions]) == filters
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repository["tags"] == TAGS


STAGING_ACCOUNT = "210987654321"
PROD_ACCOUNT = "345678901234"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"


def test_pull_policy_lets_exactly_the_given_accounts_pull_and_nothing_else() -> None:
    document = json.loads(pull_policy([PROD_ACCOUNT, STAGING_ACCOUNT, PROD_ACCOUNT], "aws"))
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {
        "AWS": [f"arn:aws:iam::{STAGING_ACCOUNT}:root", f"arn:aws:iam::{PROD_ACCOUNT}:root"]
    }
    assert (
        sorted(statement["Action"])
        == sorted(PULL_ACTIONS)
        == [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ]
    )
    # A repository policy applies to its repository: no Resource, and no conditions to weaken.
    assert set(statement) == {"Sid", "Effect", "Principal", "Action"}
    assert json.loads(pull_policy([STAGING_ACCOUNT], "aws-cn"))["Statement"][0]["Principal"] == {
        "AWS": [f"arn:aws-cn:iam::{STAGING_ACCOUNT}:root"]
    }
    with pytest.raises(ValueError, match="at least one account"):
        pull_policy([])


def test_pull_policy_lints_clean_with_parliament() -> None:
    """parliament reads every document as an identity policy: it does not analyse Principal and
    reports the missing Resource that a repository policy must omit. So that is the only finding
    accepted, and the actions are linted once more against the repository's ARN (unknown actions,
    actions that do not apply to an ECR repository)."""
    policy = pull_policy([STAGING_ACCOUNT, PROD_ACCOUNT])
    findings = [(f.issue, str(f.detail)) for f in analyze_policy_string(policy).findings]
    assert findings == [("MALFORMED", "Statement contains neither Resource nor NotResource")]
    document = json.loads(policy)
    document["Statement"][0]["Resource"] = (
        "arn:aws:ecr:eu-west-1:123456789012:repository/elixir-app-dev-repository-1a2b3c4"
    )
    findings = [
        (f.issue, str(f.detail)) for f in analyze_policy_string(json.dumps(document)).findings
    ]
    assert findings == []


@pytest.mark.parametrize("accounts", [(), (STAGING_ACCOUNT,), (STAGING_ACCOUNT, PROD_ACCOUNT)])
def test_registry_admits_other_accounts_only_when_they_are_configured(
    accounts: tuple[str, ...],
) -> None:
    def build() -> list[pulumi.Output[str]]:
        registry = ContainerRegistry(
            f"pull-{len(accounts)}",
            ContainerRegistryArgs(settings=RegistrySettings(pull_account_ids=accounts)),
        )
        return [registry.repository_url]

    run = run_components(build)
    policies = run.of_type(REPOSITORY_POLICY)
    if not accounts:
        assert policies == []
        return
    (policy,) = policies
    repository = run.one("aws:ecr/repository:Repository")
    assert policy.inputs["repository"] == repository.outputs["name"]
    assert policy.parent == repository.urn
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    principals = statement["Principal"]["AWS"]
    assert sorted(principals) == sorted(f"arn:aws:iam::{a}:root" for a in accounts)
    assert sorted(statement["Action"]) == sorted(PULL_ACTIONS)


def _image_settings(tmp_path: Path, **overrides: object) -> ImageSettings:
    values: dict[str, object] = {
        "context": tmp_path,
        "dockerfile": tmp_path / "Dockerfile",
        "platform": "linux/arm64",
        "tag": "abc123",
        "build_args": {"MIX_ENV": "prod"},
    }
    values.update(overrides)
    return ImageSettings(**values)  # type: ignore[arg-type]


def test_image_builds_for_the_service_platform_and_caches_from_the_registry(
    tmp_path: Path,
) -> None:
    repository = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
    holder: dict[str, ContainerImage] = {}

    credentials = docker.RegistryArgs(
        server="123456789012.dkr.ecr.eu-west-1.amazonaws.com", username="AWS", password="token"
    )

    def build() -> list[pulumi.Output[object]]:
        holder["i"] = ContainerImage(
            "img",
            ContainerImageArgs(
                settings=_image_settings(tmp_path),
                repository_url=repository,
                registry=credentials,
            ),
        )
        return [holder["i"].image_ref]

    run = run_components(build)
    image = run.one("docker:index/image:Image").inputs
    assert image["registry"] == {
        "server": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "username": "AWS",
        "password": "token",
    }
    assert image["imageName"] == f"{repository}:abc123"
    assert image["build"]["platform"] == "linux/arm64"
    assert image["build"]["args"] == {"MIX_ENV": "prod", "BUILDKIT_INLINE_CACHE": "1"}
    assert image["build"]["cacheFrom"]["images"] == [f"{repository}:{BUILD_CACHE_TAG}"]
    assert image["buildOnPreview"] is True
    push = run.one("docker:index/registryImage:RegistryImage").inputs
    assert push["name"] == f"{repository}:{BUILD_CACHE_TAG}"
    digest = run.one("docker:index/image:Image").outputs["repoDigest"]
    assert push["triggers"] == {"digest": digest}
    # The provider looks for the push credentials nowhere else.
    assert push["authConfig"] == {
        "address": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "username": "AWS",
        "password": "token",
    }


def test_a_registry_without_credentials_gets_no_cache_push(tmp_path: Path) -> None:
    """The local engine keeps its own layer cache; a cache push would need auth it lacks."""
    repository = "localhost:5000/app"
    run = run_components(
        lambda: [
            ContainerImage(
                "local-img",
                ContainerImageArgs(settings=_image_settings(tmp_path), repository_url=repository),
            ).image_ref
        ]
    )
    image = run.one("docker:index/image:Image").inputs
    assert image["imageName"] == f"{repository}:abc123"
    assert "cacheFrom" not in image["build"]
    assert not run.of_type("docker:index/registryImage:RegistryImage")
    assert not run.of_type("docker:index/tag:Tag")


def test_prebuilt_image_builds_nothing(tmp_path: Path) -> None:
    reference = "ghcr.io/acme/app@sha256:" + "c" * 64
    settings = _image_settings(tmp_path, prebuilt=reference)
    outputs: dict[str, str] = {}

    def build() -> list[pulumi.Output[object]]:
        image = ContainerImage("pre", ContainerImageArgs(settings=settings, repository_url="x"))
        return [image.image_ref.apply(lambda ref: outputs.setdefault("ref", ref))]

    run = run_components(build)
    assert run.custom() == []
    assert outputs["ref"] == reference


def test_runtime_environment_gives_phoenix_what_it_needs_to_boot() -> None:
    settings = ServiceSettings(environment={"A": "1"}, deregistration_delay_seconds=30)
    env = {e["name"]: e["value"] for e in runtime_environment(settings, "app.example.com")}
    assert env == {
        "A": "1",
        "PHX_HOST": "app.example.com",
        "PHX_SERVER": "true",
        "PORT": "4000",
        "SHUTDOWN_DRAIN_MS": "40000",
    }


def test_image_references_map_to_their_ecr_repository() -> None:
    digest = "@sha256:" + "a" * 64
    assert (
        ecr_repository_arn(f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app{digest}")
        == "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
    )
    assert ecr_repository_arn(f"ghcr.io/acme/app{digest}") is None


def test_secret_json_keys_are_dropped_for_iam() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/runtime-AbCdEf"
    assert secret_resource_arn(f"{arn}:SECRET_KEY_BASE::") == arn
    assert secret_resource_arn(arn) == arn


def test_public_images_need_no_ecr_permissions() -> None:
    policy = json.loads(
        execution_role_policy(
            repository_arn=None,
            log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/app",
            secret_arns=["arn:aws:ssm:eu-west-1:123456789012:parameter/app/db"],
        )
    )
    actions = [s["Action"] for s in policy["Statement"]]
    assert not any("ecr:" in str(a) for a in actions)
    assert "ssm:GetParameters" in actions


def test_spot_never_carries_the_first_task() -> None:
    assert capacity_strategy(False) == [("FARGATE", 1, 1)]
    strategy = capacity_strategy(True)
    assert strategy[0] == ("FARGATE", 1, 1)
    assert ("FARGATE_SPOT", 0, 3) in strategy
