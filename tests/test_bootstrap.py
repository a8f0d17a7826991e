"""The bootstrap project: the AWS pieces CI relies on, checked the way AWS and an attacker would.

The program runs under Pulumi mocks that answer with AWS-shaped ARNs (the code parses them for the
account, partition and region). What mocks accept but AWS or a reviewer would not is checked
directly: trust conditions, the state bucket's protections, IAM documents linted by parliament,
inline- and managed-policy sizes, and that no role can reach another stack's state or its own
permissions.
"""

from __future__ import annotations

import contextvars
import dataclasses
import fnmatch
import json
import runpy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import pytest
from parliament import analyze_policy_string

from bootstrap.bootstrap_settings import PROJECT_FILE, parse_settings
from bootstrap.iam_documents import (
    PULL_REQUEST_STACKS,
    StackScope,
    deploy_policy,
    deploy_service_policies,
    managed_policies,
    preview_policy,
    pull_request_documents,
    pull_request_guard_policy,
    pull_request_service_policies,
    tls_only_bucket_policy,
    trust_policy,
)
from bootstrap.state_backend import backend_url, secrets_provider_url
from config_reader import ConfigError, load_project_config
from plan.mocks import unwrap

MAIN = Path(__file__).resolve().parent.parent / "bootstrap" / "__main__.py"
PROJECT = "elixir-devops-bootstrap"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
REPOSITORY = "acme/shop"
OIDC = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"
STACKS = ("dev", "staging", "prod")
BUCKET_ARN = "arn:aws:s3:::elixir-devops-state-20260101000000000000000001"
INLINE_POLICY_LIMIT = 10_240  # IAM: aggregate inline policy size per role, whitespace excluded


# -- mocks -----------------------------------------------------------------------------------


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = unwrap(dict(args.inputs))
        outputs = dict(inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "aws:kms/key:Key":
            resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, args.name))
            outputs.update(arn=key_arn(resource_id), keyId=resource_id)
        elif args.typ == "aws:s3/bucket:Bucket":
            resource_id = BUCKET_ARN.rsplit(":", 1)[1]
            outputs.update(bucket=resource_id, arn=BUCKET_ARN)
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            outputs.update(arn=PROVIDER_ARN)
        elif args.typ == "aws:ecr/repository:Repository":
            resource_id = inputs["name"]
            outputs.update(
                arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{resource_id}",
                repositoryUrl=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{resource_id}",
            )
        elif args.typ == "aws:iam/role:Role":
            resource_id = f"{inputs['namePrefix']}20260101000000000000000001"
            outputs.update(
                name=resource_id, arn=f"arn:aws:iam::{ACCOUNT}:role{inputs['path']}{resource_id}"
            )
        elif args.typ == "aws:iam/policy:Policy":
            resource_id = f"{inputs['namePrefix']}20260101000000000000000001"
            outputs.update(arn=f"arn:aws:iam::{ACCOUNT}:policy{inputs['path']}{resource_id}")
        self.resources.append(Registered(args.typ, args.name, inputs, outputs))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        raise AssertionError(f"the bootstrap makes no invokes, got {args.token}")

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> Registered:
        (resource,) = self.of_type(typ)
        return resource


@dataclass
class Run:
    mocks: RecordingMocks
    exports: dict[str, Any]

    def roles(self) -> dict[tuple[str, str], Registered]:
        """The stacks' deploy and preview roles by (stack, purpose), from their tags."""
        return {key: r for key, r in self.all_roles().items() if key[0] in STACKS}

    def all_roles(self) -> dict[tuple[str, str], Registered]:
        """Every CI role: also ("release", "push") and ("pr", "environments")."""
        return {
            (r.inputs["tags"]["stack"], r.inputs["tags"]["purpose"]): r
            for r in self.mocks.of_type("aws:iam/role:Role")
        }

    def key_arn_by_alias(self) -> dict[str, str]:
        return {
            alias.inputs["name"]: key_arn(alias.inputs["targetKeyId"])
            for alias in self.mocks.of_type("aws:kms/alias:Alias")
        }

    def bucket_key_arn(self) -> str:
        return self.key_arn_by_alias()["alias/elixir-devops-pulumi-state"]

    def secrets_key_arn(self, stack: str) -> str:
        return self.key_arn_by_alias()[f"alias/elixir-devops-{stack}-pulumi-secrets"]

    def scope(self, stack: str) -> StackScope:
        return StackScope(
            provider_arn=PROVIDER_ARN,
            bucket_arn=BUCKET_ARN,
            bucket_key_arn=self.bucket_key_arn(),
            secrets_key_arn=self.secrets_key_arn(stack),
            project="elixir-devops",
            resource_prefix="elixir-app",
            stack=stack,
        )

    def inline_policy_of(self, role: Registered) -> dict[str, Any]:
        (policy,) = [
            p
            for p in self.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] == role.outputs["name"]
        ]
        return json.loads(policy.inputs["policy"])

    def attached_policies_of(self, role: Registered) -> list[Registered]:
        """The customer-managed policies attached to the role, in the order of attachment."""
        by_arn = {p.outputs["arn"]: p for p in self.mocks.of_type("aws:iam/policy:Policy")}
        return [
            by_arn[a.inputs["policyArn"]]
            for a in self.mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.inputs["role"] == role.outputs["name"]
        ]

    def documents_of(self, role: Registered) -> list[dict[str, Any]]:
        """What IAM evaluates for the role: its inline policy and the attached policies."""
        return [self.inline_policy_of(role)] + [
            json.loads(p.inputs["policy"]) for p in self.attached_policies_of(role)
        ]

    def policy_of(self, role: Registered) -> dict[str, Any]:
        """The role's documents as one (IAM evaluates them together)."""
        return {"Statement": [s for d in self.documents_of(role) for s in d["Statement"]]}


