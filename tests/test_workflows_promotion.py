"""Build once, promote the digest; a live environment per pull request — read from the job graph.

The workflows cannot run here, so these tests read their YAML the way GitHub schedules it: which
job needs which, what each job's steps run, which outputs feed which inputs, who gets cloud
credentials and on which events. The parts GitHub would only exercise in the cloud are checked
against the program (a staging stack deploying a release-registry digest pulls it with its own
execution role) and against the bootstrap's names.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from bootstrap.release_registry import (
    DEPLOYED_TAG_PREFIX,
    RELEASE_TAG_PREFIX,
    release_repository_name,
)
from plan.mocks import ACCOUNT
from scripts import release
from settings import load as load_settings
from tests.conftest import AWS_STACKS
from tests.harness import PROJECT, project_values, run_stack, stack_file_config, web_task
from tests.test_workflows import (
    AWS_CREDENTIALS_ACTION,
    PULUMI_ACTION,
    SAME_REPOSITORY,
    WORKFLOWS,
    expanded_steps,
    jobs,
    load,
    steps_using,
    triggers,
)

CHECKOUT = "actions/checkout@"
BUILD_OUTPUT = "${{ needs.build.outputs.image }}"
RELEASE_IMAGE = (
    f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{release_repository_name('elixir-devops')}"
    "@sha256:" + "c" * 64
)
# What building an image looks like in a step, whichever tool does it.
BUILDS = re.compile(r"docker\s+(buildx\s+)?build|buildah|kaniko|scripts\.release\s+build")
BUILD_ACTIONS = {"docker/build-push-action"}


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in expanded_steps(job))


def config_map(step: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(step["with"].get("config-map") or "{}") or {}


def deploy_jobs() -> dict[str, dict[str, Any]]:
    return {
        job_id: job
        for job_id, job in jobs("deploy.yml").items()
        if any(s["with"]["command"] == "up" for s in steps_using(job, PULUMI_ACTION))
    }


def builds(job: dict[str, Any]) -> bool:
    return bool(BUILDS.search(runs(job))) or any(
        step.get("uses", "").split("@")[0] in BUILD_ACTIONS for step in expanded_steps(job)
    )


# -- build once --------------------------------------------------------------------------------


def test_exactly_one_job_builds_and_it_exposes_the_digest_reference() -> None:
    all_jobs = jobs("deploy.yml")
    assert [job_id for job_id, job in all_jobs.items() if builds(job)] == ["build"]
    build = all_jobs["build"]
    assert build["outputs"] == {"image": "${{ steps.release.outputs.image }}"}
    (step,) = [s for s in build["steps"] if s.get("id") == "release"]
    assert "python3 -m scripts.release build" in step["run"]
    assert '--commit "$GITHUB_SHA"' in step["run"]
    assert build["env"]["RELEASE_REPOSITORY_URL"] == "${{ vars.RELEASE_REPOSITORY_URL }}"
    (credentials,) = steps_using(build, AWS_CREDENTIALS_ACTION)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_RELEASE_ROLE_ARN }}"


def test_the_build_jobs_output_feeds_every_deploy_job() -> None:
    deploys = deploy_jobs()
    stacks = {
        up["with"]["stack-name"] for j in deploys.values() for up in steps_using(j, PULUMI_ACTION)
    }
    assert stacks == set(AWS_STACKS)
    for job_id, job in deploys.items():
        assert "build" in needs(job), f"{job_id} must need the build job to read its output"
        (up,) = steps_using(job, PULUMI_ACTION)
        assert config_map(up) == {
            f"{PROJECT}:prebuiltImage": {"value": BUILD_OUTPUT, "secret": False}
        }, job_id


def test_prod_tags_the_image_it_deployed_with_the_release_role_after_pulumi_up() -> None:
    prod = deploy_jobs()["prod"]
    runs = [step.get("run", "") for step in prod["steps"]]
    (protect,) = [i for i, run in enumerate(runs) if "scripts.release protect" in run]
    assert (
        "--stack prod" in runs[protect] and prod["steps"][protect]["env"]["IMAGE"] == BUILD_OUTPUT
    )
    (up,) = [i for i, s in enumerate(prod["steps"]) if str(s.get("uses", "")).startswith("pulumi/")]
    credentials = [
        i
        for i, s in enumerate(prod["steps"])
        if "configure-aws-credentials" in str(s.get("uses", ""))
        and s["with"]["role-to-assume"] == "${{ vars.AWS_RELEASE_ROLE_ARN }}"
    ]
    assert credentials and up < credentials[-1] < protect


def test_no_deploy_job_builds() -> None:
    for job_id, job in deploy_jobs().items():
        assert not builds(job), f"{job_id} builds an image"
        (up,) = steps_using(job, PULUMI_ACTION)
        # Without prebuiltImage `pulumi up` would build the image itself (pulumi-docker).
        assert f"{PROJECT}:prebuiltImage" in config_map(up), job_id
        assert f"{PROJECT}:imageTag" not in config_map(up), job_id


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_with_the_build_output_a_stack_builds_nothing_and_pulls_that_digest(stack: str) -> None:
    """The execution role's pull grant comes from the reference: the release repository that
    bootstrap/ creates (same account), not the stack's own registry."""
    run = run_stack(stack, overrides={"prebuiltImage": RELEASE_IMAGE})
    assert run.error is None, run.error
    assert [r for r in run.resources if r.type.startswith("docker:")] == []
    assert run.outputs["image"] == RELEASE_IMAGE  # the stack output the record step compares
    task = web_task(run)
    definition = task.one("aws:ecs/taskDefinition:TaskDefinition")
    containers = json.loads(definition.inputs["containerDefinitions"])
    assert {c["image"] for c in containers if c["name"] in ("app", "migrate")} == {RELEASE_IMAGE}
    release_arn = (
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{release_repository_name('elixir-devops')}"
    )
    (policy,) = [
        json.loads(p.inputs["policy"])
        for p in task.of_type("aws:iam/rolePolicy:RolePolicy")
        if "ecr:BatchGetImage" in p.inputs["policy"]
    ]
    (pull,) = [s for s in policy["Statement"] if "ecr:BatchGetImage" in s["Action"]]
    assert pull["Resource"] == release_arn
    assert set(pull["Action"]) >= {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}


