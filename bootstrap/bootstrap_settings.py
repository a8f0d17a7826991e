"""Settings of the bootstrap stack: every key read once, validated, frozen.

A bad value raises one ``ConfigError`` naming the key and the allowed form before any resource is
registered, exactly like the main project's settings (both use the shared ``config_reader``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config_reader import ConfigReader, current_stack_config, load_project_config

PROJECT_FILE = Path(__file__).with_name("Pulumi.yaml")

# The AWS stacks of the main project, in promotion order.
AWS_STACKS: tuple[str, ...] = ("dev", "staging", "prod")
# GitHub environment (with required reviewers) each stack deploys through; stacks not listed
# deploy from the deploy branch without an environment. The workflows use the same names.
GITHUB_ENVIRONMENT_BY_STACK: dict[str, str] = {"staging": "staging", "prod": "production"}

# GitHub: owner 1-39 alphanumerics or single hyphens; repository names of letters, digits, . _ -
REPOSITORY_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}"
BRANCH_PATTERN = r"[A-Za-z0-9._/-]{1,200}"
# S3 bucket_prefix: lowercase letters, digits, hyphens; AWS appends 26 characters (max 63).
BUCKET_PREFIX_PATTERN = r"[a-z0-9][a-z0-9-]{2,36}"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}"
OIDC_PROVIDER_ARN_PATTERN = (
    r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)


@dataclass(frozen=True)
class BootstrapSettings:
    github_repository: str
    """owner/name of the only repository whose workflows may assume the roles."""
    environments: tuple[str, ...]
    """Main-project stacks that get a deploy and a preview role, in promotion order."""
    deploy_branch: str
    """Branch whose pushes deploy stacks without a GitHub environment (dev)."""
    state_bucket_prefix: str
    """Name prefix of the state bucket."""
    main_project: str
    """Pulumi project name of the main program."""
    resource_prefix: str
    """Prefix of the IAM role and policy names the main stacks create."""
    existing_oidc_provider_arn: str | None
    """Reuse this GitHub identity provider instead of creating one."""
    pull_request_environments: bool = True
    """A role, a secrets key and the stack pattern pr-* for per-pull-request environments."""
    release_keep_count: int = 500
    """Release images the release registry keeps (the newest)."""
    github_environments: Mapping[str, str] = field(
        default_factory=lambda: dict(GITHUB_ENVIRONMENT_BY_STACK)
    )
    """GitHub environment of each stack deployed through one."""

    @property
    def tags(self) -> dict[str, str]:
        return {"project": f"{self.main_project}-bootstrap", "managed-by": "pulumi"}


def _unique_stack(seen: set[str]):
    def check(stack: str) -> str | None:
        if stack not in AWS_STACKS:
            return f"unknown environment; allowed: {', '.join(AWS_STACKS)}"
        if stack in seen:
            return "listed twice"
        seen.add(stack)
        return None

    return check


def parse_settings(
    values: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    namespace: str = "elixir-devops-bootstrap",
    secret_keys: frozenset[str] = frozenset(),
) -> BootstrapSettings:
    """Validated settings from config values (CLI strings or native YAML values)."""
    reader = ConfigReader(namespace, values, declared, secret_keys)
    repository = reader.string(
        "githubRepository",
        pattern=REPOSITORY_PATTERN,
        allowed="must be a GitHub repository as owner/name, e.g. acme/elixir-devops",
    )
    environments = reader.string_list("environments", item=_unique_stack(set()), min_items=1)
    deploy_branch = reader.string(
        "deployBranch",
        pattern=BRANCH_PATTERN,
        allowed="must be a branch name such as main",
        default="main",
    )
    reader.require(
        not re.search(r"(^|/)\.|\.\.|//|/$|\.lock$", deploy_branch),
        "deployBranch",
        deploy_branch,
        "must be a valid git branch name",
    )
    bucket_prefix = reader.string(
        "stateBucketPrefix",
        pattern=BUCKET_PREFIX_PATTERN,
        allowed="3-37 lowercase letters, digits or hyphens, starting with a letter or digit",
    )
    main_project = reader.string(
        "mainProject", pattern=NAME_PATTERN, allowed="must be a Pulumi project name"
    )
    resource_prefix = reader.string(
        "resourcePrefix",
        pattern=NAME_PATTERN,
        allowed="1-40 letters, digits, _ or -, starting with a letter or digit",
    )
    provider_arn = reader.optional_string(
        "existingOidcProviderArn",
        pattern=OIDC_PROVIDER_ARN_PATTERN,
        allowed="must be the ARN of a token.actions.githubusercontent.com identity provider",
    )
    pull_request_environments = reader.boolean("pullRequestEnvironments")
    release_keep_count = reader.integer("releaseKeepCount", minimum=10, maximum=10_000)
    reader.check_unknown_keys()
    reader.raise_if_problems()
    # Promotion order, whatever order the stack file lists them in.
    ordered = tuple(stack for stack in AWS_STACKS if stack in environments)
    return BootstrapSettings(
        github_repository=repository,
        environments=ordered,
        deploy_branch=deploy_branch,
        state_bucket_prefix=bucket_prefix,
        main_project=main_project,
        resource_prefix=resource_prefix,
        existing_oidc_provider_arn=provider_arn,
        pull_request_environments=pull_request_environments,
        release_keep_count=release_keep_count,
    )


def load_settings() -> BootstrapSettings:
    """The running stack's settings, with Pulumi.yaml's declared defaults."""
    namespace, declared = load_project_config(PROJECT_FILE)
    values, secret_keys = current_stack_config(namespace)
    return parse_settings(values, declared, namespace, secret_keys)