def run_bootstrap(config: dict[str, Any], mocks: RecordingMocks | None = None) -> Run:
    """Runs bootstrap/__main__.py under fresh mocks and stack config, like `pulumi up` would.

    Pulumi's runtime state (settings, config, root stack) lives in context variables: running in
    a copied context keeps this project's mocks from leaking into other test modules' programs.
    """
    recording = mocks or RecordingMocks()
    return contextvars.copy_context().run(_run_in_this_context, config, recording)


def _run_in_this_context(config: dict[str, Any], mocks: RecordingMocks) -> Run:
    pulumi.runtime.reset_options(project=PROJECT, stack="ci", preview=False)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="ci", preview=False)
    pulumi.runtime.set_all_config(
        {
            f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        }
    )
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        namespace = runpy.run_path(str(MAIN))
        backend, roles = namespace["backend"], namespace["roles"]
        return pulumi.Output.all(
            backendUrl=backend.backend_url,
            stateBucketName=backend.bucket_name,
            secretsProviders=backend.secrets_providers,
            oidcProviderArn=roles.provider_arn,
            deployRoleArns=roles.deploy_role_arns,
            previewRoleArns=roles.preview_role_arns,
            releaseRepositoryUrl=namespace["release"].repository_url,
            releaseRoleArn=roles.release_role_arn,
            **(
                {
                    "pullRequestRoleArn": roles.pull_request_role_arn,
                    "pullRequestSecretsProvider": backend.pull_request_secrets_provider,
                }
                if roles.pull_request_role_arn is not None
                else {}
            ),
        ).apply(exports.update)

    program()  # returns once every registration has reached the mocks
    return Run(mocks, exports)


@pytest.fixture(scope="module")
def default_run() -> Run:
    return run_bootstrap({"githubRepository": REPOSITORY})


# -- settings --------------------------------------------------------------------------------


def declared() -> dict[str, dict[str, Any]]:
    return load_project_config(PROJECT_FILE)[1]


def test_settings_defaults_come_from_pulumi_yaml() -> None:
    settings = parse_settings({"githubRepository": REPOSITORY}, declared())
    assert settings.environments == ("dev", "staging", "prod")
    assert settings.deploy_branch == "main"
    assert settings.main_project == "elixir-devops"
    assert settings.existing_oidc_provider_arn is None


def test_environments_are_kept_in_promotion_order() -> None:
    settings = parse_settings(
        {"githubRepository": REPOSITORY, "environments": '["prod", "dev"]'}, declared()
    )
    assert settings.environments == ("dev", "prod")


INVALID = [
    ({"githubRepository": "shop"}, "githubRepository", "owner/name"),
    ({"githubRepository": "acme/shop/extra"}, "githubRepository", "owner/name"),
    ({}, "githubRepository", "owner/name"),
    (
        {"githubRepository": REPOSITORY, "environments": ["dev", "qa"]},
        "environments",
        "allowed: dev, staging, prod",
    ),
    ({"githubRepository": REPOSITORY, "environments": []}, "environments", "at least 1"),
    (
        {"githubRepository": REPOSITORY, "environments": ["dev", "dev"]},
        "environments",
        "listed twice",
    ),
    (
        {"githubRepository": REPOSITORY, "stateBucketPrefix": "Bad_Prefix"},
        "stateBucketPrefix",
        "lowercase",
    ),
    ({"githubRepository": REPOSITORY, "deployBranch": "feature/../x"}, "deployBranch", "branch"),
    (
        {
            "githubRepository": REPOSITORY,
            "existingOidcProviderArn": "arn:aws:iam::1:oidc-provider/x",
        },
        "existingOidcProviderArn",
        "token.actions.githubusercontent.com",
    ),
    ({"githubRepository": REPOSITORY, "githubRepo": "acme/shop"}, "githubRepo", "did you mean"),
]


