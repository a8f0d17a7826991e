"""AccessLogBucket (aws): the S3 bucket a load balancer writes its access logs to.

Creates the bucket (objects owned by the bucket owner, ACLs off), SSE-S3 encryption (the only
server-side encryption ELB log delivery supports), every public-access block on, a lifecycle
that expires logs after the stack's retention, and a policy that refuses any request without
TLS and lets ELB's log delivery in this region write under ``<prefix>/AWSLogs/<account>/``
(the region's ELB account for regions from before August 2022, the
``logdelivery.elasticloadbalancing.amazonaws.com`` principal for newer ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.iam import deny_insecure_transport, policy_document

LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
PREFIX = "alb"


def bucket_policy(bucket_arn: str, account_id: str, elb_account_arn: str) -> str:
    """TLS only; ELB log delivery may put objects under this account's prefix, nothing else."""
    logs = f"{bucket_arn}/{PREFIX}/AWSLogs/{account_id}/*"
    return policy_document(
        [
            deny_insecure_transport(bucket_arn),
            {
                "Sid": "ElbAccountWritesLogs",
                "Effect": "Allow",
                "Principal": {"AWS": elb_account_arn},
                "Action": "s3:PutObject",
                "Resource": logs,
            },
            {
                "Sid": "ElbLogDeliveryWritesLogs",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
                "Action": "s3:PutObject",
                "Resource": logs,
            },
        ]
    )


@dataclass(frozen=True)
class AccessLogBucketArgs:
    retention_days: int
    """Logs older than this are deleted."""
    keep: bool = False
    """Keep (and protect) the bucket when the stack is destroyed."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class AccessLogBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Resolves once the bucket policy exists: ELB checks it can write when logging is set."""
    prefix: str = PREFIX

    def __init__(
        self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:AccessLogBucket", name, None, opts)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOptions(parent=self))
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            bucket_prefix=f"{name}-alb-logs-",
            # Logs are disposable unless the stack keeps its data.
            force_destroy=not args.keep,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.keep, retain_on_delete=args.keep),
        )
        bucket_child = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketOwnershipControls(
            f"{name}-access-logs",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=bucket_child,
        )
        blocked = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=bucket_child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": f"{PREFIX}/"},
                    "expiration": {"days": args.retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=bucket_child,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, caller.account_id, elb_account.arn).apply(
                lambda v: bucket_policy(v[0], v[1], v[2])
            ),
            # S3 refuses a policy while the public-access block is being set up.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[blocked]),
        )
        self.bucket_name = pulumi.Output.all(bucket.id, policy.id).apply(lambda v: v[0])
        self.register_outputs({"bucket_name": self.bucket_name})
