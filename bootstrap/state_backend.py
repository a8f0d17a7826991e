"""StateBackend: where the main stacks keep their Pulumi state and encrypt their secrets.

Creates an S3 bucket for the state, versioned (every state file can be recovered), encrypted with
its own KMS key, with ACLs disabled, all four public access blocks and a policy refusing requests
without TLS; and one KMS key (with an alias) per stack for that stack's secrets provider, so that
whoever can decrypt one stack's secrets cannot decrypt another's. Every key rotates yearly.

Bucket and keys are protected: deleting them would lose the state or make every secret
unreadable, so removing them takes an explicit `pulumi state unprotect`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bootstrap.iam_documents import arn_parts, tls_only_bucket_policy


def backend_url(bucket_name: str) -> str:
    """The `pulumi login` URL of a state bucket."""
    return f"s3://{bucket_name}"


def secrets_provider_url(key_arn: str) -> str:
    """The `--secrets-provider` URL of a KMS key (gocloud's awskms form, region from the ARN)."""
    _, region, _ = arn_parts(key_arn)
    return f"awskms:///{key_arn}?region={region}"


@dataclass(frozen=True)
class StateBackendArgs:
    bucket_prefix: pulumi.Input[str]
    """Name prefix of the bucket; AWS appends a unique suffix."""
    project: str
    """Pulumi project of the main program (names the key aliases)."""
    stacks: Sequence[str]
    """Stacks that get a secrets key."""
    pull_request_secrets: bool = False
    """One more key, shared by the pull-request stacks pr-* (all equally untrusted)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class StateBackend(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the state bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the state bucket."""
    bucket_key_arn: pulumi.Output[str]
    """ARN of the KMS key encrypting the bucket's objects."""
    backend_url: pulumi.Output[str]
    """`s3://...`: PULUMI_BACKEND_URL for CI and `pulumi login`."""
    secrets_key_arns: pulumi.Output[dict[str, str]]
    """ARN of each stack's secrets key."""
    secrets_providers: pulumi.Output[dict[str, str]]
    """`awskms://...` secrets provider of each stack."""
    pull_request_secrets_key_arn: pulumi.Output[str] | None
    """ARN of the pr-* stacks' secrets key (None without pull-request environments)."""
    pull_request_secrets_provider: pulumi.Output[str] | None
    """`awskms://...` secrets provider of the pr-* stacks."""

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:StateBackend", name, None, opts)
        bucket_key = self._key(
            f"{name}-bucket-key",
            f"alias/{args.project}-pulumi-state",
            f"Encryption of the Pulumi state bucket of {args.project}",
            args.tags,
        )
        secrets_keys = {
            stack: self._key(
                f"{name}-{stack}-secrets-key",
                f"alias/{args.project}-{stack}-pulumi-secrets",
                f"Pulumi secrets provider of {args.project}/{stack}",
                {**args.tags, "stack": stack},
            )
            for stack in args.stacks
        }

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=args.bucket_prefix,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        bucket_child = pulumi.ResourceOptions(parent=bucket)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=bucket_child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=bucket_child,
        )
        sse_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
            sse_algorithm="aws:kms", kms_master_key_id=bucket_key.arn
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=sse_default,
                    bucket_key_enabled=True,
                )
            ],
            opts=bucket_child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn))),
            # S3 refuses a bucket policy while the public access block is being written.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[public_access]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.bucket_key_arn = bucket_key.arn
        self.backend_url = bucket.bucket.apply(backend_url)
        key_arns = {stack: key.arn for stack, key in secrets_keys.items()}
        self.secrets_key_arns = pulumi.Output.all(**key_arns).apply(dict)
        self.secrets_providers = self.secrets_key_arns.apply(
            lambda arns: {stack: secrets_provider_url(arn) for stack, arn in arns.items()}
        )
        self.pull_request_secrets_key_arn = None
        self.pull_request_secrets_provider = None
        if args.pull_request_secrets:
            # Tag values cannot hold '*': "pr" here; the pr-* roles' tag conditions never match
            # it, so pull-request code cannot rewrite or delete its own secrets key.
            pr_key = self._key(
                f"{name}-pr-secrets-key",
                f"alias/{args.project}-pr-pulumi-secrets",
                f"Pulumi secrets provider of the {args.project}/pr-* pull-request environments",
                {**args.tags, "stack": "pr"},
            )
            self.pull_request_secrets_key_arn = pr_key.arn
            self.pull_request_secrets_provider = pr_key.arn.apply(secrets_provider_url)
        self.register_outputs(
            {
                "pull_request_secrets_key_arn": self.pull_request_secrets_key_arn,
                "pull_request_secrets_provider": self.pull_request_secrets_provider,
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "bucket_key_arn": self.bucket_key_arn,
                "backend_url": self.backend_url,
                "secrets_key_arns": self.secrets_key_arns,
                "secrets_providers": self.secrets_providers,
            }
        )

    def _key(self, name: str, alias: str, description: str, tags: dict[str, str]) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=alias,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=key),
        )
        return key
