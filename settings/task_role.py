"""The app's own AWS permissions: extra IAM statements and managed policies on its task role.

``taskRolePolicyStatements`` (a list of IAM statement objects) and ``taskRoleManagedPolicyArns``
(a list of policy ARNs) give the app what it calls AWS for itself (S3 uploads, SES mail...). They
go on the TASK role, never on the execution role (which only ECS uses, to start the task).

Each statement is checked for IAM's shape (Effect, Action, Resource, no Principal), for the admin
wildcards the policy pack refuses, for size, and linted with parliament, which knows every
service's actions and resource ARN formats: IAM itself stores an unknown action without a word,
and the app then fails at run time with AccessDenied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from config_reader import ConfigReader

STATEMENTS_KEY = "taskRolePolicyStatements"
MANAGED_KEY = "taskRoleManagedPolicyArns"

# botocore's IAM model (tests/test_task_role.py checks these against it): policyPathType and
# policyNameType, the parts of a policy ARN after "policy".
POLICY_PATH_PATTERN = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/"
POLICY_NAME_PATTERN = r"[\w+=,.@-]+"
POLICY_ARN = rf"arn:aws[a-z-]*:iam::(\d{{12}}|aws):policy{POLICY_PATH_PATTERN}{POLICY_NAME_PATTERN}"
POLICY_ARN_LENGTH = (20, 2048)
"""botocore iam ``arnType``: min 20, max 2048."""

MAX_MANAGED_POLICIES = 10
"""IAM's default quota of managed policies attached to one role
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
INLINE_POLICY_LIMIT = 10_240
"""IAM: all inline policies of one role together, white space not counted (same page)."""
RESERVED_FOR_STACK = 2_048
"""What the stack's own task-role statements may take (ECS Exec, the metrics collector's
remote write: 723 characters with every option on, a test measures it); the app gets the
rest."""
APP_POLICY_BUDGET = INLINE_POLICY_LIMIT - RESERVED_FOR_STACK

STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
SID_PATTERN = r"[A-Za-z0-9]+"
ACTION_PATTERN = r"[a-z0-9-]+:[A-Za-z0-9*?]+"
ADMIN_ACTIONS = frozenset({"*", "*:*"})


