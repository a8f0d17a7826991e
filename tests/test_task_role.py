"""The app's own AWS permissions (taskRolePolicyStatements, taskRoleManagedPolicyArns).

They go on the task role, never on the execution role; they are checked for IAM's statement
shape, the admin wildcards the policy pack refuses, IAM's size quota, and linted with parliament,
before a single resource is registered.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from parliament import analyze_policy_string

from config_reader import ConfigError
from policy import guardrails as g
from settings import load, task_role
from tests.harness import Registered, run_stack, web_task
from tests.test_policy import resource_args, validate

UPLOADS = {
    "Sid": "Uploads",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject"],
    "Resource": "arn:aws:s3:::shop-uploads/*",
}
MAIL = {
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
}
OWN_POLICY = "arn:aws:iam::123456789012:policy/elixir-app-dev-reports"
AWS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

_RUNS: dict[str, Registered] = {}


def granted_run() -> Registered:
    if "granted" not in _RUNS:
        _RUNS["granted"] = run_stack(
            "dev",
            {
                "taskRolePolicyStatements": [UPLOADS, MAIL],
                "taskRoleManagedPolicyArns": [OWN_POLICY],
                "enableExecuteCommand": True,
            },
        )
        assert _RUNS["granted"].error is None, _RUNS["granted"].error
    return _RUNS["granted"]


def problems(**values: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as raised:
        load("test", {"target": "aws", **values})
    return raised.value.problems


def statement_problems(statement: Any) -> list[str]:
    return [
        p
        for p in problems(taskRolePolicyStatements=[statement])
        if p.startswith("elixir-devops:taskRolePolicyStatements")
    ]


def roles(run: Registered) -> dict[str, str]:
    """'task' / 'execution' -> the role's name."""
    task = web_task(run)
    found = {}
    for role in task.of_type("aws:iam/role:Role"):
        kind = "execution" if "execution" in role.name else "task"
        found[kind] = role.outputs["name"]
    return found


# -- what the program makes ------------------------------------------------------------------


def test_the_apps_statements_are_a_policy_of_the_task_role_only() -> None:
    run = granted_run()
    names = roles(run)
    policies = web_task(run).of_type("aws:iam/rolePolicy:RolePolicy")
    (app,) = [p for p in policies if p.name.endswith("-task-app")]
    assert app.inputs["role"] == names["task"]
    document = json.loads(app.inputs["policy"])
    assert document["Statement"] == [UPLOADS, MAIL]
    for policy in policies:
        if policy.inputs["role"] == names["execution"]:
            assert "s3:PutObject" not in policy.inputs["policy"]
    # The stack's own task-role statements (ECS Exec here) stay in their own policy.
    (own,) = [p for p in policies if p.name.endswith("-task")]
    assert own.inputs["role"] == names["task"] and "ssmmessages" in own.inputs["policy"]


def test_the_apps_policy_lints_clean_with_parliament() -> None:
    (app,) = [
        p
        for p in granted_run().of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-task-app")
    ]
    findings = analyze_policy_string(app.inputs["policy"]).findings
    assert not findings, [(f.issue, f.detail) for f in findings]


def test_managed_policies_are_attached_to_the_task_role_named_by_their_arn() -> None:
    run = granted_run()
    (attachment,) = run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs == {"role": roles(run)["task"], "policyArn": OWN_POLICY}
    # The same ARN keeps its logical name wherever it sits in the list.
    again = run_stack("dev", {"taskRoleManagedPolicyArns": [AWS_POLICY, OWN_POLICY]})
    names = {
        a.inputs["policyArn"]: a.name
        for a in again.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert names[OWN_POLICY] == attachment.name


def test_without_the_settings_nothing_is_added() -> None:
    run = run_stack("dev")
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    assert not [
        p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-task-app")
    ]


def test_the_pack_refuses_an_admin_wildcard_in_the_apps_policy() -> None:
    """Settings refuse it first; the pack holds the line for anything built around them."""
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{**UPLOADS, "Action": "*"}]})
    args = resource_args(g.ROLE_POLICY, {"role": "app-task", "policy": policy}, "app-task-app")
    (message,) = validate(g.iam_no_admin_wildcards, args)
    assert '"Action": "*"' in message


# -- settings --------------------------------------------------------------------------------


def test_statements_are_read_as_given() -> None:
    loaded = load("test", {"target": "aws", "taskRolePolicyStatements": json.dumps([UPLOADS])})
    assert [dict(s) for s in loaded.service.task_role_statements] == [UPLOADS]
    assert loaded.service.task_role_managed_policy_arns == ()


