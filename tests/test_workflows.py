"""The CI/CD pipelines: valid for GitHub and GitLab, and doing what docs/ci.md promises.

Nothing here can run a workflow, so the checks are (1) the official JSON schemas through
check-jsonschema, which GitHub or GitLab would otherwise reject at push time, and (2) the
behaviour users rely on, read from the YAML: previews on pull requests with one comment per stack,
protected environments before staging and prod, least-privilege tokens, pinned actions, forks
never given (or failing for lack of) cloud credentials.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.bootstrap_settings import AWS_STACKS, GITHUB_ENVIRONMENT_BY_STACK

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
LOCAL_ACTIONS = ROOT / ".github" / "actions"
GITLAB_CI = ROOT / ".gitlab-ci.yml"

# The README's test command: what CI must run, exactly, so that "green in CI" means "green locally".
README_TEST_COMMAND = "make test"

PULUMI_ACTION = "pulumi/actions"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
FORK = "github.event.pull_request.head.repo.full_name != github.repository"


# -- helpers ---------------------------------------------------------------------------------


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    return document


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` block; PyYAML (YAML 1.1) reads the bare key `on` as the boolean True."""
    raw = workflow.get("on", workflow.get(True))
    if isinstance(raw, str):
        return {raw: None}
    if isinstance(raw, list):
        return {event: None for event in raw}
    assert isinstance(raw, dict), f"unexpected on: {raw!r}"
    return raw


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def action_files() -> list[Path]:
    return sorted([*LOCAL_ACTIONS.glob("*/action.yml"), *LOCAL_ACTIONS.glob("*/action.yaml")])


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return load(WORKFLOWS / name)["jobs"]


def action_name(uses: str) -> str:
    return uses.split("@", 1)[0]


