"""The CI deploy role of each stack may create everything that stack's program registers.

Mocks accept any resource; AWS refuses a `pulumi up` whose role lacks one action. For every
resource type the program registers for a committed stack, this names the API calls creating
it takes and evaluates them against the bootstrap's deploy policy for that stack. A new
resource type without an entry here fails the test, so the two cannot drift apart silently.

The evaluator below handles what the bootstrap's documents use: Allow and (explicit, winning)
Deny statements, wildcard actions and resources, and the condition operators StringEquals,
StringLike and ArnLike. The pull-request environments' role (stacks pr-*) is evaluated the same
way against a pr-123 stack made from the template.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from bootstrap.iam_documents import (
    MANAGED_POLICY_LIMIT,
    PULL_REQUEST_STACKS,
    StackScope,
    deploy_documents,
    deploy_policy,
    deploy_service_policies,
    preview_policy,
    pull_request_documents,
    pull_request_environment_policy,
    pull_request_service_policies,
)
from plan.mocks import ACCOUNT
from tests.conftest import AWS_STACKS, stack_run
from tests.harness import Registered, run_stack, web_task

# The calls `pulumi up` makes to create each type (reads and deletes are granted alongside).
CREATE_CALLS: dict[str, list[str]] = {
    "aws:ec2/flowLog:FlowLog": ["ec2:CreateFlowLogs", "ec2:DescribeFlowLogs", "ec2:DeleteFlowLogs"],
    "aws:s3/bucket:Bucket": [
        "s3:CreateBucket",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:ListBucket",
        "s3:DeleteBucket",
    ],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": [
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
    ],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ],
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": [
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ],
    "aws:s3/bucketPolicy:BucketPolicy": [
        "s3:PutBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:DeleteBucketPolicy",
    ],
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace": [
        "aps:CreateRuleGroupsNamespace",
        "aps:DescribeRuleGroupsNamespace",
        "aps:PutRuleGroupsNamespace",
        "aps:DeleteRuleGroupsNamespace",
    ],
    "aws:amp/alertManagerDefinition:AlertManagerDefinition": [
        "aps:CreateAlertManagerDefinition",
        "aps:DescribeAlertManagerDefinition",
        "aps:PutAlertManagerDefinition",
        "aps:DeleteAlertManagerDefinition",
    ],
    "aws:lambda/function:Function": [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:TagResource",
        "lambda:DeleteFunction",
    ],
    "aws:lambda/permission:Permission": [
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:RemovePermission",
    ],
    "aws:cloudwatch/eventRule:EventRule": [
        "events:PutRule",
        "events:DescribeRule",
        "events:ListTagsForResource",
        "events:TagResource",
        "events:DeleteRule",
    ],
    "aws:cloudwatch/eventTarget:EventTarget": [
        "events:PutTargets",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
    ],
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": [
        "servicediscovery:CreatePrivateDnsNamespace",
        "servicediscovery:GetOperation",
        "servicediscovery:GetNamespace",
        "servicediscovery:TagResource",
        "servicediscovery:DeleteNamespace",
        # Cloud Map makes the namespace's private hosted zone in the VPC as the caller (the
        # Cloud Map API permissions reference; DeleteNamespace needs nothing more).
        "route53:CreateHostedZone",
        "route53:GetHostedZone",
        "route53:ListHostedZonesByName",
        "ec2:DescribeVpcs",
        "ec2:DescribeRegions",
    ],
    "aws:servicediscovery/service:Service": [
        "servicediscovery:CreateService",
        "servicediscovery:GetService",
        "servicediscovery:UpdateService",
        "servicediscovery:DeleteService",
        "servicediscovery:ListInstances",
        "servicediscovery:DeregisterInstance",
    ],
    "aws:rds/instance:Instance": [
        "rds:CreateDBInstance",
        "rds:DescribeDBInstances",
        "rds:AddTagsToResource",
        "rds:ListTagsForResource",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
    ],
    "aws:rds/subnetGroup:SubnetGroup": [
        "rds:CreateDBSubnetGroup",
        "rds:DescribeDBSubnetGroups",
        "rds:DeleteDBSubnetGroup",
    ],
    "aws:rds/parameterGroup:ParameterGroup": [
        "rds:CreateDBParameterGroup",
        "rds:ModifyDBParameterGroup",
        "rds:DescribeDBParameters",
        "rds:DescribeDBParameterGroups",
        "rds:DeleteDBParameterGroup",
    ],
    "aws:ec2/vpc:Vpc": ["ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:DescribeVpcs"],
    "aws:ec2/subnet:Subnet": ["ec2:CreateSubnet", "ec2:DescribeSubnets"],
    "aws:ec2/internetGateway:InternetGateway": [
        "ec2:CreateInternetGateway",
        "ec2:AttachInternetGateway",
    ],
    "aws:ec2/routeTable:RouteTable": ["ec2:CreateRouteTable", "ec2:CreateRoute"],
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ["ec2:AssociateRouteTable"],
    "aws:ec2/eip:Eip": ["ec2:AllocateAddress", "ec2:DescribeAddresses"],
    "aws:ec2/natGateway:NatGateway": ["ec2:CreateNatGateway", "ec2:DescribeNatGateways"],
    "aws:ec2/securityGroup:SecurityGroup": [
        "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress",  # the provider drops the default allow-all egress
        "ec2:DescribeSecurityGroups",
    ],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:DescribeSecurityGroupRules",
    ],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:DescribeSecurityGroupRules",
    ],
    "aws:ecr/repository:Repository": [
        "ecr:CreateRepository",
        "ecr:DescribeRepositories",
        "ecr:ListTagsForResource",
        "kms:CreateGrant",  # encryption with the AWS managed key aws/ecr, through ECR
    ],
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy"],
    "aws:ecr/repositoryPolicy:RepositoryPolicy": [
        "ecr:SetRepositoryPolicy",
        "ecr:GetRepositoryPolicy",
    ],
    "aws:kms/key:Key": [
        "kms:CreateKey",
        "kms:PutKeyPolicy",  # KMS's lockout check on CreateKey
        "kms:EnableKeyRotation",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
    ],
    "aws:sns/topic:Topic": ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:TagResource"],
    "aws:sns/topicPolicy:TopicPolicy": ["sns:SetTopicAttributes"],
    "aws:sns/topicSubscription:TopicSubscription": ["sns:Subscribe"],
    "aws:ecs/cluster:Cluster": ["ecs:CreateCluster", "ecs:DescribeClusters"],
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": [
        "ecs:PutClusterCapacityProviders"
    ],
    "aws:ecs/taskDefinition:TaskDefinition": [
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
    ],
    "aws:ecs/service:Service": ["ecs:CreateService", "ecs:DescribeServices"],
    "aws:cloudwatch/logGroup:LogGroup": [
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
    ],
    "aws:cloudwatch/dashboard:Dashboard": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard"],
    "aws:iam/role:Role": ["iam:CreateRole", "iam:GetRole", "iam:TagRole"],
    "aws:iam/rolePolicy:RolePolicy": ["iam:PutRolePolicy", "iam:GetRolePolicy"],
    "aws:secretsmanager/secret:Secret": [
        "secretsmanager:CreateSecret",
        "secretsmanager:DescribeSecret",
    ],
    "aws:secretsmanager/secretVersion:SecretVersion": [
        "secretsmanager:PutSecretValue",
        "secretsmanager:GetSecretValue",
    ],
    "aws:lb/loadBalancer:LoadBalancer": [
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:DescribeLoadBalancers",
    ],
    "aws:lb/targetGroup:TargetGroup": [
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
    ],
    "aws:lb/listener:Listener": ["elasticloadbalancing:CreateListener"],
    "aws:lb/listenerRule:ListenerRule": ["elasticloadbalancing:CreateRule"],
    "aws:appautoscaling/target:Target": ["application-autoscaling:RegisterScalableTarget"],
    "aws:appautoscaling/policy:Policy": ["application-autoscaling:PutScalingPolicy"],
    "aws:amp/workspace:Workspace": [
        "aps:CreateWorkspace",
        "aps:DescribeWorkspace",
        "aps:DescribeLoggingConfiguration",  # read right after creation by the provider
    ],
    "aws:acm/certificate:Certificate": [
        "acm:RequestCertificate",
        "acm:DescribeCertificate",
        "acm:AddTagsToCertificate",
        "acm:ListTagsForCertificate",
    ],
    "aws:acm/certificateValidation:CertificateValidation": ["acm:DescribeCertificate"],
    "aws:route53/record:Record": [
        "route53:GetHostedZone",  # the provider reads the zone's name to build the fqdn
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
        "route53:ListResourceRecordSets",
    ],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": [
        "iam:AttachRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:DetachRolePolicy",
    ],
}


def scope(stack: str) -> StackScope:
    return StackScope(
        provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
        bucket_arn="arn:aws:s3:::elixir-devops-state-1",
        bucket_key_arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/bucket",
        secrets_key_arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{stack}",
        project="elixir-devops",
        resource_prefix="elixir-app",
        stack=stack,
    )


def union(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """A role's inline policy and attached managed policies as one document: IAM evaluates them
    together (an Allow in any of them allows, an explicit Deny in any of them wins)."""
    return {"Statement": [s for document in documents for s in document["Statement"]]}


def deploy_role_policy(stack: str) -> dict[str, Any]:
    """Everything the stack's deploy role is granted: inline and attached."""
    return union(deploy_documents(scope(stack)))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if operator == "Null":
                # "false": the key is in the request; "true": it is not.
                if (actual is None) != (str(expected).lower() == "true"):
                    return False
                continue
            patterns = _as_list(expected)
            if operator == "StringNotLike":
                # A negated operator holds when the key is absent (IAM's rule).
                if actual is not None and any(fnmatch.fnmatchcase(actual, p) for p in patterns):
                    return False
                continue
            if actual is None:
                return False
            if operator == "StringEquals" and actual not in patterns:
                return False
            if operator in ("StringLike", "ArnLike") and not any(
                fnmatch.fnmatchcase(actual, p) for p in patterns
            ):
                return False
            if operator not in ("StringEquals", "StringLike", "ArnLike"):
                return False
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]):
    return (
        any(fnmatch.fnmatch(action.lower(), a.lower()) for a in _as_list(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), context)
    )