def test_the_release_is_built_for_the_platform_every_stack_runs() -> None:
    (step,) = [s for s in jobs("deploy.yml")["build"]["steps"] if s.get("id") == "release"]
    platform = re.search(r"--platform (\S+)", step["run"])
    assert platform, "the build must name its platform"
    for stack in AWS_STACKS:
        settings = load_settings(stack, project_values(stack_file_config(stack)))
        assert settings.image.platform == platform[1], stack


def test_the_release_tag_is_the_one_the_registry_lifecycle_keeps() -> None:
    assert release.TAG_PREFIX == RELEASE_TAG_PREFIX
    assert release.DEPLOYED_TAG_PREFIX == DEPLOYED_TAG_PREFIX
    assert release.release_tag("a" * 40) == "release-" + "a" * 40


def test_every_deploy_records_the_reference_it_deployed() -> None:
    for job_id, job in deploy_jobs().items():
        (up,) = steps_using(job, PULUMI_ACTION)
        assert up["id"] == "up", job_id
        (recorder,) = [s for s in job["steps"] if "scripts.release record" in s.get("run", "")]
        assert recorder["env"]["IMAGE"] == BUILD_OUTPUT
        assert recorder["env"]["DEPLOYED"] == "${{ steps.up.outputs.image }}"
        assert recorder["env"]["DEPLOY_WEBHOOK_URL"] == "${{ secrets.DEPLOY_WEBHOOK_URL }}"
        assert job["steps"].index(recorder) > job["steps"].index(up)


# -- the scan gate -----------------------------------------------------------------------------


def test_prod_waits_for_the_scan_gate_on_the_same_digest() -> None:
    all_jobs = jobs("deploy.yml")
    gate = all_jobs["scan-gate"]
    assert needs(gate) == ["build"]
    (step,) = [s for s in gate["steps"] if "scripts.scan_gate" in s.get("run", "")]
    assert step["env"]["IMAGE"] == BUILD_OUTPUT
    assert step["env"]["OVERRIDE_REASON"] == "${{ inputs.scan-override-reason }}"
    assert '--override-reason "$OVERRIDE_REASON"' in step["run"]
    (prod,) = [
        j for j in deploy_jobs().values() if j.get("environment", {}).get("name") == "production"
    ]
    assert "scan-gate" in needs(prod)
    # The override is an input of a manual run only: a push can never carry one.
    dispatch = triggers(load(WORKFLOWS / "deploy.yml"))["workflow_dispatch"]
    assert dispatch["inputs"]["scan-override-reason"]["default"] == ""


# -- PR environments ---------------------------------------------------------------------------


def pr_workflow() -> dict[str, Any]:
    return load(WORKFLOWS / "pr-environment.yml")