BAD_STATEMENTS: list[tuple[Any, str]] = [
    ("s3:GetObject", "IAM statement object"),
    ({**UPLOADS, "Principal": {"AWS": "*"}}, "names no Principal"),
    ({**UPLOADS, "Effect": "allow"}, "Effect must be Allow or Deny"),
    ({**UPLOADS, "Sid": "up-loads"}, "Sid must be letters and digits"),
    ({k: v for k, v in UPLOADS.items() if k != "Action"}, "exactly one of Action or NotAction"),
    ({**UPLOADS, "Action": "GetObject"}, "look like 'service:Action'"),
    ({**UPLOADS, "Action": []}, "non-empty list of strings"),
    ({**UPLOADS, "Resource": "shop-uploads/*"}, "ARNs (arn:...) or '*'"),
    ({**UPLOADS, "Resource": "*", "NotResource": "*"}, "exactly one of Resource"),
    (
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        "Allow with NotAction grants everything else",
    ),
    ({**UPLOADS, "Condition": "aws:SecureTransport"}, "Condition must be an object"),
    ({**UPLOADS, "Action": "*", "Resource": "*"}, "makes the app an administrator"),
    ({**UPLOADS, "Action": "iam:*", "Resource": "*"}, "grant itself anything"),
    ({**UPLOADS, "Action": "s3:GetObjekt"}, "parliament UNKNOWN_ACTION"),
    ({**UPLOADS, "Action": "sqs:SendMessage"}, "parliament RESOURCE_MISMATCH"),
    ({**MAIL, "Resource": "*"}, "parliament RESOURCE_STAR"),
]


@pytest.mark.parametrize(
    ("statement", "expected"), BAD_STATEMENTS, ids=[e for _, e in BAD_STATEMENTS]
)
def test_a_bad_statement_is_refused_with_what_is_wrong(statement: Any, expected: str) -> None:
    found = statement_problems(statement)
    assert any(expected in p for p in found), found


def test_statements_must_be_a_list() -> None:
    whole = problems(taskRolePolicyStatements={"Effect": "Allow"})
    assert any("must be a list of IAM statement objects" in p for p in whole), whole


def test_statements_beyond_the_inline_policy_budget_are_refused() -> None:
    resources = [f"arn:aws:s3:::bucket-{n:04d}/*" for n in range(400)]
    found = problems(taskRolePolicyStatements=[{**UPLOADS, "Resource": resources}])
    (problem,) = [p for p in found if "characters" in p]
    assert f"at most {task_role.APP_POLICY_BUDGET} characters" in problem
    assert "taskRoleManagedPolicyArns" in problem


def test_the_budget_leaves_room_for_the_stacks_own_task_role_statements() -> None:
    """The stack's own task-role policy with every option on fits what it reserves."""
    run = run_stack("prod", {"enableExecuteCommand": True, "managedPrometheus": True})
    (own,) = [
        p
        for p in web_task(run).of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-task")
    ]
    used = len("".join(own.inputs["policy"].split()))
    assert used < task_role.RESERVED_FOR_STACK, used


@pytest.mark.parametrize(
    ("arns", "expected"),
    [
        (["arn:aws:iam::123456789012:role/app"], "IAM managed policy ARN"),
        (["arn:aws:iam::12345:policy/x"], "IAM managed policy ARN"),
        (["AmazonS3ReadOnlyAccess"], "IAM managed policy ARN"),
        ([OWN_POLICY, OWN_POLICY], "each policy once"),
        ([f"{OWN_POLICY}-{n}" for n in range(11)], "at most 10"),
        (["arn:aws:iam::aws:policy/AdministratorAccess"], "not one of AWS's administrator"),
        (["arn:aws:iam::aws:policy/PowerUserAccess"], "not one of AWS's administrator"),
        (["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"], "not one of AWS's administrator"),
    ],
)
def test_bad_managed_policy_arns_are_refused(arns: list[str], expected: str) -> None:
    found = [
        p
        for p in problems(taskRoleManagedPolicyArns=arns)
        if p.startswith("elixir-devops:taskRoleManagedPolicyArns")
    ]
    assert any(expected in p for p in found), found


def test_policy_arns_of_accounts_aws_and_paths_are_accepted() -> None:
    arns = [OWN_POLICY, AWS_POLICY, "arn:aws-cn:iam::123456789012:policy/team/app/reports"]
    loaded = load("test", {"target": "aws", "taskRoleManagedPolicyArns": arns})
    assert loaded.service.task_role_managed_policy_arns == tuple(arns)


def test_the_policy_arn_pattern_is_built_from_botocores_iam_model() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    assert model.shape_for("policyPathType").metadata["pattern"] == task_role.POLICY_PATH_PATTERN
    assert model.shape_for("policyNameType").metadata["pattern"] == task_role.POLICY_NAME_PATTERN
    arn = model.shape_for("arnType").metadata
    assert (arn["min"], arn["max"]) == task_role.POLICY_ARN_LENGTH