def allowed(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether an Allow statement covers the call and no Deny statement does (IAM: an explicit
    Deny wins; the pull-request role's document has one)."""
    statements = policy["Statement"]
    assert {s["Effect"] for s in statements} <= {"Allow", "Deny"}
    if any(s["Effect"] == "Deny" and _applies(s, action, resource, context) for s in statements):
        return False
    return any(
        s["Effect"] == "Allow" and _applies(s, action, resource, context) for s in statements
    )


def call_target(
    resource_type: str, action: str, run: Registered, stack: str
) -> tuple[str, dict[str, str]]:
    """The resource ARN and request context of a call, as IAM evaluates it."""
    context = {"aws:RequestTag/stack": stack, "aws:ResourceTag/stack": stack}
    if resource_type == "aws:ecr/repository:Repository" and action.startswith("kms:"):
        context["kms:ViaService"] = "ecr.eu-west-1.amazonaws.com"
    if action.startswith("secretsmanager:"):
        # The stack's secrets are named <resourcePrefix>-<stack>/... (the PR role is scoped so).
        (secret, *_) = run.of_type("aws:secretsmanager/secret:Secret")
        return secret.outputs["arn"], context
    if action.startswith("s3:"):
        (bucket,) = [b.outputs["bucket"] for b in run.of_type("aws:s3/bucket:Bucket")]
        return f"arn:aws:s3:::{bucket}", context
    if resource_type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        # The attach and detach calls carry the policy ARN (the role's condition key); one
        # attachment of the run stands for all (each is checked by the caller's own test).
        attachment = run.of_type(resource_type)[0]
        context["iam:PolicyARN"] = attachment.inputs["policyArn"]
    if action.startswith("iam:"):
        role = web_task(run).of_type("aws:iam/role:Role")[0].outputs["name"]
        return f"arn:aws:iam::{ACCOUNT}:role/{role}", context
    return "*", context


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_deploy_role_may_create_every_resource_the_stack_registers(stack: str) -> None:
    run = stack_run(stack)
    policy = deploy_role_policy(stack)
    types = {r.type for r in run.custom() if r.type.startswith("aws:")}
    unknown = sorted(types - set(CREATE_CALLS))
    assert not unknown, f"add the API calls creating {unknown} to CREATE_CALLS (and the role)"
    missing = []
    for resource_type in sorted(types):
        for action in CREATE_CALLS[resource_type]:
            resource, context = call_target(resource_type, action, run, stack)
            if not allowed(policy, action, resource, context):
                missing.append(f"{resource_type}: {action}")
    assert not missing, "the deploy role lacks:\n" + "\n".join(missing)
    # The KMS statements are scoped by the stack tag: the program must set it on every key.
    for key in run.of_type("aws:kms/key:Key"):
        assert key.inputs["tags"]["stack"] == stack, key.urn


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_deploy_role_passes_only_this_stacks_roles_to_ecs(stack: str) -> None:
    run = stack_run(stack)
    policy = deploy_role_policy(stack)
    for role in run.of_type("aws:iam/role:Role"):
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role.outputs['name']}"
        assert allowed(
            policy, "iam:PassRole", arn, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        )
        assert not allowed(
            policy, "iam:PassRole", arn, {"iam:PassedToService": "ec2.amazonaws.com"}
        )
    other = f"arn:aws:iam::{ACCOUNT}:role/elixir-app-other-execution-1234567"
    assert not allowed(
        policy, "iam:PassRole", other, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    )


def test_deploy_role_manages_only_keys_tagged_with_its_own_stack() -> None:
    policy = deploy_role_policy("dev")
    own = {"aws:ResourceTag/stack": "dev", "aws:RequestTag/stack": "dev"}
    other = {"aws:ResourceTag/stack": "prod", "aws:RequestTag/stack": "prod"}
    for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"):
        assert allowed(policy, action, "*", own)
        assert not allowed(policy, action, "*", other)
    assert not allowed(policy, "kms:CreateKey", "*", other)


@pytest.mark.parametrize("stack", ["dev", "staging", "production-eu"])
def test_deploy_policy_fits_the_inline_policy_size_limit(stack: str) -> None:
    """IAM caps a role's inline policies at 10,240 characters (whitespace not counted); the
    service statements are attached policies, so the inline one has room for years."""
    document = json.dumps(deploy_policy(scope(stack)), separators=(",", ":"))
    assert len(document) < 6_000, len(document)


def size(document: dict[str, Any]) -> int:
    """Characters IAM counts against its policy size limits (no white space)."""
    return len(json.dumps(document, separators=(",", ":")))


@pytest.mark.parametrize(
    "policies", [deploy_service_policies, pull_request_service_policies], ids=["deploy", "pr"]
)
def test_service_policies_fit_the_managed_policy_size_limit_and_the_attachment_quota(
    policies: Any,
) -> None:
    """IAM: 6,144 characters per customer-managed policy, 10 managed policies per role (the PR
    role also carries its guard)."""
    documents = policies()
    assert documents
    for document in documents:
        assert size(document) <= MANAGED_POLICY_LIMIT == 6_144, size(document)
    assert len(documents) + 1 <= 10


def test_the_pr_role_inline_policy_has_a_large_margin_too() -> None:
    inline = pull_request_environment_policy(scope(PULL_REQUEST_STACKS), RELEASE_REPOSITORY)
    assert size(inline) < 6_000, size(inline)


def test_service_statements_are_attached_not_inline_and_none_is_lost() -> None:
    """The split changes where the statements are, not what the roles may do: every service
    statement is in exactly one managed policy, and none stays inline."""
    inline, *managed = deploy_documents(scope("dev"))
    managed_sids = [s["Sid"] for document in managed for s in document["Statement"]]
    assert len(managed_sids) == len(set(managed_sids))
    assert {"Ecr", "Ecs", "Vpc", "Rds", "CloudMap", "SecretsManager"} <= set(managed_sids)
    assert not {s["Sid"] for s in inline["Statement"]} & set(managed_sids)
    assert all(s["Resource"] == "*" for document in managed for s in document["Statement"])
    # The PR role's Secrets Manager statement is scoped to pr-* names, so it stays inline.
    pr_inline, *pr_managed = pull_request_documents(scope(PULL_REQUEST_STACKS), RELEASE_REPOSITORY)
    assert "SecretsManager" in {s["Sid"] for s in pr_inline["Statement"]}
    assert "SecretsManager" not in {s["Sid"] for d in pr_managed for s in d["Statement"]}


def test_preview_role_may_read_the_build_cache_of_its_own_stack_only() -> None:
    policy = preview_policy(scope("staging"))
    own = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/elixir-app-staging-repository-1a2b3c4"
    other = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/elixir-app-prod-repository-1a2b3c4"
    assert allowed(policy, "ecr:BatchGetImage", own, {})
    assert not allowed(policy, "ecr:BatchGetImage", other, {})
    assert not allowed(policy, "ecr:PutImage", own, {})


def test_deploy_role_can_hand_the_grafana_role_to_managed_grafana() -> None:
    """managedGrafana: true creates a role the Grafana workspace assumes: CI must pass it."""
    run = run_stack("dev", overrides={"managedPrometheus": True, "managedGrafana": True})
    assert run.error is None, run.error
    policy = deploy_role_policy("dev")
    grafana_roles = [
        r
        for r in run.of_type("aws:iam/role:Role")
        if "grafana.amazonaws.com" in str(r.inputs["assumeRolePolicy"])
    ]
    assert grafana_roles
    for role in grafana_roles:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role.outputs['name']}"
        context = {"iam:PassedToService": "grafana.amazonaws.com"}
        assert allowed(policy, "iam:PassRole", arn, context)


