"""StateBackend: where the main stacks keep their Pulumi state and encrypt their secrets.

Creates a KMS key (rotation on) with an alias, and an S3 bucket encrypted with that key,
versioned (every state file can be recovered), with ACLs disabled, all four public access blocks
and a policy refusing requests without TLS. Bucket and key are protected: deleting them would lose
every stack's state, so removing them takes an explicit `pulumi state unprotect`.
"""

from __future__ import annotations

import json
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
    key_alias: pulumi.Input[str]
    """Alias of the secrets key, such as alias/elixir-devops-pulumi-secrets."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class StateBackend(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the state bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the state bucket."""
    key_arn: pulumi.Output[str]
    """ARN of the KMS key for stack secrets and the bucket's encryption."""
    backend_url: pulumi.Output[str]
    """`s3://...`: PULUMI_BACKEND_URL for CI and `pulumi login`."""
    secrets_provider: pulumi.Output[str]
    """`awskms://...`: the secrets provider of the main stacks."""

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)

        key = aws.kms.Key(
            f"{name}-key",
            description="Pulumi secrets provider and state bucket encryption of elixir-devops",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=args.tags,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=args.key_alias, target_key_id=key.key_id, opts=child
        )

        bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket_prefix=args.bucket_prefix, tags=args.tags, opts=kept
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
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
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
        self.key_arn = key.arn
        self.backend_url = bucket.bucket.apply(backend_url)
        self.secrets_provider = key.arn.apply(secrets_provider_url)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "backend_url": self.backend_url,
                "secrets_provider": self.secrets_provider,
            }
        )
