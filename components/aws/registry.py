"""ContainerRegistry (aws): an ECR repository for the app's images.

Creates: ``aws.ecr.Repository`` (scan on push, KMS encryption, the given tag mutability, the
build-cache tag exempt from immutability) and ``aws.ecr.LifecyclePolicy`` (expire untagged images,
keep the newest tagged ones), so the repository does not grow forever. With
``pull_account_ids`` also an ``aws.ecr.RepositoryPolicy`` that lets exactly those accounts pull,
so staging/prod in other accounts can run the image dev built (build once, promote the digest).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.aws.iam import PULL_ACTIONS, policy_document
from components.image import BUILD_CACHE_TAG
from components.urns import component_options


def lifecycle_policy(untagged_expiry_days: int, keep_tagged_count: int) -> str:
    """ECR lifecycle rules, lowest priority number first (ECR evaluates them in that order)."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged_expiry_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the newest {keep_tagged_count} tagged images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep_tagged_count,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


def pull_policy(account_ids: Sequence[str], partition: str = "aws") -> str:
    """Repository policy letting exactly ``account_ids`` pull images, and nothing more.

    An account's ``root`` principal hands the decision to that account's IAM: its roles (the ECS
    execution role of a staging/prod stack) still need their own Allow, which the service's
    execution role policy already grants on the repository its image reference names.
    """
    if not account_ids:
        raise ValueError("pull_policy needs at least one account id")
    principals = [f"arn:{partition}:iam::{account}:root" for account in sorted(set(account_ids))]
    statement = {
        "Sid": "PullFromPromotingAccounts",
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": list(PULL_ACTIONS),
    }
    return policy_document([statement])


@dataclass(frozen=True)
class ContainerRegistryArgs:
    tag_mutability: Literal["IMMUTABLE", "MUTABLE"]
    """``IMMUTABLE``: a pushed tag never moves (except the build-cache tag)."""
    untagged_expiry_days: int
    """Untagged images older than this are expired."""
    keep_tagged_count: int
    """How many tagged images to keep; older ones are expired."""
    force_delete: bool = False
    """Allow destroying the repository while it still holds images."""
    pull_account_ids: Sequence[str] = ()
    """Other AWS accounts whose roles may pull the images (a repository policy); () - none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""
    retain_on_delete: bool = False
    """Keep (and protect) the repository when the stack is destroyed."""


class ContainerRegistry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    """``<account>.dkr.ecr.<region>.amazonaws.com/<name>``: where images are pushed."""
    repository_arn: pulumi.Output[str]
    """ARN the execution role may pull from (and nothing else)."""
    repository_name: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    """The AWS account id that owns the registry."""

    def __init__(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:ContainerRegistry",
            name,
            None,
            component_options(opts, "elixir-devops:index:ContainerRegistry"),
        )
        mutability = "IMMUTABLE_WITH_EXCLUSION" if args.tag_mutability == "IMMUTABLE" else "MUTABLE"
        repository = aws.ecr.Repository(
            f"{name}-repository",
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filters=(
                [{"filter": BUILD_CACHE_TAG, "filter_type": "WILDCARD"}]
                if mutability == "IMMUTABLE_WITH_EXCLUSION"
                else None
            ),
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=args.force_delete,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=args.retain_on_delete, protect=args.retain_on_delete
            ),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.untagged_expiry_days, args.keep_tagged_count),
            opts=pulumi.ResourceOptions(parent=repository),
        )
        if args.pull_account_ids:
            account_ids = args.pull_account_ids
            partition = aws.get_partition_output()
            aws.ecr.RepositoryPolicy(
                f"{name}-pull-policy",
                repository=repository.name,
                policy=partition.partition.apply(lambda p: pull_policy(account_ids, p)),
                opts=pulumi.ResourceOptions(parent=repository),
            )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.registry_id = repository.registry_id
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
                "repository_name": self.repository_name,
                "registry_id": self.registry_id,
            }
        )

    def credentials(self) -> docker.RegistryArgs:
        """Short-lived push credentials for this registry."""
        token = aws.ecr.get_authorization_token_output(registry_id=self.registry_id)
        return docker.RegistryArgs(
            server=self.repository_url.apply(lambda url: url.split("/")[0]),
            username=token.user_name,
            password=pulumi.Output.secret(token.password),
        )
