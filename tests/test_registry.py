"""ContainerRegistry (aws): tag mutability, lifecycle, cross-account pulls."""

from __future__ import annotations

import json

import pulumi
import pytest
from parliament import analyze_policy_string

from components.aws.registry import (
    PULL_ACTIONS,
    ContainerRegistry,
    ContainerRegistryArgs,
    lifecycle_policy,
    pull_policy,
)
from components.image import BUILD_CACHE_TAG
from program import registry_args
from tests.harness import COMPONENT_TAGS as TAGS
from tests.harness import configure, run_components


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
    args = registry_args(configure(registryTagMutability=mutability).registry, TAGS, False)
    run = run_components(lambda: [ContainerRegistry(f"r-{mutability}", args).repository_url])
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


def test_the_stacks_expiry_and_deletion_settings_reach_the_repository() -> None:
    settings = configure(
        registryUntaggedExpiryDays=3, registryKeepTaggedCount=12, registryForceDelete=True
    ).registry
    run = run_components(
        lambda: [ContainerRegistry("cfg", registry_args(settings, TAGS, True)).repository_url]
    )
    repository = run.one("aws:ecr/repository:Repository")
    assert repository.inputs["forceDelete"] is True
    assert repository.retain_on_delete and repository.protect
    policy = run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"]
    untagged, tagged = json.loads(policy)["rules"]
    assert untagged["selection"]["countNumber"] == 3
    assert tagged["selection"]["countNumber"] == 12


@pytest.mark.parametrize("accounts", [(), (STAGING_ACCOUNT,), (STAGING_ACCOUNT, PROD_ACCOUNT)])
def test_registry_admits_other_accounts_only_when_they_are_configured(
    accounts: tuple[str, ...],
) -> None:
    def build() -> list[pulumi.Output[str]]:
        registry = ContainerRegistry(
            f"pull-{len(accounts)}",
            ContainerRegistryArgs(
                tag_mutability="IMMUTABLE",
                untagged_expiry_days=7,
                keep_tagged_count=30,
                pull_account_ids=accounts,
            ),
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