def missing_calls(policy: dict[str, Any], run: Registered, stack: str) -> list[str]:
    """The create calls of the run's AWS types that the policy does not allow."""
    return [
        f"{resource_type}: {action}"
        for resource_type in sorted({r.type for r in run.custom() if r.type.startswith("aws:")})
        for action in CREATE_CALLS[resource_type]
        if not allowed(policy, action, *call_target(resource_type, action, run, stack))
    ]


def test_deploy_role_may_create_the_chat_forwarder() -> None:
    run = run_stack(
        "dev", secrets={"chatWebhookUrl": "https://hooks.slack.com/services/T0/B0/XXXX"}
    )
    assert run.error is None, run.error
    policy = deploy_role_policy("dev")
    missing = missing_calls(policy, run, "dev")
    assert not missing, "the deploy role lacks:\n" + "\n".join(missing)
    (function_role,) = [
        r
        for r in run.of_type("aws:iam/role:Role")
        if "lambda.amazonaws.com" in r.inputs["assumeRolePolicy"]
    ]
    arn = f"arn:aws:iam::{ACCOUNT}:role/{function_role.outputs['name']}"
    assert allowed(policy, "iam:PassRole", arn, {"iam:PassedToService": "lambda.amazonaws.com"})


def test_deploy_role_may_create_the_domain_certificate_and_the_apps_policies() -> None:
    """hostedZoneId: certificate, validation and alias records; taskRoleManagedPolicyArns:
    attachments of policies named for the stack (other ARNs are refused by design: the CI role
    must not hand the app, or itself, AWS's broad managed policies)."""
    own = f"arn:aws:iam::{ACCOUNT}:policy/elixir-app-dev-uploads"
    run = run_stack(
        "dev",
        {
            "domain": "shop.example.com",
            "hostedZoneId": "Z0123456789ABCDEFGHIJ",
            "taskRoleManagedPolicyArns": [own],
        },
    )
    assert run.error is None, run.error
    policy = deploy_role_policy("dev")
    missing = missing_calls(policy, run, "dev")
    assert not missing, "the deploy role lacks:\n" + "\n".join(missing)
    role = web_task(run).of_type("aws:iam/role:Role")[0].outputs["name"]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    broad = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert not allowed(policy, "iam:AttachRolePolicy", role_arn, {"iam:PolicyARN": broad})
    # Private keys of exportable certificates stay out of CI's reach.
    assert not allowed(policy, "acm:ExportCertificate", "*", {})


