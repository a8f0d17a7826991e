"""IAM documents of the bootstrap, as plain functions of plain strings.

Kept free of Pulumi so the documents can be linted (parliament) and reasoned about in tests
without mocks; the components wrap them in ``Output.apply``.

Who may assume what (the OIDC ``sub`` claim GitHub puts in the token):

- deploy role of ``dev``: the main branch, ``repo:<owner>/<repo>:ref:refs/heads/<branch>``; the
  deploy job has no GitHub environment, because an environment replaces the ref in the subject.
- deploy roles of ``staging`` / ``prod``: only jobs running in the GitHub environment
  (``repo:<owner>/<repo>:environment:staging`` / ``...:environment:production``), which is where
  the required reviewers sit.
- preview role of every stack: pull requests, ``repo:<owner>/<repo>:pull_request``. Pull-request
  code is unreviewed, so these roles only read: the stack's state, its secrets key, and describe
  calls. No deploy role trusts pull requests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.aws.iam import deny_insecure_transport

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"

# Services the program hands its roles to: ECS tasks, and Managed Grafana (managedGrafana: true).
PASS_ROLE_SERVICES = (
    "ecs-tasks.amazonaws.com",
    "grafana.amazonaws.com",
    "lambda.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
)
# Service-linked roles AWS creates on the first ECS service / load balancer of an account.
SERVICE_LINKED_ROLES = (
    "ecs.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "rds.amazonaws.com",  # the first RDS instance of an account (database: postgres)
)
# AWS managed policies the main stacks may attach to their roles (anything else is inline and
# therefore scoped to the project's roles by the statements below).
ATTACHABLE_AWS_POLICIES = (
    "service-role/AmazonECSTaskExecutionRolePolicy",
    "AmazonPrometheusRemoteWriteAccess",
    "CloudWatchAgentServerPolicy",
)


@dataclass(frozen=True)
class StackScope:
    """What one main stack's CI roles are confined to."""

    provider_arn: str
    """The GitHub OIDC provider (its ARN gives the partition and account)."""
    bucket_arn: str
    """The state bucket."""
    bucket_key_arn: str
    """The bucket's encryption key."""
    secrets_key_arn: str
    """The stack's secrets provider key."""
    project: str
    """Pulumi project name of the main program."""
    resource_prefix: str
    """Prefix of the IAM names the main stacks create."""
    stack: str
    """The stack."""


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN such as arn:aws:iam::123456789012:oidc-provider/x."""
    fields = arn.split(":")
    if len(fields) < 6 or fields[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return fields[1], fields[3], fields[4]


def deploy_subjects(repository: str, github_environment: str | None, branch: str) -> list[str]:
    """OIDC subjects allowed to assume a stack's deploy role."""
    if github_environment:
        return [f"repo:{repository}:environment:{github_environment}"]
    return [f"repo:{repository}:ref:refs/heads/{branch}"]


def release_subjects(
    repository: str, branch: str, protecting_environments: Sequence[str] = ()
) -> list[str]:
    """OIDC subjects allowed to push release images: the deploy branch's workflow runs, and the
    jobs of the protected environments that tag the image they deployed (``deployed-*``)."""
    return [
        f"repo:{repository}:ref:refs/heads/{branch}",
        *(f"repo:{repository}:environment:{name}" for name in protecting_environments),
    ]


def pull_request_environment_subjects(repository: str, branch: str) -> list[str]:
    """Pull requests (deploy and destroy their pr-<n> stack) and the deploy branch (the
    scheduled job that destroys expired ones runs there)."""
    return [f"repo:{repository}:pull_request", f"repo:{repository}:ref:refs/heads/{branch}"]


def preview_subjects(repository: str) -> list[str]:
    """OIDC subjects allowed to assume a stack's read-only preview role."""
    return [f"repo:{repository}:pull_request"]