def test_pr_environments_deploy_on_open_update_reopen_and_are_destroyed_on_close() -> None:
    on = triggers(pr_workflow())
    assert set(on["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "closed"}
    workflow_jobs = pr_workflow()["jobs"]
    deploy, destroy = workflow_jobs["deploy"], workflow_jobs["destroy"]
    assert "github.event.action != 'closed'" in deploy["if"]
    assert "github.event.action == 'closed'" in destroy["if"]
    (up,) = steps_using(deploy, PULUMI_ACTION)
    assert up["with"]["command"] == "up"
    assert up["with"]["upsert"] is True
    assert up["with"]["stack-name"] == "${{ steps.stack.outputs.name }}"
    # The destroy, the stack rm and the comment are one tested command (scripts/pr_env.py): no
    # shell that turns a failed lookup into "nothing to destroy".
    for job_id, reason in (("destroy", "closed"), ("destroy-expired", "expired")):
        job = workflow_jobs[job_id]
        assert not [s for s in steps_using(job, PULUMI_ACTION) if s.get("with")], job_id
        assert "scripts.pr_env destroy " in runs(job) and f"--reason {reason}" in runs(job)
        assert "pulumi stack" not in runs(job), job_id
        # Trusted code: the default branch's, not the (possibly gone) merge ref's.
        (checkout,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith(CHECKOUT)]
        assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert workflow_jobs["destroy-expired"]["permissions"]["pull-requests"] == "write"


def test_stack_names_ttl_and_comment_come_from_the_tested_script() -> None:
    workflow_jobs = pr_workflow()["jobs"]
    for job_id in ("deploy", "destroy"):
        text = runs(workflow_jobs[job_id])
        assert "scripts.pr_env stack" in text and "scripts.pr_env materialise" in text, job_id
    assert "scripts.pr_env comment" in runs(workflow_jobs["deploy"])
    find = workflow_jobs["find-expired"]
    assert "scripts.pr_env expired" in runs(find)
    (decide,) = [s for s in find["steps"] if s.get("id") == "expired"]
    assert decide["env"]["PR_ENV_TTL_DAYS"] == "${{ vars.PR_ENV_TTL_DAYS }}"
    matrix = workflow_jobs["destroy-expired"]["strategy"]["matrix"]
    assert matrix["stack"] == "${{ fromJSON(needs.find-expired.outputs.stacks) }}"
    assert triggers(pr_workflow())["schedule"]


def concurrency_group(job: dict[str, Any], number: int) -> str:
    return (
        job["concurrency"]["group"]
        .replace("${{ github.event.pull_request.number }}", str(number))
        .replace("${{ matrix.stack }}", f"pr-{number}")
    )


def test_one_run_per_pull_request_at_a_time_and_never_cancelled() -> None:
    workflow_jobs = pr_workflow()["jobs"]
    cloud = ("deploy", "destroy", "destroy-expired")
    groups = {concurrency_group(workflow_jobs[j], 12) for j in cloud}
    assert groups == {"pr-environment-pr-12"}
    assert concurrency_group(workflow_jobs["deploy"], 13) != concurrency_group(
        workflow_jobs["deploy"], 12
    )
    for job_id in cloud:
        assert workflow_jobs[job_id]["concurrency"]["cancel-in-progress"] is False, job_id


def runs_on_pull_requests(job_id: str, workflow_jobs: dict[str, dict[str, Any]]) -> bool:
    """False when the job's `if` (or a job it needs) excludes pull_request events."""
    job = workflow_jobs[job_id]
    if "github.event_name != 'pull_request'" in job.get("if", ""):
        return False
    return all(runs_on_pull_requests(n, workflow_jobs) for n in needs(job))


def test_fork_pull_requests_never_get_credentials() -> None:
    workflow_jobs = pr_workflow()["jobs"]
    cloud = [j for j, job in workflow_jobs.items() if steps_using(job, AWS_CREDENTIALS_ACTION)]
    assert set(cloud) == {"deploy", "destroy", "find-expired", "destroy-expired"}
    for job_id in cloud:
        if runs_on_pull_requests(job_id, workflow_jobs):
            assert SAME_REPOSITORY in workflow_jobs[job_id].get("if", ""), job_id
    assert runs_on_pull_requests("deploy", workflow_jobs)
    assert not runs_on_pull_requests("destroy-expired", workflow_jobs)


def test_pr_environments_use_their_own_role_and_secrets_provider() -> None:
    for job_id, job in pr_workflow()["jobs"].items():
        for step in expanded_steps(job):
            if step.get("uses") == "./.github/actions/prepare-stack":
                assert step["with"]["aws-role-arn"] == "${{ vars.AWS_PR_ROLE_ARN }}", job_id
    (up,) = steps_using(pr_workflow()["jobs"]["deploy"], PULUMI_ACTION)
    assert up["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER_PR }}"
    assert pr_workflow()["env"]["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true"
    # An unset variable is named before `pulumi up` (which would otherwise init the stack with
    # the default passphrase provider and fail on a missing passphrase).
    steps = pr_workflow()["jobs"]["deploy"]["steps"]
    (check,) = [i for i, s in enumerate(steps) if "PULUMI_SECRETS_PROVIDER_PR" in s.get("run", "")]
    assert steps[check]["env"]["SECRETS_PROVIDER"] == "${{ vars.PULUMI_SECRETS_PROVIDER_PR }}"
    assert check < steps.index(up)


def test_pr_images_are_tagged_with_the_commit_that_was_built() -> None:
    """The deploy job checks out (and builds) the merge commit, github.sha, not the head."""
    (up,) = steps_using(pr_workflow()["jobs"]["deploy"], PULUMI_ACTION)
    assert config_map(up)["elixir-devops:imageTag"]["value"] == "${{ github.sha }}"
    (checkout,) = [
        s for s in pr_workflow()["jobs"]["deploy"]["steps"] if "checkout" in s.get("uses", "")
    ]
    assert "ref" not in checkout.get("with", {})