RELEASE_REPOSITORY = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/elixir-devops-release"


def pull_request_policy() -> dict[str, Any]:
    """The PR role's inline policy, its service policies and its guard, evaluated together as
    IAM does."""
    return union(pull_request_documents(scope(PULL_REQUEST_STACKS), RELEASE_REPOSITORY))


def test_pull_request_role_may_create_everything_a_pr_stack_registers() -> None:
    """The same evaluation as the deploy roles', for pr-123 made from the template."""
    run = run_stack("pr-123")
    assert run.error is None, run.error
    policy = pull_request_policy()
    missing = [
        f"{resource_type}: {action}"
        for resource_type in sorted({r.type for r in run.custom() if r.type.startswith("aws:")})
        for action in CREATE_CALLS[resource_type]
        if not allowed(policy, action, *call_target(resource_type, action, run, "pr-123"))
    ]
    assert not missing, "the pull-request role lacks:\n" + "\n".join(missing)
    for role in run.of_type("aws:iam/role:Role"):
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role.outputs['name']}"
        assert allowed(
            policy, "iam:PassRole", arn, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        )


@pytest.mark.parametrize("other", ["dev", "staging", "prod"])
def test_pull_request_role_admits_pr_names_only(other: str) -> None:
    policy = pull_request_policy()
    bucket = "arn:aws:s3:::elixir-devops-state-1"
    for stack, expected in (("pr-123", True), ("pr-9", True), (other, False)):
        role = f"arn:aws:iam::{ACCOUNT}:role/elixir-app-{stack}-execution-1a2b3c4"
        tags = {"aws:ResourceTag/stack": stack, "aws:RequestTag/stack": stack}
        checks = {
            "state": allowed(
                policy, "s3:PutObject", f"{bucket}/.pulumi/stacks/elixir-devops/{stack}.json", {}
            ),
            "history": allowed(
                policy, "s3:PutObject", f"{bucket}/.pulumi/history/elixir-devops/{stack}/x.json", {}
            ),
            "lock": allowed(
                policy,
                "s3:PutObject",
                f"{bucket}/.pulumi/locks/organization/elixir-devops/{stack}/l.json",
                {},
            ),
            "role": allowed(policy, "iam:PutRolePolicy", role, {}),
            "pass": allowed(
                policy, "iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            ),
            "policy": allowed(policy, "iam:CreatePolicy", role.replace(":role/", ":policy/"), {}),
            "key": allowed(policy, "kms:ScheduleKeyDeletion", "*", tags),
            "new key": allowed(policy, "kms:CreateKey", "*", tags),
            "bucket": allowed(
                policy, "s3:DeleteBucket", f"arn:aws:s3:::elixir-app-{stack}-alb-logs-1", {}
            ),
        }
        assert checks == dict.fromkeys(checks, expected), (stack, checks)
    # The prefixes are whole words: elixir-app-prod-* is no pr-* name.
    assert not allowed(
        policy,
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/elixir-app-prod-x",
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
    )
    assert not allowed(
        policy, "s3:GetObject", f"{bucket}/.pulumi/stacks/elixir-devops/prod.json", {}
    )
    # Its own secrets key only: scope() gives the pr-* scope the key ".../key/pr-*".
    assert allowed(policy, "kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/pr-*", {})
    assert not allowed(policy, "kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{other}", {})


def test_pull_request_role_never_touches_the_release_registry() -> None:
    """Pull-request code must not push over, or delete, what prod runs."""
    policy = pull_request_policy()
    own = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/elixir-app-pr-123-repository-1a2b3c4"
    for action in (
        "ecr:PutImage",
        "ecr:BatchDeleteImage",
        "ecr:DeleteRepository",
        "ecr:SetRepositoryPolicy",
        "ecr:PutLifecyclePolicy",
    ):
        assert allowed(policy, action, own, {}), action
        assert not allowed(policy, action, RELEASE_REPOSITORY, {}), action


def test_the_evaluation_honours_an_explicit_deny() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ecr:PutImage", "Resource": RELEASE_REPOSITORY},
        ]
    }
    assert allowed(policy, "ecr:PutImage", "arn:aws:ecr:eu-west-1:1:repository/x", {})
    assert not allowed(policy, "ecr:PutImage", RELEASE_REPOSITORY, {})


