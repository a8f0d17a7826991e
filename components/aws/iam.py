"""IAM policy documents shared by the aws components: plain functions and constants."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
"""What pulling an image takes (ECS asks for these); nothing that writes or deletes."""


def policy_document(statements: Sequence[Mapping[str, Any]]) -> str:
    """An IAM policy document (JSON, keys sorted so previews stay stable)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """The bucket-policy statement refusing every request that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