@pytest.mark.parametrize(("config", "key", "allowed"), INVALID)
def test_invalid_settings_name_the_key_and_register_nothing(
    config: dict[str, Any], key: str, allowed: str
) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as raised:
        run_bootstrap(config, mocks)
    message = str(raised.value)
    assert f"{PROJECT}:{key} = " in message
    assert allowed in message
    # The program stops before its first resource: nothing reached the engine (the mocks).
    assert mocks.resources == []


# -- state backend ---------------------------------------------------------------------------


def test_state_bucket_is_private_versioned_and_encrypted_with_the_secrets_key(
    default_run: Run,
) -> None:
    mocks = default_run.mocks
    bucket = mocks.one("aws:s3/bucket:Bucket")
    bucket_name = bucket.outputs["bucket"]
    assert bucket.inputs["bucketPrefix"] == "elixir-devops-state-"

    block = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert block["bucket"] == bucket_name
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag

    versioning = mocks.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["bucket"] == bucket_name
    assert versioning["versioningConfiguration"]["status"] == "Enabled"

    encryption = mocks.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["bucket"] == bucket_name
    (rule,) = encryption["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": default_run.bucket_key_arn()}

    ownership = mocks.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_state_bucket_refuses_requests_without_tls(default_run: Run) -> None:
    policy = default_run.mocks.one("aws:s3/bucketPolicy:BucketPolicy").inputs
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_stack_has_its_own_rotating_secrets_key(default_run: Run) -> None:
    keys = default_run.mocks.of_type("aws:kms/key:Key")
    assert all(key.inputs["enableKeyRotation"] is True for key in keys)
    secrets_keys = {default_run.secrets_key_arn(stack) for stack in (*STACKS, "pr")}
    assert len(secrets_keys) == len(STACKS) + 1
    assert default_run.bucket_key_arn() not in secrets_keys
    assert {key.outputs["arn"] for key in keys} == {*secrets_keys, default_run.bucket_key_arn()}


def test_outputs_are_what_ci_variables_need(default_run: Run) -> None:
    exports = default_run.exports
    bucket = BUCKET_ARN.rsplit(":", 1)[1]
    assert exports["stateBucketName"] == bucket
    assert exports["backendUrl"] == f"s3://{bucket}"
    assert exports["secretsProviders"] == {
        stack: f"awskms:///{default_run.secrets_key_arn(stack)}?region={REGION}" for stack in STACKS
    }
    assert exports["oidcProviderArn"] == PROVIDER_ARN
    for name in ("deployRoleArns", "previewRoleArns"):
        arns = exports[name]
        assert list(arns) == ["dev", "staging", "prod"]
        for arn in arns.values():
            assert arn.startswith(f"arn:aws:iam::{ACCOUNT}:role/github-actions/"), arn


def test_runs_leave_the_global_pulumi_runtime_alone() -> None:
    """Other test modules' programs must not see this project's mocks, and vice versa."""
    root_before = pulumi.runtime.get_root_resource()
    run_bootstrap({"githubRepository": REPOSITORY})
    assert pulumi.runtime.get_root_resource() is root_before
    assert pulumi.get_project() != PROJECT


def test_url_helpers() -> None:
    assert backend_url("b") == "s3://b"
    assert secrets_provider_url(key_arn("k")) == f"awskms:///{key_arn('k')}?region={REGION}"
    with pytest.raises(ValueError, match="not an ARN"):
        secrets_provider_url("alias/x")


# -- GitHub OIDC trust -----------------------------------------------------------------------


EXPECTED_SUBJECTS = {
    ("dev", "deploy"): [f"repo:{REPOSITORY}:ref:refs/heads/main"],
    ("staging", "deploy"): [f"repo:{REPOSITORY}:environment:staging"],
    ("prod", "deploy"): [f"repo:{REPOSITORY}:environment:production"],
    ("dev", "preview"): [f"repo:{REPOSITORY}:pull_request"],
    ("staging", "preview"): [f"repo:{REPOSITORY}:pull_request"],
    ("prod", "preview"): [f"repo:{REPOSITORY}:pull_request"],
}


def test_github_identity_provider_is_for_sts(default_run: Run) -> None:
    provider = default_run.mocks.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == f"https://{OIDC}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_roles_trust_only_this_repository_and_the_right_environment(default_run: Run) -> None:
    roles = default_run.roles()
    assert set(roles) == set(EXPECTED_SUBJECTS)
    for (stack, purpose), role in roles.items():
        document = json.loads(role.inputs["assumeRolePolicy"])
        (statement,) = document["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": PROVIDER_ARN}
        # Exact matches only: a StringLike with wildcards would admit other repositories/refs.
        assert set(statement["Condition"]) == {"StringEquals"}
        conditions = statement["Condition"]["StringEquals"]
        assert conditions[f"{OIDC}:aud"] == "sts.amazonaws.com"
        assert conditions[f"{OIDC}:sub"] == EXPECTED_SUBJECTS[(stack, purpose)], (stack, purpose)


