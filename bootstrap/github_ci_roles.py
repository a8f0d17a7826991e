"""GithubCiRoles: the IAM roles GitHub Actions assumes through OIDC, two per main stack.

Creates the `token.actions.githubusercontent.com` identity provider (unless the account already
has it) and, for each stack, a deploy role (trusted by the main branch or the stack's GitHub
environment; manages the stack's AWS resources) and a preview role (trusted by pull requests;
reads only). Trust and permissions are documented in ``iam_documents``: what is scoped to a stack
is the role's inline policy; the service statements (on ``*``, the same for every stack) are
customer-managed policies attached to the deploy roles and the pull-request role, which keeps
the inline policies far from IAM's 10,240-character limit per role.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap.iam_documents import (
    GITHUB_OIDC_URL,
    PULL_REQUEST_STACKS,
    STS_AUDIENCE,
    StackScope,
    deploy_policy,
    deploy_service_policies,
    deploy_subjects,
    preview_policy,
    preview_subjects,
    pull_request_environment_policy,
    pull_request_environment_subjects,
    pull_request_guard_policy,
    pull_request_service_policies,
    release_push_policy,
    release_subjects,
    trust_policy,
)

# Roles live under their own IAM path, outside the <resourcePrefix>-<stack>-* names a deploy role
# may manage: a deploy role can never rewrite its own permissions. Their customer-managed
# policies live there too, so no CI role can edit or delete one (its ARN is
# policy/github-actions/..., which no role's IAM statements match).
CI_ROLE_PATH = "/github-actions/"


@dataclass(frozen=True)
class GithubCiRolesArgs:
    repository: str
    """owner/name of the only repository trusted."""
    stacks: Sequence[str]
    """Main-project stacks to create roles for."""
    github_environments: Mapping[str, str]
    """GitHub environment per stack; stacks without one deploy from `deploy_branch`."""
    deploy_branch: str
    """Branch whose pushes deploy stacks without an environment."""
    state_bucket_arn: pulumi.Input[str]
    """The state bucket (each role reaches only its stack's files)."""
    state_bucket_key_arn: pulumi.Input[str]
    """The KMS key encrypting the bucket (used through S3 only)."""
    secrets_key_arns: pulumi.Input[Mapping[str, str]]
    """The secrets provider key of each stack."""
    main_project: str
    """Pulumi project name of the main program."""
    resource_prefix: str
    """Prefix of the IAM names the main stacks create."""
    existing_provider_arn: str | None = None
    """Use this identity provider instead of creating one."""
    release_repository_arn: pulumi.Input[str] | None = None
    """The release registry: a role that pushes to it (build once), and the PR role's Deny."""
    pull_request_secrets_key_arn: pulumi.Input[str] | None = None
    """The secrets key of the pr-* stacks; None - no pull-request environment role."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class GithubCiRoles(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    """ARN of the GitHub OIDC identity provider."""
    deploy_role_arns: pulumi.Output[dict[str, str]]
    """Deploy role ARN per stack (repository variables AWS_DEPLOY_ROLE_ARN_<STACK>)."""
    preview_role_arns: pulumi.Output[dict[str, str]]
    """Preview role ARN per stack (repository variables AWS_PREVIEW_ROLE_ARN_<STACK>)."""
    release_role_arn: pulumi.Output[str] | None
    """Role of the build job pushing release images (AWS_RELEASE_ROLE_ARN)."""
    pull_request_role_arn: pulumi.Output[str] | None
    """Role of the pull-request environments, pr-* only (AWS_PR_ROLE_ARN)."""

    def __init__(
        self, name: str, args: GithubCiRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:GithubCiRoles", name, None, opts)
        self._name = name
        self._args = args
        if args.existing_provider_arn:
            self.provider_arn = pulumi.Output.from_input(args.existing_provider_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.provider_arn = provider.arn

        deploy: dict[str, pulumi.Output[str]] = {}
        preview: dict[str, pulumi.Output[str]] = {}
        # One set for all deploy roles: the service statements do not depend on the stack.
        deploy_services = self._service_policies(
            "deploy", deploy_service_policies(), "the CI deploy roles"
        )
        for stack in args.stacks:
            environment = args.github_environments.get(stack)
            secrets_key = pulumi.Output.from_input(args.secrets_key_arns).apply(
                lambda keys, stack=stack: keys[stack]
            )
            deploy[stack] = self._role(
                stack,
                "deploy",
                deploy_subjects(args.repository, environment, args.deploy_branch),
                f"pulumi up of {args.main_project}/{stack} from GitHub Actions",
                self._scoped(stack, secrets_key, lambda scope, _: deploy_policy(scope)),
                service_policies=deploy_services,
            )
            preview[stack] = self._role(
                stack,
                "preview",
                preview_subjects(args.repository),
                f"pulumi preview of {args.main_project}/{stack} from pull requests (read-only)",
                self._scoped(stack, secrets_key, lambda scope, _: preview_policy(scope)),
            )
        self.deploy_role_arns = pulumi.Output.all(**deploy).apply(dict)
        self.preview_role_arns = pulumi.Output.all(**preview).apply(dict)
        self.release_role_arn = None
        self.pull_request_role_arn = None
        if args.release_repository_arn is not None:
            self.release_role_arn = self._role(
                "release",
                "push",
                release_subjects(
                    args.repository,
                    args.deploy_branch,
                    # The prod job tags the image it deployed so that it never expires.
                    [
                        args.github_environments[s]
                        for s in ("prod",)
                        if s in args.github_environments
                    ],
                ),
                f"push release images of {args.main_project} (build once, promote the digest)",
                pulumi.Output.from_input(args.release_repository_arn).apply(
                    lambda arn: json.dumps(release_push_policy(arn))
                ),
            )
            if args.pull_request_secrets_key_arn is not None:
                self.pull_request_role_arn = self._role(
                    "pr",
                    "environments",
                    pull_request_environment_subjects(args.repository, args.deploy_branch),
                    f"pulumi up/destroy of {args.main_project}/pr-* environments (pull requests)",
                    self._scoped(
                        PULL_REQUEST_STACKS,
                        args.pull_request_secrets_key_arn,
                        pull_request_environment_policy,
                    ),
                    managed_policy=pull_request_guard_policy(),
                    service_policies=self._service_policies(
                        "pr",
                        pull_request_service_policies(),
                        "the CI role of the pull-request environments",
                    ),
                )
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "deploy_role_arns": self.deploy_role_arns,
                "preview_role_arns": self.preview_role_arns,
                "release_role_arn": self.release_role_arn,
                "pull_request_role_arn": self.pull_request_role_arn,
            }
        )

    def _service_policies(
        self, purpose: str, documents: Sequence[dict[str, Any]], holders: str
    ) -> list[aws.iam.Policy]:
        """The customer-managed policies of service statements, numbered from 1 in the order of
        ``documents`` (a service that no longer fits adds a policy at the end). Under the CI
        path like the roles: outside every name a CI role may manage."""
        args = self._args
        return [
            aws.iam.Policy(
                f"{self._name}-{purpose}-services-{number}",
                name_prefix=f"{args.resource_prefix}-ci-{purpose}-services-{number}-"[:96],
                path=CI_ROLE_PATH,
                # Not the count of policies: a description change replaces the policy.
                description=f"Service statements of {holders} (bootstrap/iam_documents.py)",
                policy=json.dumps(document),
                tags={**args.tags, "purpose": purpose},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for number, document in enumerate(documents, start=1)
        ]

    def _scoped(
        self,
        stack: str,
        secrets_key_arn: pulumi.Input[str],
        document: Callable[[StackScope, str], dict[str, Any]],
    ) -> pulumi.Output[str]:
        """``document`` of the stack's scope (and the release repository ARN), as JSON."""
        args = self._args
        release = args.release_repository_arn if args.release_repository_arn is not None else ""
        return pulumi.Output.all(
            self.provider_arn,
            args.state_bucket_arn,
            args.state_bucket_key_arn,
            secrets_key_arn,
            release,
        ).apply(
            lambda arns: json.dumps(
                document(
                    StackScope(
                        provider_arn=arns[0],
                        bucket_arn=arns[1],
                        bucket_key_arn=arns[2],
                        secrets_key_arn=arns[3],
                        project=args.main_project,
                        resource_prefix=args.resource_prefix,
                        stack=stack,
                    ),
                    arns[4],
                )
            )
        )

    def _role(
        self,
        stack: str,
        purpose: str,
        subjects: list[str],
        description: str,
        policy: pulumi.Output[str],
        managed_policy: dict[str, Any] | None = None,
        service_policies: Sequence[aws.iam.Policy] = (),
    ) -> pulumi.Output[str]:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-{stack}-{purpose}",
            name_prefix=f"{args.resource_prefix}-ci-{stack}-{purpose}-"[:38],
            path=CI_ROLE_PATH,
            description=description,
            max_session_duration=3600,
            assume_role_policy=self.provider_arn.apply(
                lambda arn: json.dumps(trust_policy(arn, subjects))
            ),
            tags={**args.tags, "stack": stack, "purpose": purpose},
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-{stack}-{purpose}-services-{number}",
                role=role.name,
                policy_arn=service.arn,
                opts=pulumi.ResourceOptions(parent=role),
            )
            for number, service in enumerate(service_policies, start=1)
        ]
        aws.iam.RolePolicy(
            f"{self._name}-{stack}-{purpose}-policy",
            role=role.id,
            policy=policy,
            # On an upgrade from roles whose inline policy held the service statements, the
            # statements are attached before they leave the inline policy: no deploy in between
            # is refused.
            opts=pulumi.ResourceOptions(parent=role, depends_on=attachments),
        )
        if managed_policy is not None:
            # Customer-managed (up to 6,144 characters, not counted in the inline limit), under
            # the CI path: outside the <resourcePrefix>-<stack>-* names any role may manage.
            guard = aws.iam.Policy(
                f"{self._name}-{stack}-{purpose}-guard",
                name_prefix=f"{args.resource_prefix}-ci-{stack}-guard-"[:96],
                path=CI_ROLE_PATH,
                description=f"Limits of the CI role {stack}-{purpose} (bootstrap/iam_documents.py)",
                policy=json.dumps(managed_policy),
                tags={**args.tags, "stack": stack, "purpose": purpose},
                opts=pulumi.ResourceOptions(parent=role),
            )
            aws.iam.RolePolicyAttachment(
                f"{self._name}-{stack}-{purpose}-guard",
                role=role.name,
                policy_arn=guard.arn,
                opts=pulumi.ResourceOptions(parent=role),
            )
        return role.arn