def expanded_steps(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A job's steps, with the steps of local composite actions (`uses: ./...`) inlined."""
    for step in job.get("steps", []):
        yield step
        uses = step.get("uses", "")
        if uses.startswith("./"):
            action = load(ROOT / uses / "action.yml")
            yield from action["runs"].get("steps", [])


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in expanded_steps(job) if action_name(s.get("uses", "")) == action]


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in workflow_files():
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def stack_files() -> set[str]:
    return {p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml")}


# -- schemas ---------------------------------------------------------------------------------


def check_jsonschema() -> str:
    """The check-jsonschema executable; its absence is a failure, never a skip."""
    candidates = [
        Path(sys.executable).parent / "check-jsonschema",
        ROOT / ".venv/bin/check-jsonschema",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("check-jsonschema")
    assert found, "check-jsonschema is missing: pip install -r requirements-dev.txt"
    return found


def validate(schema: str, files: list[Path]) -> None:
    assert files, f"no files to validate against {schema}"
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{schema} rejects:\n{result.stdout}\n{result.stderr}"


def test_workflows_match_githubs_schema() -> None:
    validate("vendor.github-workflows", workflow_files())


def test_local_actions_match_githubs_schema() -> None:
    validate("vendor.github-actions", action_files())


def test_gitlab_ci_matches_gitlabs_schema() -> None:
    validate("vendor.gitlab-ci", [GITLAB_CI])


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    with pytest.raises(AssertionError, match="rejects"):
        validate("vendor.github-workflows", [broken])


# -- test workflow ---------------------------------------------------------------------------


def test_tests_run_on_every_push_and_pull_request() -> None:
    on = triggers(load(WORKFLOWS / "test.yml"))
    assert "push" in on and "pull_request" in on
    # No branch filters: every push and every pull request, forks included, is tested.
    assert not (on["push"] or {}).get("branches")
    assert not (on["pull_request"] or {}).get("branches")


def makefile_rule(target: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.MULTILINE)
    assert match, f"no {target} target in the Makefile"
    return match[1].split(), [line.strip() for line in match[2].splitlines()]


def test_the_test_workflow_runs_exactly_the_readme_command_split_in_two_jobs() -> None:
    """`make test` = the infrastructure's checks (test job) + the app's `mix test` (app job,
    with the app's own Elixir/OTP versions)."""
    assert README_TEST_COMMAND == "make test"
    prerequisites, _ = makefile_rule("test")
    workflow = jobs("test.yml")
    runs = [s["run"].strip() for s in workflow["test"]["steps"] if "run" in s]
    make_runs = [r.split()[1:] for r in runs if r.startswith("make ")]
    assert make_runs == [[p for p in prerequisites if p != "exunit"]], runs
    _, exunit = makefile_rule("exunit")
    assert exunit == ["cd app && mix deps.get && MIX_ENV=test mix test"]
    app = workflow["app"]
    assert app["defaults"]["run"]["working-directory"] == "app"
    assert app["env"]["MIX_ENV"] == "test"
    assert [s["run"] for s in app["steps"] if "run" in s] == ["mix deps.get", "mix test"]


def app_tool_versions() -> dict[str, str]:
    path = ROOT / "app" / ".tool-versions"
    assert path.is_file(), (
        "app/.tool-versions is missing: the workflow's app job installs the Erlang/OTP and "
        "Elixir it names (e.g. `erlang 27.3.4` and `elixir 1.18.4-otp-27`; docs/your-app.md)"
    )
    return dict(line.split(None, 1) for line in path.read_text().splitlines() if line.strip())


def test_the_app_job_uses_the_elixir_and_otp_versions_the_app_declares() -> None:
    app = jobs("test.yml")["app"]
    (setup_beam,) = steps_using(app, "erlef/setup-beam")
    assert setup_beam["with"] == {"version-file": "app/.tool-versions", "version-type": "strict"}
    declared = app_tool_versions()
    assert set(declared) == {"erlang", "elixir"}
    # strict: exact versions, and the Elixir build is the one compiled for that OTP.
    otp_major = declared["erlang"].split(".")[0]
    assert re.fullmatch(r"\d+\.\d+\.\d+-otp-" + otp_major, declared["elixir"]), declared
    # phx.new's config/test.exs expects postgres/postgres on localhost.
    postgres = app["services"]["postgres"]
    assert postgres["env"]["POSTGRES_PASSWORD"] == "postgres"
    assert "5432:5432" in postgres["ports"]


def test_the_app_declares_versions_its_mix_exs_accepts() -> None:
    declared = app_tool_versions()
    requirement = re.search(r'elixir: "~> (\d+)\.(\d+)"', (ROOT / "app" / "mix.exs").read_text())
    assert requirement, "app/mix.exs declares no elixir requirement"
    major, minor = (int(v) for v in declared["elixir"].split("-")[0].split(".")[:2])
    assert major == int(requirement[1]) and minor >= int(requirement[2])


def test_the_sample_contract_tests_cannot_skip_in_ci_while_the_sample_is_there() -> None:
    (make,) = [s for s in jobs("test.yml")["test"]["steps"] if s.get("run", "").startswith("make")]
    assert "hashFiles('app/SAMPLE.md')" in make["env"]["ELIXIR_DEVOPS_REQUIRE_SAMPLE"]
    assert "export ELIXIR_DEVOPS_REQUIRE_SAMPLE=1" in (ROOT / ".ci" / "run").read_text()


def test_test_job_sets_up_python_311_with_pip_cache_and_debian_tools() -> None:
    job = jobs("test.yml")["test"]
    (setup_python,) = steps_using(job, "actions/setup-python")
    assert str(setup_python["with"]["python-version"]) == "3.11"
    assert setup_python["with"]["cache"] == "pip"
    install = " ".join(s.get("run", "") for s in job["steps"])
    assert re.search(r"sudo apt-get install .*\belixir\b.*\bprometheus\b", install)


# -- preview workflow ------------------------------------------------------------------------


def preview_job() -> dict[str, Any]:
    return jobs("preview.yml")["preview"]


def test_preview_runs_on_pull_requests_with_pulumi_preview_and_one_comment_per_stack() -> None:
    assert "pull_request" in triggers(load(WORKFLOWS / "preview.yml"))
    (step,) = steps_using(preview_job(), PULUMI_ACTION)
    with_ = step["with"]
    assert with_["command"] == "preview"
    assert with_["stack-name"] == "${{ matrix.stack }}"
    assert with_["comment-on-pr"] is True
    assert with_["edit-pr-comment"] is True
    assert with_["always-include-summary"] is True


def test_preview_runs_the_policy_pack_only_when_it_exists() -> None:
    (step,) = steps_using(preview_job(), PULUMI_ACTION)
    packs = step["with"]["policyPacks"]
    assert "hashFiles('policy/PulumiPolicy.yaml') != ''" in packs
    assert "'policy'" in packs


def test_preview_matrix_has_one_entry_per_aws_stack() -> None:
    matrix = preview_job()["strategy"]["matrix"]["include"]
    stacks = [entry["stack"] for entry in matrix]
    assert len(stacks) == len(set(stacks)), f"duplicate matrix entries: {stacks}"
    assert set(stacks) == set(AWS_STACKS)
    # Every AWS stack file in the repository gets a preview; the local stack never does.
    assert stack_files() - {"local"} <= set(stacks), "a stack file has no preview entry"
    assert "local" not in stacks
    for entry in matrix:
        assert entry["role-variable"] == f"AWS_PREVIEW_ROLE_ARN_{entry['stack'].upper()}"
        expected = f"PULUMI_SECRETS_PROVIDER_{entry['stack'].upper()}"
        assert entry["secrets-provider-variable"] == expected
    (step,) = steps_using(preview_job(), PULUMI_ACTION)
    assert step["with"]["secrets-provider"] == "${{ vars[matrix.secrets-provider-variable] }}"


def test_fork_pull_requests_skip_cloud_steps_with_a_notice() -> None:
    preview_jobs = jobs("preview.yml")
    cloud_jobs = {
        job_id: job
        for job_id, job in preview_jobs.items()
        if steps_using(job, AWS_CREDENTIALS_ACTION) or steps_using(job, PULUMI_ACTION)
    }
    assert cloud_jobs, "the preview workflow has no cloud job"
    for job_id, job in cloud_jobs.items():
        assert SAME_REPOSITORY in job.get("if", ""), f"{job_id} would run for forks"
    notices = [job for job in preview_jobs.values() if FORK in job.get("if", "")]
    assert len(notices) == 1, "expected one notice job for fork pull requests"
    (notice,) = notices
    assert any("::notice" in s.get("run", "") for s in notice["steps"])
    # The notice job needs nothing a fork lacks: no variables, secrets, or token permissions.
    text = yaml.safe_dump(notice)
    assert "secrets." not in text and "vars." not in text
    assert notice.get("permissions") == {}


def test_previews_tag_the_image_with_the_commit_sha() -> None:
    """Deploys run the build job's digest instead (tests/test_workflows_promotion.py)."""
    steps = [
        step for job in jobs("preview.yml").values() for step in steps_using(job, PULUMI_ACTION)
    ]
    assert len(steps) == 1  # the preview matrix
    for step in steps:
        config = yaml.safe_load(step["with"]["config-map"])
        assert config == {"elixir-devops:imageTag": {"value": "${{ github.sha }}", "secret": False}}


# -- deploy workflow -------------------------------------------------------------------------


def deploy_jobs() -> dict[str, dict[str, Any]]:
    return {
        job_id: job for job_id, job in jobs("deploy.yml").items() if steps_using(job, PULUMI_ACTION)
    }


def stack_of(job: dict[str, Any]) -> str:
    (step,) = steps_using(job, PULUMI_ACTION)
    assert step["with"]["command"] == "up"
    return step["with"]["stack-name"]


def environment_of(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def test_deploy_runs_on_push_to_main_or_by_hand() -> None:
    on = triggers(load(WORKFLOWS / "deploy.yml"))
    # workflow_dispatch: rerun a promotion of main (e.g. with a logged scan-gate override).
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]


def test_deploys_go_dev_then_staging_then_prod_after_the_tests() -> None:
    by_stack = {stack_of(job): (job_id, job) for job_id, job in deploy_jobs().items()}
    assert set(by_stack) == set(AWS_STACKS)
    all_deploy_jobs = jobs("deploy.yml")
    test_job = all_deploy_jobs["test"]
    assert test_job["uses"] == "./.github/workflows/test.yml"
    assert all_deploy_jobs["build"]["needs"] == "test"
    previous = "build"
    for stack in AWS_STACKS:
        job_id, job = by_stack[stack]
        needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
        assert previous in needs, f"{job_id} must wait for {previous}"
        previous = job_id


def test_staging_and_prod_deploy_through_protected_environments() -> None:
    for job_id, job in deploy_jobs().items():
        stack = stack_of(job)
        # The environment decides the OIDC subject, which the role's trust policy checks
        # (bootstrap): dev has none (main branch subject), staging/prod their environment.
        assert environment_of(job) == GITHUB_ENVIRONMENT_BY_STACK.get(stack), job_id
    assert GITHUB_ENVIRONMENT_BY_STACK == {"staging": "staging", "prod": "production"}


def test_each_stack_deploys_one_at_a_time_and_is_never_cancelled_midway() -> None:
    groups = set()
    for job_id, job in deploy_jobs().items():
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, job_id
        assert stack_of(job) in concurrency["group"], job_id
        groups.add(concurrency["group"])
    assert len(groups) == len(AWS_STACKS)


def test_deploy_roles_and_secrets_providers_come_from_per_stack_variables() -> None:
    for job_id, job in deploy_jobs().items():
        stack = stack_of(job)
        (prepare,) = [s for s in job["steps"] if s.get("uses", "").startswith("./")]
        role = prepare["with"]["aws-role-arn"]
        assert role == f"${{{{ vars.AWS_DEPLOY_ROLE_ARN_{stack.upper()} }}}}", job_id
        (pulumi_step,) = steps_using(job, PULUMI_ACTION)
        provider = pulumi_step["with"]["secrets-provider"]
        assert provider == f"${{{{ vars.PULUMI_SECRETS_PROVIDER_{stack.upper()} }}}}", job_id
        assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"


# -- every workflow --------------------------------------------------------------------------


def test_tokens_default_to_nothing_and_no_job_gets_write_all() -> None:
    for path in workflow_files():
        top = load(path).get("permissions")
        assert top in ({}, {"contents": "read"}), f"{path.name}: top-level permissions {top!r}"
    for workflow, job_id, job in all_jobs():
        permissions = job.get("permissions")
        assert permissions is not None, f"{workflow}:{job_id} must declare its permissions"
        assert permissions not in ("write-all", "read-all"), f"{workflow}:{job_id}"


def test_id_token_write_exactly_where_oidc_is_used() -> None:
    for workflow, job_id, job in all_jobs():
        uses_oidc = bool(steps_using(job, AWS_CREDENTIALS_ACTION))
        permissions = job.get("permissions") or {}
        assert (permissions.get("id-token") == "write") == uses_oidc, f"{workflow}:{job_id}"


def test_pull_request_write_only_where_comments_are_posted() -> None:
    for workflow, job_id, job in all_jobs():
        comments = any(
            s.get("with", {}).get("comment-on-pr") for s in steps_using(job, PULUMI_ACTION)
        ) or any(
            command in s.get("run", "")
            for s in job.get("steps", [])
            for command in ("scripts.pr_env comment", "scripts.pr_env destroy")
        )
        permissions = job.get("permissions") or {}
        assert (permissions.get("pull-requests") == "write") == comments, f"{workflow}:{job_id}"


USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?")
FULL_VERSION = re.compile(r"v\d+\.\d+\.\d+")


def pinning_problem(line: str) -> str | None:
    """None for a `uses:` line that is local, or pinned to a SHA (with its version) or full tag."""
    match = USES.match(line)
    if not match or match["ref"].startswith("./"):
        return None
    name, _, ref = match["ref"].partition("@")
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        if not (match["comment"] and FULL_VERSION.fullmatch(match["comment"])):
            return f"{name}: a SHA pin needs its version as a comment (# vX.Y.Z)"
        return None
    if not FULL_VERSION.fullmatch(ref):
        return f"{name}@{ref}: pin a commit SHA or a full version tag, not a branch or major tag"
    return None


def test_every_action_is_pinned() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{number}: {problem}"
        for path in [*workflow_files(), *action_files()]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if (problem := pinning_problem(line))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@main",
        "      - uses: actions/checkout@v4",
        "      - uses: pulumi/actions@master",
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd",
    ],
)
def test_the_pinning_check_rejects_loose_references(line: str) -> None:
    assert pinning_problem(line)


# -- GitLab ----------------------------------------------------------------------------------


def gitlab() -> dict[str, Any]:
    return load(GITLAB_CI)


def test_gitlab_runs_the_readme_test_command() -> None:
    test_job = gitlab()["test"]
    assert README_TEST_COMMAND in [line.strip() for line in test_job["script"]]


def test_gitlab_previews_every_aws_stack_on_merge_requests() -> None:
    preview = gitlab()["preview"]
    (matrix,) = preview["parallel"]["matrix"]
    assert set(matrix["STACK"]) == set(AWS_STACKS)
    rules = yaml.safe_dump(preview["rules"])
    assert "merge_request_event" in rules


def test_gitlab_prod_deploy_is_manual_and_protected() -> None:
    prod = gitlab()["deploy-prod"]
    assert prod["variables"]["STACK"] == "prod"
    assert prod["environment"]["name"] == "production"
    assert all(rule.get("when") == "manual" for rule in prod["rules"] if "when" in rule)
    assert any(rule.get("when") == "manual" for rule in prod["rules"])