def _strings(value: Any) -> list[str] | None:
    """A string or a non-empty list of strings, as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def statement_problems(statement: Any) -> list[str]:
    """What is wrong with one identity-policy statement (empty: nothing)."""
    if not isinstance(statement, dict):
        return ["each item must be an IAM statement object ({Effect, Action, Resource})"]
    found: list[str] = []
    unknown = sorted(set(statement) - STATEMENT_KEYS)
    if unknown:
        extra = (
            " (a role policy names no Principal: the role itself is the principal)"
            if {"Principal", "NotPrincipal"} & set(unknown)
            else ""
        )
        found.append(f"unknown statement keys {unknown}; allowed: {sorted(STATEMENT_KEYS)}{extra}")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        found.append(f"Effect must be Allow or Deny, not {effect!r}")
    sid = statement.get("Sid")
    if sid is not None and not (isinstance(sid, str) and re.fullmatch(SID_PATTERN, sid)):
        found.append(f"Sid must be letters and digits only, not {sid!r}")
    for positive, negative, example in (
        ("Action", "NotAction", "s3:GetObject"),
        ("Resource", "NotResource", "arn:aws:s3:::my-bucket/*"),
    ):
        given = [k for k in (positive, negative) if k in statement]
        if len(given) != 1:
            found.append(f"needs exactly one of {positive} or {negative} (e.g. {example!r})")
            continue
        values = _strings(statement[given[0]])
        if values is None:
            found.append(f"{given[0]} must be a string or a non-empty list of strings")
            continue
        if positive == "Action":
            bad = [
                a for a in values if a not in ADMIN_ACTIONS and not re.fullmatch(ACTION_PATTERN, a)
            ]
            if bad:
                found.append(f"{given[0]} entries look like 'service:Action', not {bad}")
        else:
            bad = [r for r in values if r != "*" and not r.startswith("arn:")]
            if bad:
                found.append(f"{given[0]} entries are ARNs (arn:...) or '*', not {bad}")
        if effect == "Allow" and given[0] == negative:
            found.append(
                f"Allow with {negative} grants everything else; list the {positive} you need"
            )
    condition = statement.get("Condition")
    if condition is not None and not (
        isinstance(condition, dict) and all(isinstance(v, dict) for v in condition.values())
    ):
        found.append("Condition must be an object of operators to {key: value} objects")
    if effect == "Allow" and not found:
        actions = {a.lower() for a in _strings(statement.get("Action")) or []}
        resources = set(_strings(statement.get("Resource")) or [])
        # The policy pack's iam-no-admin-wildcards rule refuses these too (policy/guardrails.py).
        if actions & ADMIN_ACTIONS:
            found.append('"Action": "*" makes the app an administrator; list the actions it calls')
        elif "iam:*" in actions and "*" in resources:
            found.append('"iam:*" on "Resource": "*" lets the app grant itself anything')
    return found


def policy_size(statements: list[Mapping[str, Any]]) -> int:
    """Characters IAM counts (white space not counted) of a document holding ``statements``."""
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return len(re.sub(r"\s", "", document))


def lint_problems(statements: list[Mapping[str, Any]]) -> list[str]:
    """parliament's findings (unknown actions, actions on resources of the wrong type,
    "Resource": "*" for actions that can be scoped...), the lint every policy of the stack
    passes. Imported here only: most stacks set no statements."""
    from parliament import analyze_policy_string

    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    found = []
    for finding in analyze_policy_string(document).findings:
        detail = finding.detail
        if isinstance(detail, list) and len(detail) > 5:
            detail = [*detail[:5], f"... {len(detail) - 5} more"]
        found.append(f"parliament {finding.issue}: {detail}")
    return found


def read_task_role_statements(reader: ConfigReader) -> tuple[Mapping[str, Any], ...]:
    raw = reader.structured(STATEMENTS_KEY, default=[])
    if not isinstance(raw, list):
        reader.problem(STATEMENTS_KEY, raw, "must be a list of IAM statement objects")
        return ()
    problems = 0
    for index, statement in enumerate(raw):
        for problem in statement_problems(statement):
            problems += 1
            reader.problem(f"{STATEMENTS_KEY}[{index}]", statement, problem)
    if problems or not raw:
        return ()
    size = policy_size(raw)
    if size > APP_POLICY_BUDGET:
        reader.problem(
            STATEMENTS_KEY,
            f"<{size} characters>",
            f"at most {APP_POLICY_BUDGET} characters (white space not counted): IAM allows "
            f"{INLINE_POLICY_LIMIT} for all inline policies of the role and the stack keeps "
            f"{RESERVED_FOR_STACK}; put the rest in a managed policy ({MANAGED_KEY})",
        )
    for finding in lint_problems(raw):
        reader.problem(STATEMENTS_KEY, "<statements>", finding)
    return tuple(MappingProxyType(dict(statement)) for statement in raw)


ADMIN_MANAGED_POLICIES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})
"""AWS managed policies that make the app an administrator (or let it make itself one); the
policy pack's iam-no-admin-wildcards rule refuses their attachment too (policy/guardrails.py)."""


def aws_admin_policy(arn: str) -> str | None:
    """The policy's name when ``arn`` is one of AWS's administrator policies, else None."""
    match = re.fullmatch(r"arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?([^/]+)", arn)
    return match.group(1) if match and match.group(1) in ADMIN_MANAGED_POLICIES else None


def policy_arn_problem(value: str) -> str | None:
    low, high = POLICY_ARN_LENGTH
    if not (low <= len(value) <= high and re.fullmatch(POLICY_ARN, value)):
        return (
            "an IAM managed policy ARN, arn:aws:iam::<account>:policy/<name> or "
            "arn:aws:iam::aws:policy/<name>"
        )
    if aws_admin_policy(value):
        return (
            "a policy granting what the app needs, not one of AWS's administrator policies "
            f"({', '.join(sorted(ADMIN_MANAGED_POLICIES))})"
        )
    return None


def read_task_role_managed_policies(reader: ConfigReader) -> tuple[str, ...]:
    arns = reader.string_list(MANAGED_KEY, item=policy_arn_problem)
    if len(arns) > MAX_MANAGED_POLICIES:
        reader.problem(
            MANAGED_KEY,
            f"<{len(arns)} ARNs>",
            f"at most {MAX_MANAGED_POLICIES}: IAM's default quota of managed policies per role",
        )
    duplicates = sorted({arn for arn in arns if arns.count(arn) > 1})
    if duplicates:
        reader.problem(MANAGED_KEY, duplicates, "each policy once")
    return arns