GUARDED_CALLS = [
    "ecs:DeleteService",
    "ecs:UpdateService",
    "ecs:TagResource",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:RemoveTags",
    "rds:DeleteDBInstance",
    "rds:ModifyDBInstance",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "ec2:DeleteVpc",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateTags",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "sns:Subscribe",
    "cloudwatch:DeleteAlarms",
    "lambda:DeleteFunction",
    "ecr:BatchDeleteImage",
    "events:PutTargets",
    "application-autoscaling:DeregisterScalableTarget",
    # Creating in another stack's listener, VPC or route table, or changing its service names.
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateListener",
    "ec2:CreateRoute",
    "ec2:CreateSubnet",
    "ec2:CreateSecurityGroup",
    "ec2:AssociateRouteTable",
    "ec2:AttachInternetGateway",
    "servicediscovery:DeregisterInstance",
]
OWN_SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:elixir-app-pr-123/runtime-1-AbCdEf"


@pytest.mark.parametrize("action", GUARDED_CALLS)
def test_pull_request_code_cannot_touch_resources_of_other_stacks(action: str) -> None:
    """Service statements are on *; the guard denies acting on what another stack tagged."""
    policy = pull_request_policy()
    # Secrets Manager is also scoped by name: the guard is checked on the role's own names.
    resource = OWN_SECRET if action.startswith("secretsmanager:") else "*"
    for stack in ("dev", "staging", "prod"):
        assert not allowed(policy, action, resource, {"aws:ResourceTag/stack": stack}), stack
    # Its own pr-* resources, and requests without a stack tag (creation), stay allowed.
    assert allowed(policy, action, resource, {"aws:ResourceTag/stack": "pr-123"})
    assert allowed(policy, action, resource, {})


