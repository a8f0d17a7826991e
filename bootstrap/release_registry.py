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

RELEASE_TAG_PREFIX = "release-"
"""Tag of each build: release-<commit sha> (the deploy workflow pushes it)."""
UNTAGGED_EXPIRY_DAYS = 1


def release_repository_name(project: str) -> str:
    return f"{project}-release"


def release_lifecycle_policy(keep_count: int) -> str:
    """Expire untagged leftovers after a day; keep the newest ``keep_count`` release images.

    Deploys pin digests of tagged images, and tags are immutable, so an image a stack runs is
    never untagged; it can only age out of the newest ``keep_count`` builds, which prod would
    have to lag behind main by that many merges (docs/ci.md).
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
            "rulePriority": 2,
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
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs(
            {"repository_url": self.repository_url, "repository_arn": self.repository_arn}
        )