def trust_policy(provider_arn: str, subjects: list[str]) -> dict[str, Any]:
    """Web-identity trust for GitHub Actions tokens of exactly ``subjects`` (no wildcards)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": sorted(subjects),
                    }
                },
            }
        ],
    }


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, Any]:
    """Refuses every request to the state bucket that does not use TLS."""
    return {"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket_arn)]}


def _state_statements(scope: StackScope, *, write: bool) -> list[dict[str, Any]]:
    """Access to one stack's files in the DIY backend (and nothing of the other stacks).

    Layout of a project-scoped backend: ``.pulumi/stacks/<project>/<stack>.json`` (+ ``.bak``),
    ``.pulumi/{history,backups}/<project>/<stack>/...``, ``.pulumi/locks/<org>/<project>/<stack>/``.
    """
    bucket_arn, project, stack = scope.bucket_arn, scope.project, scope.stack
    stack_objects = [
        f"{bucket_arn}/.pulumi/*/{project}/{stack}.json*",
        f"{bucket_arn}/.pulumi/*/{project}/{stack}/*",
    ]
    lock_objects = [f"{bucket_arn}/.pulumi/locks/*/{project}/{stack}/*"]
    return [
        {
            "Sid": "StateList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "StateRead",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{bucket_arn}/.pulumi/meta.yaml", *stack_objects],
        },
        {
            "Sid": "StateWrite",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": stack_objects if write else lock_objects,
        },
        {
            # The stack's own secrets key (awskms secrets provider). Each stack has its own key:
            # the encrypted data keys sit in the committed Pulumi.<stack>.yaml files, so a shared
            # key would let a dev preview (pull-request code) decrypt prod's secrets.
            "Sid": "StackSecretsDecrypt",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": scope.secrets_key_arn,
        },
        {
            # The bucket's encryption key, usable only by S3 on the caller's behalf, so the
            # object permissions above decide what each role can read.
            "Sid": "StateKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": scope.bucket_key_arn,
            "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        },
    ]


def _project_arns(scope: StackScope) -> dict[str, str]:
    partition, _, account = arn_parts(scope.provider_arn)
    names = f"{scope.resource_prefix}-{scope.stack}-*"
    return {
        "role": f"arn:{partition}:iam::{account}:role/{names}",
        "policy": f"arn:{partition}:iam::{account}:policy/{names}",
        "service-linked": f"arn:{partition}:iam::{account}:role/aws-service-role/*",
        "bucket": f"arn:{partition}:s3:::{names}",
        "aws-managed": f"arn:{partition}:iam::aws:policy/",
    }


def _iam_statements(scope: StackScope) -> list[dict[str, Any]]:
    arns = _project_arns(scope)
    attachable = [arns["policy"]] + [arns["aws-managed"] + name for name in ATTACHABLE_AWS_POLICIES]
    return [
        {
            "Sid": "ProjectRoles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
            ],
            "Resource": arns["role"],
        },
        {
            "Sid": "ProjectRolePolicyAttachments",
            "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": arns["role"],
            "Condition": {"ArnLike": {"iam:PolicyARN": attachable}},
        },
        {
            "Sid": "ProjectManagedPolicies",
            "Effect": "Allow",
            "Action": [
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListPolicyVersions",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            "Resource": arns["policy"],
        },
        {
            "Sid": "PassProjectRolesToEcs",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": arns["role"],
            "Condition": {"StringEquals": {"iam:PassedToService": list(PASS_ROLE_SERVICES)}},
        },
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": arns["service-linked"],
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        },
        {
            # The stack's own buckets only (albAccessLogs: <prefix>-<stack>-alb-logs-...), never
            # the state bucket or anyone else's.
            "Sid": "ProjectBuckets",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:ListBucket*",
                "s3:GetBucket*",
                "s3:PutBucketPolicy",
                "s3:PutBucketTagging",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketOwnershipControls",
                "s3:DeleteBucketPolicy",
                # What the bucket policy could grant it anyway: granted, so no escalation path.
                "s3:GetObject",
                "s3:PutObject",
                "s3:GetAccelerateConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:*LifecycleConfiguration",
                "s3:*EncryptionConfiguration",
                "s3:DeleteObject*",
            ],
            "Resource": [arns["bucket"], f"{arns['bucket']}/*"],
        },
    ]


# What the main stacks manage. Resource "*": these resources are auto-named by Pulumi, so a name
# pattern would be a contract the main program does not keep; IAM (where privilege escalation
# happens) is the part scoped by name, above, and KMS is scoped by the stack tag, below.
# Reads are granted as Describe*/List*/Get* per service (read-only, and shorter). These statements
# are the same for every stack, so they are not in the role's inline policy (IAM caps a role's
# inline policies at 10,240 characters together) but in customer-managed policies attached to it
# (``deploy_service_policies``; 6,144 characters each, up to 10 per role).
_DEPLOY_ACTIONS: dict[str, list[str]] = {
    "Ecr": [
        "ecr:GetAuthorizationToken",
        "ecr:Describe*",
        "ecr:Get*",
        "ecr:List*",
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:PutLifecyclePolicy",
        "ecr:DeleteLifecyclePolicy",
        # The repository policy letting other accounts pull (registryPullAccountIds).
        "ecr:SetRepositoryPolicy",
        "ecr:DeleteRepositoryPolicy",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:TagResource",
        "ecr:UntagResource",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchDeleteImage",
    ],
    "Ecs": [
        "ecs:Describe*",
        "ecs:List*",
        "ecs:CreateCluster",
        "ecs:DeleteCluster",
        "ecs:UpdateCluster",
        "ecs:UpdateClusterSettings",
        "ecs:PutClusterCapacityProviders",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:TagResource",
        "ecs:UntagResource",
    ],
    "AppAutoScaling": [
        "application-autoscaling:Describe*",
        "application-autoscaling:ListTagsForResource",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:TagResource",
        "application-autoscaling:UntagResource",
    ],
    "LoadBalancing": [
        "elasticloadbalancing:Describe*",
        "elasticloadbalancing:*LoadBalancer*",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:*TargetGroup*",
        "elasticloadbalancing:*Listener",
        "elasticloadbalancing:*Rule",
        "elasticloadbalancing:*Tags",
    ],
    "Vpc": [
        "ec2:Describe*",
        "ec2:CreateVpc",
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "ec2:DeleteVpc",
        "ec2:ModifyVpcAttribute",
        "ec2:CreateSubnet",
        "ec2:DeleteSubnet",
        "ec2:ModifySubnetAttribute",
        "ec2:CreateInternetGateway",
        "ec2:DeleteInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:AllocateAddress",
        "ec2:ReleaseAddress",
        "ec2:DisassociateAddress",
        "ec2:CreateNatGateway",
        "ec2:DeleteNatGateway",
        "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable",
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:CreateRoute",
        "ec2:ReplaceRoute",
        "ec2:DeleteRoute",
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:ModifySecurityGroupRules",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
    ],
    "Logs": [
        "logs:Describe*",
        "logs:List*",
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        # logKmsKeyArn: encrypting (or no longer encrypting) an existing log group.
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:TagLogGroup",
    ],
    "CloudWatch": [
        "cloudwatch:Describe*",
        "cloudwatch:List*",
        "cloudwatch:GetDashboard",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:PutDashboard",
        "cloudwatch:DeleteDashboards",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
    ],
    "Sns": [
        "sns:Get*",
        "sns:List*",
        "sns:CreateTopic",
        "sns:DeleteTopic",
        "sns:SetTopicAttributes",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:SetSubscriptionAttributes",
        "sns:TagResource",
        "sns:UntagResource",
    ],
    "Prometheus": [
        # Describe* includes DescribeLoggingConfiguration, which the provider reads after
        # creating a workspace (an AccessDenied there fails the update).
        "aps:Describe*",
        "aps:List*",
        "aps:CreateWorkspace",
        "aps:DeleteWorkspace",
        "aps:UpdateWorkspaceAlias",
        "aps:*RuleGroupsNamespace",
        "aps:*AlertManagerDefinition",
        "aps:CreateLoggingConfiguration",
        "aps:UpdateLoggingConfiguration",
        "aps:DeleteLoggingConfiguration",
        "aps:TagResource",
        "aps:UntagResource",
    ],
    # The app database (database: postgres). The master password goes in CreateDBInstance;
    # no Secrets Manager-managed master secret, so no KMS grant is needed for it.
    "Rds": [
        "rds:Describe*",
        "rds:List*",
        "rds:*DBInstance",
        "rds:*DBSubnetGroup",
        "rds:*DBParameterGroup",
        "rds:CreateDBSnapshot",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
    ],
    # BEAM clustering (clustering: true): a Cloud Map namespace, its private hosted zone, and
    # the service the ECS service registers its tasks in.
    "CloudMap": [
        "servicediscovery:Get*",
        "servicediscovery:List*",
        "servicediscovery:*Namespace",
        "servicediscovery:*Service",
        "servicediscovery:DeregisterInstance",
        "servicediscovery:*Resource",
        "route53:*HostedZone",
        "route53:List*",
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
        "route53:*HealthCheck",
        # The app's domain (hostedZoneId): its ACM certificate, the validation and alias records
        # above. Not acm:*Certificate*, which would include ExportCertificate (private keys).
        "acm:De*Certificate",
        "acm:RequestCertificate",
        "acm:*Tags*",
    ],
    # The chat forwarder (chatWebhookUrl): one function, its invoke permission for SNS.
    "Lambda": [
        "lambda:*Function*",
        "lambda:*Permission",
        "lambda:GetPolicy",
        "lambda:ListTags",
        "lambda:*Resource",
    ],
    # Deployment events to the alarm topic (an EventBridge rule on the default bus).
    "EventBridge": [
        "events:Describe*",
        "events:List*",
        "events:*Rule",
        "events:*Targets",
        "events:*Resource",
    ],
    "SecretsManager": [
        "secretsmanager:*Secret",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:*SecretValue",
        "secretsmanager:*Resource",
    ],
}

# KMS keys the main stacks create (the alarm topic's key) carry the tag stack=<stack>: the role
# may create keys only with that tag and manage only keys that have it, never the secrets keys
# of other stacks. KMS's lockout check on CreateKey requires the creator to hold PutKeyPolicy
# on the new key, which the tag-scoped statement grants.
_KMS_CREATE_ACTIONS = ["kms:CreateKey", "kms:TagResource"]
_KMS_MANAGE_ACTIONS = [
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
]
# ECR repositories are encrypted with the AWS managed key aws/ecr: creating and deleting one
# creates and retires a grant on that key, through ECR only.
_KMS_VIA_ECR_ACTIONS = ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"]


def _kms_statements(scope: StackScope) -> list[dict[str, Any]]:
    # The pull-request role's scope is a pattern (pr-*): matched with StringLike.
    operator = "StringLike" if "*" in scope.stack else "StringEquals"
    return [
        {
            "Sid": "CreateStackKeys",
            "Effect": "Allow",
            "Action": _KMS_CREATE_ACTIONS,
            "Resource": "*",
            "Condition": {operator: {"aws:RequestTag/stack": scope.stack}},
        },
        {
            "Sid": "ManageStackKeys",
            "Effect": "Allow",
            "Action": _KMS_MANAGE_ACTIONS,
            "Resource": "*",
            "Condition": {operator: {"aws:ResourceTag/stack": scope.stack}},
        },
        {
            "Sid": "EcrRepositoryEncryption",
            "Effect": "Allow",
            "Action": _KMS_VIA_ECR_ACTIONS,
            "Resource": "*",
            "Condition": {"StringLike": {"kms:ViaService": "ecr.*.amazonaws.com"}},
        },
    ]


# A preview runs the program without changing anything: invokes (availability zones, the ECR
# login for the image build) and reads of the project's roles.
_PREVIEW_ACTIONS: dict[str, list[str]] = {
    "PreviewReads": [
        "ecr:GetAuthorizationToken",
        "ecr:DescribeRepositories",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ecs:DescribeClusters",
        "ecs:DescribeServices",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTargetGroups",
        "logs:DescribeLogGroups",
        # aws.route53.get_zone (hostedZoneId): the zone's name and tags.
        "route53:GetHostedZone",
        "route53:ListTagsForResource",
    ],
}


MANAGED_POLICY_LIMIT = 6_144
"""IAM: characters of a customer-managed policy, white space not counted."""


def _document_size(document: dict[str, Any]) -> int:
    """Characters IAM counts (the JSON without white space)."""
    return len(json.dumps(document, separators=(",", ":")))


def _service_statements(actions: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [
        {"Sid": sid, "Effect": "Allow", "Action": list(names), "Resource": "*"}
        for sid, names in actions.items()
    ]


def managed_policies(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``statements``, in order, in as few documents of at most MANAGED_POLICY_LIMIT characters
    as filling each in turn gives (a new service spills into a new policy, not out of IAM's
    limits)."""
    documents: list[dict[str, Any]] = []
    for statement in statements:
        candidate = {"Version": "2012-10-17", "Statement": [statement]}
        if _document_size(candidate) > MANAGED_POLICY_LIMIT:
            raise ValueError(f"statement {statement['Sid']} alone exceeds a managed policy")
        if documents:
            grown = {**documents[-1], "Statement": [*documents[-1]["Statement"], statement]}
            if _document_size(grown) <= MANAGED_POLICY_LIMIT:
                documents[-1] = grown
                continue
        documents.append(candidate)
    return documents


