"""ReleaseRegistry: the one ECR repository every stack deploys its image from (build once).

Creates ``aws.ecr.Repository`` ``<mainProject>-release`` (immutable tags, scan on push, kept on
``pulumi destroy``: protected) and its ``aws.ecr.LifecyclePolicy``. The deploy workflow builds
each commit once, pushes it here as ``release-<sha>``, and dev, staging and prod all run that
digest (``prebuiltImage``); their task execution roles pull it with the grant the main program
derives from the reference. Unlike dev's own registry (force-deleted, few tags kept), nothing
here disappears while a stack may still run it: the lifecycle only ever removes untagged
leftovers of failed pushes and release images beyond the newest ``keep_count``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# What only the release role may do to the repository's images.
WRITE_ACTIONS = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
)
# What no CI role may do to the repository itself (the bootstrap's admin still may).
CONFIGURATION_ACTIONS = (
    "ecr:DeleteRepository",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
)

RELEASE_TAG_PREFIX = "release-"
"""Tag of each build: release-<commit sha> (the deploy workflow pushes it)."""
DEPLOYED_TAG_PREFIX = "deployed-"
"""Tag the prod job adds to the image it deployed (scripts/release.py protect)."""
DEPLOYED_KEEP_COUNT = 100
"""Deployed images kept: prod's rollback window, however far main has moved on."""
UNTAGGED_EXPIRY_DAYS = 1


def release_repository_name(project: str) -> str:
    return f"{project}-release"


def release_lifecycle_policy(keep_count: int) -> str:
    """Expire untagged leftovers after a day; keep the newest ``keep_count`` release images.

    Deploys pin digests of tagged images, and tags are immutable, so an image a stack runs is
    never untagged. Release builds age out beyond the newest ``keep_count``, except the images
    the prod job tagged ``deployed-*`` (the newest ``DEPLOYED_KEEP_COUNT`` of them): prod keeps
    what it runs and what it may roll back to, however far main has moved on (docs/ci.md).
    """
    rules = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {UNTAGGED_EXPIRY_DAYS} day",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_EXPIRY_DAYS,
            },
            "action": {"type": "expire"},
        },
        {
            # First: an image with a deployed-* tag is never expired by the release-* rule below
            # (ECR: an image a higher-priority rule selects is not expired by a lower one).
            "rulePriority": 2,
            "description": f"Keep the newest {DEPLOYED_KEEP_COUNT} deployed images",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": [DEPLOYED_TAG_PREFIX],
                "countType": "imageCountMoreThan",
                "countNumber": DEPLOYED_KEEP_COUNT,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": f"Keep the newest {keep_count} release builds",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": [RELEASE_TAG_PREFIX],
                "countType": "imageCountMoreThan",
                "countNumber": keep_count,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


def only_pushed_by_policy(pusher_role_arn: str) -> str:
    """Repository policy: nobody but the release role writes or deletes images here, and no CI
    role (every one lives under the release role's IAM path) changes the repository itself.

    The deploy roles may manage ECR repositories on ``*`` (their stacks' own, auto-named); these
    Denies, in the repository itself, keep them (and anyone else in the account) from pushing
    over or deleting what prod runs, or from shortening its lifecycle. ECR's own lifecycle
    expiry is not a request and is not affected. Pulls stay with IAM (the stacks' execution
    roles); the bootstrap's admin can still change the lifecycle and this policy.
    """
    ci_roles = pusher_role_arn.rsplit("/", 1)[0] + "/*"
    statements = [
        {
            "Sid": "OnlyTheReleaseRoleWritesImages",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(WRITE_ACTIONS),
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": pusher_role_arn}},
        },
        {
            "Sid": "NoCiRoleChangesTheRepository",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(CONFIGURATION_ACTIONS),
            "Condition": {"ArnLike": {"aws:PrincipalArn": ci_roles}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class ReleaseRegistryArgs:
    project: str
    """Pulumi project of the main program (names the repository)."""
    keep_count: int
    """Release images kept (the newest); older ones expire."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class ReleaseRegistry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    """``<account>.dkr.ecr.<region>.amazonaws.com/<project>-release`` (RELEASE_REPOSITORY_URL)."""
    repository_arn: pulumi.Output[str]
    """ARN the release role pushes to."""

    def __init__(
        self, name: str, args: ReleaseRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:ReleaseRegistry", name, None, opts)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            # A fixed name: the workflows and the stacks' pull grants name it.
            name=release_repository_name(args.project),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            force_delete=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=release_lifecycle_policy(args.keep_count),
            opts=pulumi.ResourceOptions(parent=repository),
        )
        self._repository = repository
        self._name = name
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs(
            {"repository_url": self.repository_url, "repository_arn": self.repository_arn}
        )

    def only_pushed_by(self, pusher_role_arn: pulumi.Input[str]) -> None:
        """Adds the repository policy reserving writes to ``pusher_role_arn`` (the release role,
        which is created after the repository because its own policy names the repository)."""
        aws.ecr.RepositoryPolicy(
            f"{self._name}-only-pushed-by-release-role",
            repository=self._repository.name,
            policy=pulumi.Output.from_input(pusher_role_arn).apply(only_pushed_by_policy),
            opts=pulumi.ResourceOptions(parent=self._repository),
        )
