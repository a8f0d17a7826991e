"""A preview shows what `up` will deploy, or an unknown value; never an image `up` will not run.

During ``pulumi preview`` pulumi-docker builds the image but pushes nothing, and its
``repoDigest`` is the local image id (``sha256:…``, no repository). Had it reached the task
definition, every pull-request preview would show the service replaced with that id, and the
execution role losing its ECR pull grant (the repository was parsed from the reference).
"""

from __future__ import annotations

import json

import pytest

from components.image import is_pushed_reference
from plan.mocks import UNKNOWN
from tests.conftest import AWS_STACKS
from tests.harness import Registered, run_stack, web_task

PREVIEW_RUNS: dict[str, Registered] = {}


def preview_run(stack: str) -> Registered:
    if stack not in PREVIEW_RUNS:
        PREVIEW_RUNS[stack] = run_stack(stack, overrides={"imageTag": "pr-1234"}, preview=True)
        assert PREVIEW_RUNS[stack].error is None, PREVIEW_RUNS[stack].error
    return PREVIEW_RUNS[stack]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_a_preview_shows_the_task_image_as_unknown_never_the_local_image_id(stack: str) -> None:
    run = preview_run(stack)
    (image,) = run.of_type("docker:index/image:Image")
    local_id = image.outputs["repoDigest"]
    assert local_id.startswith("sha256:") and not is_pushed_reference(local_id)
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    assert definition.inputs["containerDefinitions"] == UNKNOWN
    for resource in run.resources:
        assert local_id not in json.dumps(resource.inputs, default=str), resource.urn


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_a_preview_keeps_the_execution_roles_pull_grant_on_the_stacks_repository(
    stack: str,
) -> None:
    run = preview_run(stack)
    repository = run.one("aws:ecr/repository:Repository")
    (policy,) = [
        r
        for r in web_task(run).of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-execution")
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    (pull,) = [s for s in statements if s.get("Sid") == "PullAppImage"]
    assert pull["Resource"] == repository.outputs["arn"]


def test_pushed_references_are_repository_at_digest() -> None:
    digest = "a" * 64
    assert is_pushed_reference(f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{digest}")
    assert is_pushed_reference(f"localhost:5000/app@sha256:{digest}")
    assert not is_pushed_reference(f"sha256:{digest}")
    assert not is_pushed_reference(f"app@sha256:{digest[:12]}")