def test_pull_request_role_may_encrypt_a_new_stacks_data_key_with_its_own_key_only() -> None:
    """`pulumi stack init --secrets-provider awskms://...` of pr-<n> encrypts the stack's new
    data key through KMS; the main stacks' keys stay decrypt-only and out of its reach."""
    policy = pull_request_policy()
    own = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/pr-*"
    for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"):
        assert allowed(policy, action, own, {}), action
        for other in ("dev", "staging", "prod"):
            key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{other}"
            assert not allowed(policy, action, key, {}), (action, other)


def test_pull_request_role_writes_no_dns_records_and_deletes_no_zone() -> None:
    """Route 53 has no resource-tag condition key, so no guard could keep PR code off prod's
    records or Cloud Map's zone: the role gets only what CreatePrivateDnsNamespace needs."""
    policy = pull_request_policy()
    zone = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    for action in (
        "route53:ChangeResourceRecordSets",
        "route53:DeleteHostedZone",
        "route53:DeleteHealthCheck",
        "route53:UpdateHealthCheck",
        "route53:AssociateVPCWithHostedZone",
    ):
        assert not allowed(policy, action, zone, {}), action
    # Nor certificates (a PR stack serves on its load balancer's name).
    for action in ("acm:DeleteCertificate", "acm:RemoveTagsFromCertificate"):
        assert not allowed(policy, action, "*", {"aws:ResourceTag/stack": "prod"}), action
    assert allowed(policy, "route53:CreateHostedZone", "*", {})
    assert allowed(policy, "route53:ListHostedZonesByName", "*", {})
    # The deploy roles keep theirs (hostedZoneId: the certificate and alias records).
    assert allowed(deploy_role_policy("prod"), "route53:ChangeResourceRecordSets", zone, {})


@pytest.mark.parametrize("other", ["dev", "staging", "prod"])
def test_pull_request_role_reads_no_secret_of_another_stack_even_untagged(other: str) -> None:
    policy = pull_request_policy()
    untagged = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:elixir-app-{other}/runtime-1-x"
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"):
        assert not allowed(policy, action, untagged, {}), action
        assert allowed(policy, action, OWN_SECRET, {}), action
    # ListSecrets takes no resource: never granted (names and tags of every secret).
    assert not allowed(policy, "secretsmanager:ListSecrets", "*", {})


def test_the_evaluation_knows_null_and_negated_conditions() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "ecs:DeleteService",
        "Resource": "*",
        "Condition": {
            "Null": {"aws:ResourceTag/stack": "false"},
            "StringNotLike": {"aws:ResourceTag/stack": "pr-*"},
        },
    }
    policy = {"Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}, deny]}
    assert not allowed(policy, "ecs:DeleteService", "*", {"aws:ResourceTag/stack": "prod"})
    assert allowed(policy, "ecs:DeleteService", "*", {"aws:ResourceTag/stack": "pr-1"})
    assert allowed(policy, "ecs:DeleteService", "*", {})