def test_no_deploy_role_trusts_pull_requests(default_run: Run) -> None:
    for (stack, purpose), role in default_run.roles().items():
        if purpose == "deploy":
            assert ":pull_request" not in role.inputs["assumeRolePolicy"], stack


def test_an_existing_identity_provider_is_reused() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"
    run = run_bootstrap(
        {
            "githubRepository": REPOSITORY,
            "existingOidcProviderArn": other,
            "environments": ["staging"],
            "deployBranch": "release",
        }
    )
    assert run.mocks.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert set(run.roles()) == {("staging", "deploy"), ("staging", "preview")}
    for role in run.all_roles().values():
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
            "Federated": other
        }


# -- permissions -----------------------------------------------------------------------------


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether some Allow statement names this action (wildcards expanded) on this resource."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in as_list(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in as_list(statement["Resource"]))
        for statement in statements(document)
    )


def parliament_findings(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    policy = analyze_policy_string(json.dumps(document))
    return [(f.issue, f.severity, str(f.detail)) for f in policy.findings]


def test_permission_policies_lint_clean_with_parliament(default_run: Run) -> None:
    documents = [
        document
        for role in default_run.all_roles().values()
        for document in default_run.documents_of(role)
    ]
    documents.append(
        json.loads(default_run.mocks.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    )
    for document in documents:
        findings = parliament_findings(document)
        # RESOURCE_STAR (LOW) is accepted for the service statements only: ECR/ECS/ELB/EC2/logs/
        # SNS/APS/Secrets Manager resources are auto-named by Pulumi in the main stacks, so a
        # name pattern would be a promise the program does not keep. IAM and the state are scoped
        # by ARN and must raise nothing; unknown actions (typos) are never accepted.
        unexpected = [f for f in findings if f[0] != "RESOURCE_STAR"]
        assert unexpected == [], unexpected
        scoped_sids = {"ProjectRoles", "ProjectManagedPolicies", "PassProjectRolesToEcs"}
        for _, _, detail in findings:
            assert not any(sid in detail for sid in scoped_sids)


def test_trust_policies_lint_clean_with_parliament(default_run: Run) -> None:
    for role in default_run.all_roles().values():
        findings = parliament_findings(json.loads(role.inputs["assumeRolePolicy"]))
        # parliament reads every document as an identity policy: a trust policy has no Resource
        # (IAM rejects one there), and it does not know OIDC provider ARNs as federation sources
        # (the form AWS documents for GitHub). Nothing else may come up.
        ignored = {
            ("MALFORMED", "Statement contains neither Resource nor NotResource"),
            ("UNKNOWN_FEDERATION_SOURCE", PROVIDER_ARN),
        }
        unexpected = [f for f in findings if (f[0], f[2]) not in ignored]
        assert unexpected == [], unexpected


def test_parliament_catches_a_typo() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:CreateClustr", "Resource": "*"}],
    }
    assert "UNKNOWN_ACTION" in {issue for issue, _, _ in parliament_findings(document)}


def test_policies_fit_the_inline_policy_size_limit(default_run: Run) -> None:
    for role in default_run.all_roles().values():
        size = len(json.dumps(default_run.inline_policy_of(role), separators=(",", ":")))
        assert size <= INLINE_POLICY_LIMIT, (role.name, size)
        # The service statements are attached policies: room for many more services.
        assert size < 6_000, (role.name, size)


def test_each_role_reaches_only_its_own_stack_state(default_run: Run) -> None:
    for (stack, purpose), role in default_run.roles().items():
        document = default_run.policy_of(role)
        own = f"{BUCKET_ARN}/.pulumi/stacks/elixir-devops/{stack}.json"
        own_lock = f"{BUCKET_ARN}/.pulumi/locks/organization/elixir-devops/{stack}/1.json"
        assert allows(document, "s3:GetObject", own)
        assert allows(document, "s3:GetObject", f"{BUCKET_ARN}/.pulumi/meta.yaml")
        assert allows(document, "s3:PutObject", own_lock)
        assert allows(document, "s3:PutObject", own) == (purpose == "deploy")
        assert allows(document, "kms:Decrypt", default_run.secrets_key_arn(stack))
        for other in {"dev", "staging", "prod"} - {stack}:
            theirs = f"{BUCKET_ARN}/.pulumi/stacks/elixir-devops/{other}.json"
            assert not allows(document, "s3:GetObject", theirs), (stack, purpose, other)
            assert not allows(document, "s3:PutObject", theirs), (stack, purpose, other)
            # Pulumi.<other>.yaml (encrypted data key and secrets) is in the repository.
            their_key = default_run.secrets_key_arn(other)
            assert not allows(document, "kms:Decrypt", their_key), (stack, purpose, other)
        # The bucket key works only through S3, where the object permissions above apply.
        (bucket_key,) = [
            st
            for st in statements(document)
            if default_run.bucket_key_arn() in as_list(st["Resource"])
        ]
        assert bucket_key["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}


def test_iam_is_scoped_to_the_stacks_own_roles_and_never_the_ci_roles(default_run: Run) -> None:
    ci_role_arns = [role.outputs["arn"] for role in default_run.all_roles().values()]
    for (stack, purpose), role in default_run.roles().items():
        document = default_run.policy_of(role)
        own = f"arn:aws:iam::{ACCOUNT}:role/elixir-app-{stack}-execution-1a2b3c4"
        assert allows(document, "iam:PassRole", own) == (purpose == "deploy")
        assert allows(document, "iam:PutRolePolicy", own) == (purpose == "deploy")
        for other in {"dev", "staging", "prod"} - {stack}:
            theirs = f"arn:aws:iam::{ACCOUNT}:role/elixir-app-{other}-execution-1a2b3c4"
            for action in ("iam:PassRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"):
                assert not allows(document, action, theirs), (stack, purpose, other, action)
        # A deploy role that could edit a CI role could grant itself anything.
        for arn in ci_role_arns:
            for action in (
                "iam:PutRolePolicy",
                "iam:AttachRolePolicy",
                "iam:UpdateAssumeRolePolicy",
            ):
                assert not allows(document, action, arn), (stack, purpose, arn)
        pass_role = [s for s in statements(document) if "iam:PassRole" in as_list(s["Action"])]
        for statement in pass_role:
            # ECS tasks, Managed Grafana's workspace role (managedGrafana: true) and the chat
            # forwarder's function role (chatWebhookUrl).
            assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == [
                "ecs-tasks.amazonaws.com",
                "grafana.amazonaws.com",
                "lambda.amazonaws.com",
                "vpc-flow-logs.amazonaws.com",
            ]


def test_preview_roles_only_read_outside_their_lock(default_run: Run) -> None:
    writes = ("Create", "Delete", "Put", "Update", "Modify", "Attach", "Tag", "Pass", "Register")
    for (stack, purpose), role in default_run.roles().items():
        if purpose != "preview":
            continue
        for statement in statements(default_run.policy_of(role)):
            actions = as_list(statement["Action"])
            if statement["Sid"] == "StateWrite":
                assert all(
                    r.startswith(f"{BUCKET_ARN}/.pulumi/locks/")
                    for r in as_list(statement["Resource"])
                )
                continue
            for action in actions:
                verb = action.split(":", 1)[1]
                assert not verb.startswith(writes), (stack, action)
        assert not allows(default_run.policy_of(role), "secretsmanager:GetSecretValue", "*")


def test_documents_as_plain_functions_match_what_the_program_registers(default_run: Run) -> None:
    """The pure functions are what the components apply (no drift between tests and program)."""
    role = default_run.roles()[("prod", "deploy")]
    expected = deploy_policy(default_run.scope("prod"))
    assert default_run.inline_policy_of(role) == expected
    attached = [json.loads(p.inputs["policy"]) for p in default_run.attached_policies_of(role)]
    assert attached == deploy_service_policies()
    pr_role = default_run.all_roles()[("pr", "environments")]
    assert default_run.documents_of(pr_role) == pull_request_documents(
        dataclasses.replace(default_run.scope("pr"), stack=PULL_REQUEST_STACKS),
        RELEASE_REPOSITORY_ARN,
    )
    preview = default_run.roles()[("dev", "preview")]
    assert default_run.inline_policy_of(preview) == preview_policy(default_run.scope("dev"))
    assert json.loads(role.inputs["assumeRolePolicy"]) == trust_policy(
        PROVIDER_ARN, [f"repo:{REPOSITORY}:environment:production"]
    )
    assert tls_only_bucket_policy(BUCKET_ARN)["Statement"][0]["Effect"] == "Deny"


def test_deploy_roles_may_manage_the_pull_policy_of_their_repository(default_run: Run) -> None:
    """registryPullAccountIds makes the dev stack own an ECR repository policy."""
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/elixir-app-dev-repository-1a2b3c4"
    for (stack, purpose), role in default_run.roles().items():
        document = default_run.policy_of(role)
        for action in (
            "ecr:SetRepositoryPolicy",
            "ecr:GetRepositoryPolicy",
            "ecr:DeleteRepositoryPolicy",
        ):
            assert allows(document, action, repository) == (purpose == "deploy"), (stack, action)


# -- build once: the release registry and its role; the pull-request environments ------------

RELEASE_REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/elixir-devops-release"


def test_the_release_registry_keeps_what_stacks_may_run(default_run: Run) -> None:
    (repository,) = [
        r
        for r in default_run.mocks.of_type("aws:ecr/repository:Repository")
        if r.inputs["name"] == "elixir-devops-release"
    ]
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["forceDelete"] is False
    lifecycle = default_run.mocks.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs
    assert lifecycle["repository"] == "elixir-devops-release"
    rules = json.loads(lifecycle["policy"])["rules"]
    # Never a rule over every image ("any"): only untagged leftovers and old release builds,
    # and before those a rule that selects (so protects) the images prod deployed: ECR never
    # expires an image a higher-priority rule selects by a lower-priority rule.
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "tagged", "tagged"]
    deployed, releases = rules[1], rules[2]
    assert deployed["selection"]["tagPrefixList"] == ["deployed-"]
    assert deployed["rulePriority"] < releases["rulePriority"]
    assert deployed["selection"]["countNumber"] == 100
    assert releases["selection"]["tagPrefixList"] == ["release-"]
    assert releases["selection"]["countNumber"] == 500
    assert default_run.exports["releaseRepositoryUrl"].endswith("/elixir-devops-release")


def test_every_bootstrap_resource_passes_the_aws_limits_table(default_run: Run) -> None:
    """The same check as the program's stacks: every input mapped to AWS's limits, every type
    with rows (the release registry, the CI roles' managed policies, the state backend...)."""
    from tests.aws_limits import check

    @dataclass
    class Resource:
        type: str
        name: str
        urn: str
        inputs: dict[str, Any]

    resources = [
        Resource(r.typ, r.name, f"urn:{r.typ}::{r.name}", r.inputs)
        for r in default_run.mocks.resources
        if r.typ.startswith("aws:")
    ]
    assert {
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repository:Repository",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    } <= {r.type for r in resources}
    problems = check(resources)
    assert problems == [], [p.describe("bootstrap") for p in problems]


def test_only_the_release_role_writes_to_the_release_registry(default_run: Run) -> None:
    """A repository Deny: the deploy roles (ECR on *) cannot push over or delete prod's image."""
    policy = default_run.mocks.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs
    assert policy["repository"] == "elixir-devops-release"
    writes, configuration = json.loads(policy["policy"])["Statement"]
    release_role = default_run.all_roles()[("release", "push")].outputs["arn"]
    assert writes["Effect"] == configuration["Effect"] == "Deny"
    assert writes["Principal"] == configuration["Principal"] == "*"
    assert writes["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": release_role}}
    denied = set(writes["Action"])
    assert {"ecr:PutImage", "ecr:BatchDeleteImage"} <= denied
    # Every CI role (deploy, preview, PR, release) is under /github-actions/: none may delete
    # the repository or shorten its lifecycle; the bootstrap's admin (elsewhere) still may.
    ci_roles = f"arn:aws:iam::{ACCOUNT}:role/github-actions/*"
    assert configuration["Condition"] == {"ArnLike": {"aws:PrincipalArn": ci_roles}}
    for role in default_run.all_roles().values():
        assert fnmatch.fnmatchcase(role.outputs["arn"], ci_roles), role.name
    assert {"ecr:DeleteRepository", "ecr:PutLifecyclePolicy", "ecr:SetRepositoryPolicy"} <= set(
        configuration["Action"]
    )
    denied |= set(configuration["Action"])
    # Pulls (the stacks' execution roles) and the scan gate's reads are not touched.
    assert not denied & {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert not any(a.startswith(("ecr:Describe", "ecr:Get", "ecr:List")) for a in denied)
    # What the release role pushes with is exactly what the others are denied.
    pushes = {
        a
        for s in statements(default_run.policy_of(default_run.all_roles()[("release", "push")]))
        for a in as_list(s["Action"])
    }
    assert pushes & denied == {
        "ecr:PutImage",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
    }


def test_release_keep_count_is_a_setting() -> None:
    run = run_bootstrap({"githubRepository": REPOSITORY, "releaseKeepCount": 50})
    lifecycle = run.mocks.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs
    assert json.loads(lifecycle["policy"])["rules"][2]["selection"]["countNumber"] == 50
    with pytest.raises(ConfigError, match="releaseKeepCount"):
        run_bootstrap({"githubRepository": REPOSITORY, "releaseKeepCount": 3})


def test_only_the_deploy_branch_and_the_prod_job_push_release_images(default_run: Run) -> None:
    role = default_run.all_roles()[("release", "push")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    # The deploy branch builds; the prod job (environment production) tags what it deployed.
    assert sorted(trust["StringEquals"][f"{OIDC}:sub"]) == [
        f"repo:{REPOSITORY}:environment:production",
        f"repo:{REPOSITORY}:ref:refs/heads/main",
    ]
    document = default_run.policy_of(role)
    assert allows(document, "ecr:PutImage", RELEASE_REPOSITORY_ARN)
    assert allows(document, "ecr:DescribeImages", RELEASE_REPOSITORY_ARN)
    other = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/elixir-app-prod-repository-1a2b3c4"
    assert not allows(document, "ecr:PutImage", other)
    assert not allows(document, "ecr:BatchDeleteImage", RELEASE_REPOSITORY_ARN)
    assert {a for s in statements(document) for a in as_list(s["Action"])} <= {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:DescribeImages",
        "ecr:DescribeImageScanFindings",
    }


def test_the_pull_request_role_trusts_pull_requests_and_the_cleanup_schedule(
    default_run: Run,
) -> None:
    role = default_run.all_roles()[("pr", "environments")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert trust["StringEquals"][f"{OIDC}:sub"] == [
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:ref:refs/heads/main",
    ]
    assert default_run.exports["pullRequestRoleArn"] == role.outputs["arn"]
    key = default_run.key_arn_by_alias()["alias/elixir-devops-pr-pulumi-secrets"]
    assert default_run.exports["pullRequestSecretsProvider"] == (f"awskms:///{key}?region={REGION}")


def test_the_pull_request_role_reaches_pr_state_and_its_own_key_only(default_run: Run) -> None:
    document = default_run.policy_of(default_run.all_roles()[("pr", "environments")])
    pr_key = default_run.key_arn_by_alias()["alias/elixir-devops-pr-pulumi-secrets"]
    # `pulumi stack init --secrets-provider awskms://<this key>` of a new pr-<n> encrypts the
    # stack's data key: Encrypt on its own key, nobody else's.
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
        assert allows(document, action, pr_key), action
    assert allows(document, "s3:PutObject", f"{BUCKET_ARN}/.pulumi/stacks/elixir-devops/pr-42.json")
    for stack in STACKS:
        for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
            assert not allows(document, action, default_run.secrets_key_arn(stack)), stack
        # The main stacks are made by an admin (docs/ci.md): their deploy roles only decrypt.
        deploy = default_run.policy_of(default_run.all_roles()[(stack, "deploy")])
        assert not allows(deploy, "kms:Encrypt", default_run.secrets_key_arn(stack)), stack
        theirs = f"{BUCKET_ARN}/.pulumi/stacks/elixir-devops/{stack}.json"
        assert not allows(document, "s3:GetObject", theirs), stack
        role = f"arn:aws:iam::{ACCOUNT}:role/elixir-app-{stack}-execution-1a2b3c4"
        assert not allows(document, "iam:PassRole", role), stack
    # The shared key is tagged stack=pr, outside the pr-* tag condition: PR code cannot
    # rewrite its policy or schedule its deletion.
    (key,) = [k for k in default_run.mocks.of_type("aws:kms/key:Key") if k.outputs["arn"] == pr_key]
    assert key.inputs["tags"]["stack"] == "pr"


def test_pull_request_environments_can_be_left_out() -> None:
    run = run_bootstrap({"githubRepository": REPOSITORY, "pullRequestEnvironments": False})
    assert ("pr", "environments") not in run.all_roles()
    assert ("release", "push") in run.all_roles()
    assert "alias/elixir-devops-pr-pulumi-secrets" not in run.key_arn_by_alias()
    assert "pullRequestRoleArn" not in run.exports


MANAGED_POLICY_LIMIT = 6_144  # IAM: a customer-managed policy, whitespace excluded


def test_the_pr_role_carries_a_guard_it_cannot_remove_or_edit(default_run: Run) -> None:
    role = default_run.all_roles()[("pr", "environments")]
    (guard,) = [
        p for p in default_run.attached_policies_of(role) if p.name == "ci-pr-environments-guard"
    ]
    assert guard.inputs["path"] == "/github-actions/"
    document = json.loads(guard.inputs["policy"])
    assert document == pull_request_guard_policy()
    assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_LIMIT
    assert parliament_findings(document) == []
    # Its name is outside the <resourcePrefix>-pr-* names the PR role manages: it can neither
    # detach the guard from itself nor rewrite it.
    inline = default_run.inline_policy_of(role)
    guard_arn = f"arn:aws:iam::{ACCOUNT}:policy/github-actions/{guard.inputs['namePrefix']}1"
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not allows(inline, action, guard_arn), action
    for action in ("iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"):
        assert not allows(inline, action, role.outputs["arn"]), action
    # The other CI roles carry no guard: their scope is their own stack.
    guards = [p for p in default_run.mocks.of_type("aws:iam/policy:Policy") if "guard" in p.name]
    assert guards == [guard]


def test_service_policies_are_attached_to_every_deploy_role_and_the_pr_role(
    default_run: Run,
) -> None:
    """The service statements (on *) are customer-managed policies: one set shared by the deploy
    roles, one for the PR role (plus its guard); preview and release roles carry none."""
    expected = {
        "deploy": deploy_service_policies(),
        "environments": [*pull_request_service_policies(), pull_request_guard_policy()],
    }
    for (stack, purpose), role in default_run.all_roles().items():
        attached = default_run.attached_policies_of(role)
        documents = [json.loads(p.inputs["policy"]) for p in attached]
        assert documents == expected.get(purpose, []), (stack, purpose)
        assert len(attached) <= 10  # IAM: managed policies per role (default quota)
    deploy_arns = {
        stack: [p.outputs["arn"] for p in default_run.attached_policies_of(role)]
        for (stack, purpose), role in default_run.roles().items()
        if purpose == "deploy"
    }
    assert sorted(deploy_arns) == sorted(STACKS)
    assert len({tuple(arns) for arns in deploy_arns.values()}) == 1  # the same policies
    # The release role is unaffected: its inline push policy only.
    release = default_run.all_roles()[("release", "push")]
    assert len(default_run.documents_of(release)) == 1


def test_service_policies_are_out_of_every_ci_roles_reach(default_run: Run) -> None:
    """Under /github-actions/ like the guard: no CI role may edit, delete or detach them."""
    policies = [p for p in default_run.mocks.of_type("aws:iam/policy:Policy")]
    assert (
        len(policies) == len(deploy_service_policies()) + len(pull_request_service_policies()) + 1
    )
    for policy in policies:
        assert policy.inputs["path"] == "/github-actions/", policy.name
        assert policy.inputs["namePrefix"].startswith("elixir-app-ci-"), policy.name
        document = json.loads(policy.inputs["policy"])
        assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_LIMIT
        for role in default_run.all_roles().values():
            for action in (
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:DeletePolicy",
                "iam:SetDefaultPolicyVersion",
            ):
                assert not allows(default_run.policy_of(role), action, policy.outputs["arn"]), (
                    role.name,
                    action,
                )
            for action in ("iam:DetachRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy"):
                assert not allows(default_run.policy_of(role), action, role.outputs["arn"])


def test_an_upgraded_bootstrap_keeps_its_roles_and_inline_policies(default_run: Run) -> None:
    """Stacks bootstrapped before the service statements moved to managed policies: the roles,
    their inline policies and the guard keep their names (so their URNs: same parents), the
    inline policies only shrink, and what is new is added."""
    names = {(r.typ, r.name) for r in default_run.mocks.resources}
    before = {
        *(
            (typ, f"ci-{stack}-{purpose}{suffix}")
            for stack in STACKS
            for purpose in ("deploy", "preview")
            for typ, suffix in (
                ("aws:iam/role:Role", ""),
                ("aws:iam/rolePolicy:RolePolicy", "-policy"),
            )
        ),
        *(
            (typ, f"ci-{role}{suffix}")
            for role in ("release-push", "pr-environments")
            for typ, suffix in (
                ("aws:iam/role:Role", ""),
                ("aws:iam/rolePolicy:RolePolicy", "-policy"),
            )
        ),
        ("aws:iam/policy:Policy", "ci-pr-environments-guard"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ci-pr-environments-guard"),
    }
    assert before <= names, sorted(before - names)
    added = {
        name
        for typ, name in names - before
        if typ in ("aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    deploy = range(1, len(deploy_service_policies()) + 1)
    pr = range(1, len(pull_request_service_policies()) + 1)
    assert added == {
        *(f"ci-deploy-services-{n}" for n in deploy),
        *(f"ci-{stack}-deploy-services-{n}" for stack in STACKS for n in deploy),
        *(f"ci-pr-services-{n}" for n in pr),
        *(f"ci-pr-environments-services-{n}" for n in pr),
    }


def test_a_service_that_no_longer_fits_starts_the_next_managed_policy() -> None:
    def statement(sid: str, characters: int) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Allow", "Action": f"ecs:{'A' * characters}", "Resource": "*"}

    statements = [statement(f"S{i}", 1_000) for i in range(8)]
    documents = managed_policies(statements)
    assert [len(d["Statement"]) for d in documents] == [5, 3]
    assert [s for d in documents for s in d["Statement"]] == statements  # order kept
    for document in documents:
        assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_LIMIT
    with pytest.raises(ValueError, match="statement Huge alone exceeds a managed policy"):
        managed_policies([statement("Huge", MANAGED_POLICY_LIMIT)])