def deploy_policy(scope: StackScope) -> dict[str, Any]:
    """The inline policy of one main stack's deploy role: what is scoped to the stack (its state
    files and secrets key, IAM and bucket names, KMS keys by tag). The service statements are in
    ``deploy_service_policies``; ``deploy_documents`` is everything IAM evaluates."""
    statements = _state_statements(scope, write=True) + _iam_statements(scope)
    statements += _kms_statements(scope)
    return {"Version": "2012-10-17", "Statement": statements}


def deploy_service_policies() -> list[dict[str, Any]]:
    """The customer-managed policies every deploy role carries: the services the main stacks
    manage, on ``*`` (the same for every stack)."""
    return managed_policies(_service_statements(_DEPLOY_ACTIONS))


def deploy_documents(scope: StackScope) -> list[dict[str, Any]]:
    """What ``pulumi up`` of one main stack needs, and no more: the deploy role's inline policy
    and the managed policies attached to it, which IAM evaluates together."""
    return [deploy_policy(scope), *deploy_service_policies()]


def preview_policy(scope: StackScope) -> dict[str, Any]:
    """What ``pulumi preview`` of one main stack needs: reads, plus the stack's lock file."""
    statements = _state_statements(scope, write=False)
    statements.append(
        {
            "Sid": "ProjectRoleReads",
            "Effect": "Allow",
            "Action": ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies"],
            "Resource": _project_arns(scope)["role"],
        }
    )
    statements += [
        {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"}
        for sid, actions in _PREVIEW_ACTIONS.items()
    ]
    partition, _, account = arn_parts(scope.provider_arn)
    statements.append(
        {
            # buildOnPreview builds the image with cache_from the stack's buildcache tag.
            "Sid": "PullBuildCache",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": (
                f"arn:{partition}:ecr:*:{account}:repository/"
                f"{scope.resource_prefix}-{scope.stack}-repository-*"
            ),
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


# -- build once, promote the digest ----------------------------------------------------------

PULL_REQUEST_STACKS = "pr-*"
"""The stacks (and, through ``<resourcePrefix>-pr-*``, the IAM names) of PR environments."""
_RELEASE_PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
]


def release_push_policy(repository_arn: str) -> dict[str, Any]:
    """The build job's role: push (and look up) images in the release repository, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # GetAuthorizationToken has no resource-level scoping in IAM.
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "PushReleaseImages",
                "Effect": "Allow",
                "Action": _RELEASE_PUSH_ACTIONS,
                "Resource": repository_arn,
            },
        ],
    }


# Cloud Map's CreatePrivateDnsNamespace (clustering: true) checks these on its caller.
_PULL_REQUEST_ROUTE53_ACTIONS = [
    "route53:CreateHostedZone",
    "route53:GetHostedZone",
    "route53:List*",
    "route53:GetChange",
    "route53:GetHealthCheck",
]


def _pull_request_service_actions() -> dict[str, list[str]]:
    """The deploy roles' service actions, less what the pull-request role must not have."""
    actions = {
        sid: list(names) for sid, names in _DEPLOY_ACTIONS.items() if sid != "SecretsManager"
    }
    # Route 53 has no resource-tag condition key, so the guard cannot protect the other stacks'
    # zones: PR code gets only what Cloud Map's CreatePrivateDnsNamespace needs from its caller
    # (Cloud Map API permissions reference), never record writes, zone deletion or health-check
    # changes. (A PR stack cannot use hostedZoneId.)
    actions["CloudMap"] = [
        a for a in actions["CloudMap"] if not a.startswith(("route53:", "acm:"))
    ] + _PULL_REQUEST_ROUTE53_ACTIONS
    return actions


def pull_request_environment_policy(
    scope: StackScope, release_repository_arn: str
) -> dict[str, Any]:
    """The inline policy of the pr-* stacks' role: the deploy role's inline document for the
    stack pattern ``pr-*`` (state files, IAM and bucket names, KMS tags all confined to it),
    Secrets Manager on pr-* names, and never the release repository, which pull-request code
    must not write to or delete from (an explicit Deny, whatever the service statements of the
    attached ``pull_request_service_policies`` allow). ``pull_request_documents`` is everything
    IAM evaluates."""
    if scope.stack != PULL_REQUEST_STACKS:
        raise ValueError(f"the pull-request role is scoped to {PULL_REQUEST_STACKS}")
    document = deploy_policy(scope)
    partition, _, account = arn_parts(scope.provider_arn)
    document["Statement"] += [
        {
            # The stacks name their secrets <resourcePrefix>-<stack>/...: a secret of another
            # stack (tagged or not) is out of reach, not only the ones the guard sees tagged.
            # (*SecretValue would include BatchGetSecretValue, which takes no resource.)
            "Sid": "SecretsManager",
            "Effect": "Allow",
            "Action": [
                a for a in _DEPLOY_ACTIONS["SecretsManager"] if a != "secretsmanager:*SecretValue"
            ]
            + ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
            "Resource": (
                f"arn:{partition}:secretsmanager:*:{account}:secret:"
                f"{scope.resource_prefix}-{PULL_REQUEST_STACKS}"
            ),
        },
        {
            # `pulumi stack init --secrets-provider awskms://...` of a new pr-<n> stack makes the
            # stack's data key and encrypts it with this key (the main stacks are made by an
            # admin, so their roles only decrypt).
            "Sid": "StackSecretsEncrypt",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey*"],
            "Resource": scope.secrets_key_arn,
        },
        {
            "Sid": "NotTheReleaseRegistry",
            "Effect": "Deny",
            "Action": "ecr:*",
            "Resource": release_repository_arn,
        },
    ]
    return document


def pull_request_service_policies() -> list[dict[str, Any]]:
    """The customer-managed policies of the pull-request role's service statements (on ``*``;
    Secrets Manager, scoped by name, is inline)."""
    return managed_policies(_service_statements(_pull_request_service_actions()))


def pull_request_documents(scope: StackScope, release_repository_arn: str) -> list[dict[str, Any]]:
    """Everything IAM evaluates for the pull-request role: its inline policy, its service
    policies and its guard."""
    return [
        pull_request_environment_policy(scope, release_repository_arn),
        *pull_request_service_policies(),
        pull_request_guard_policy(),
    ]


# Pull-request code runs with the PR role, whose service statements are on "*" (Pulumi names
# those resources). This guard, a customer-managed policy of its own, denies changing, deleting,
# retagging, reading the secrets of, or creating in (a rule on a listener, a route or subnet in a
# VPC) anything tagged with another stack (stack=dev/staging/prod): the main stacks tag every
# resource they create. It applies only where the request carries the resource's stack tag (the
# Null test): a service or action that does not report it is not denied, so the guard can never
# stop a pr-* stack from managing its own resources. Untagged resources are not covered.
PULL_REQUEST_GUARDED_ACTIONS = [
    "ec2:Delete*",
    "ec2:Modify*",
    "ec2:Replace*",
    "ec2:Revoke*",
    "ec2:Authorize*",
    "ec2:Disassociate*",
    "ec2:Detach*",
    "ec2:ReleaseAddress",
    # Creating in another stack's VPC, subnet or route table (a route, a subnet, a security
    # group): the request carries the tag of the resource it is created in.
    "ec2:Create*",
    "ec2:Associate*",
    "ec2:Attach*",
    "ecs:Delete*",
    "ecs:Update*",
    "ecs:Deregister*",
    "ecs:Put*",
    "ecs:*Tag*",
    "elasticloadbalancing:Delete*",
    "elasticloadbalancing:Modify*",
    "elasticloadbalancing:Set*",
    "elasticloadbalancing:Register*",
    "elasticloadbalancing:Deregister*",
    "elasticloadbalancing:*Tags",
    # A rule or a listener on another stack's load balancer or listener would take its traffic.
    "elasticloadbalancing:Create*",
    "application-autoscaling:*",
    "rds:Delete*",
    "rds:Modify*",
    "rds:Reboot*",
    "rds:Stop*",
    "rds:*Tag*",
    "secretsmanager:*",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:*Tag*",
    "logs:Delete*",
    "logs:Put*",
    "logs:Get*",
    "logs:FilterLogEvents",
    "logs:*Tag*",
    "logs:*KmsKey",
    "cloudwatch:Delete*",
    "cloudwatch:Put*",
    "cloudwatch:Disable*",
    "cloudwatch:*Tag*",
    "lambda:Delete*",
    "lambda:Update*",
    "lambda:*Permission",
    "lambda:*Tag*",
    "lambda:InvokeFunction",
    "ecr:*Delete*",
    "ecr:Put*",
    "ecr:SetRepositoryPolicy",
    "ecr:*Tag*",
    "aps:Delete*",
    "aps:Update*",
    "aps:Put*",
    "aps:*Tag*",
    "servicediscovery:Delete*",
    "servicediscovery:Update*",
    "servicediscovery:*Tag*",
    "servicediscovery:Deregister*",
    "acm:*",
    "events:Delete*",
    "events:Put*",
    "events:Remove*",
    "events:Disable*",
    "events:*Tag*",
]


def pull_request_guard_policy() -> dict[str, Any]:
    """Deny acting on resources tagged with a stack outside pr-* (see above)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OtherStacksAreOffLimits",
                "Effect": "Deny",
                "Action": PULL_REQUEST_GUARDED_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "Null": {"aws:ResourceTag/stack": "false"},
                    "StringNotLike": {"aws:ResourceTag/stack": PULL_REQUEST_STACKS},
                },
            }
        ],
    }
