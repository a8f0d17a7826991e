"""Pull-request environments: stack names, the template, expiry, the one comment, the program.

The program runs under the mocks for `pr-123` from the committed template, and its inputs go
through the same AWS limits as the committed stacks. The comment is posted to a GitHub-shaped
REST server on loopback, so the script's real HTTP calls are what is checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from config_reader import ConfigError
from scripts import pr_env
from settings import load as load_settings
from settings.common import GENERATED_NAMES, longest_pr_number
from tests.aws_limits import check
from tests.harness import (
    PROJECT,
    STACKS,
    Registered,
    project_values,
    run_stack,
    web_service,
    web_task,
)
from tests.stand_ins import path_env, run_script, stand_in

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


# -- stack names -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1", "123", " 42 ", 9999999])
def test_a_pull_request_number_names_its_stack(number: str | int) -> None:
    assert pr_env.stack_name(number) == f"pr-{str(number).strip()}"
    assert pr_env.pr_number(pr_env.stack_name(number)) == int(number)


@pytest.mark.parametrize("number", ["0", "007", "-3", "12a", "", "12345678", "1 2"])
def test_anything_else_is_refused_naming_the_form(number: str) -> None:
    with pytest.raises(pr_env.UsageError, match="positive integer without leading zeros"):
        pr_env.stack_name(number)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "local", "pr", "pr-", "prod-1"])
def test_other_stacks_are_never_taken_for_pull_request_stacks(stack: str) -> None:
    assert pr_env.pr_number(stack) is None


def test_materialise_copies_the_template_and_keeps_an_initialised_stack_file(
    tmp_path: Path,
) -> None:
    path = pr_env.materialise(123, tmp_path)
    assert path.name == "Pulumi.pr-123.yaml"
    assert path.read_text() == pr_env.TEMPLATE.read_text()
    # After `pulumi stack init` the file holds the stack's encrypted data key: never overwritten.
    path.write_text(path.read_text() + "encryptedkey: abc\n")
    pr_env.materialise("123", tmp_path)
    assert path.read_text().endswith("encryptedkey: abc\n")


def test_materialised_stack_files_are_never_committed() -> None:
    assert "Pulumi.pr-*.yaml" in (ROOT / ".gitignore").read_text().splitlines()


# -- the template ----------------------------------------------------------------------------


def template_settings(stack: str = "pr-123", **overrides: Any):
    values = project_values(pr_env.template_config()) | overrides
    return load_settings(stack, values)


def test_the_template_is_dev_shaped_and_the_cheapest_running_app() -> None:
    settings = template_settings()
    assert settings.target == "aws"
    assert settings.network.nat_gateways == "none"
    service = settings.service
    assert (service.desired_count, service.min_count, service.max_count) == (1, 1, 1)
    assert service.fargate_spot is True
    assert (service.cpu, service.memory) == (256, 512)
    assert service.log_retention_days == 1
    assert settings.registry.force_delete is True
    assert settings.retain_on_delete is False
    database = settings.database
    assert database.mode == "postgres"
    assert database.instance_class == "db.t4g.micro"
    assert database.multi_az is False
    assert database.allocated_storage_gb == database.max_allocated_storage_gb == 20


def test_the_template_is_not_a_committed_stack() -> None:
    """Kept out of the root so the committed-stack tests (previews, goldens) do not take it for
    a stack; the Pulumi CLI reads only the materialised Pulumi.pr-<n>.yaml."""
    assert pr_env.TEMPLATE.is_file()
    assert pr_env.TEMPLATE.parent != ROOT
    assert not any(pr_env.pr_number(stack) for stack in STACKS)


@pytest.mark.parametrize("stack", ["pr-abc", "pr-0", "pr-01", "pr-1-2", "pr-12345678"])
def test_settings_refuse_a_malformed_pull_request_stack_naming_the_stack(stack: str) -> None:
    with pytest.raises(ConfigError) as raised:
        template_settings(stack)
    assert f"stack = '{stack}': a pull-request stack is named pr-<number>" in str(raised.value)


def test_settings_refuse_a_pr_stack_whose_names_do_not_fit_aws_naming_the_key_and_limit() -> None:
    app_name = "elixir-app"
    digits = longest_pr_number(app_name)
    assert digits == 6
    template_settings("pr-" + "9" * digits)  # the longest that fits is accepted
    with pytest.raises(ConfigError) as raised:
        template_settings("pr-" + "9" * (digits + 1))
    message = str(raised.value)
    assert (
        f"{PROJECT}:appName = 'elixir-app': at most 9 characters for stack 'pr-9999999'" in message
    )
    assert (
        "the load balancer's name '<appName>-pr-9999999-alb-<suffix>' is limited to 32" in message
    )
    assert "pull-request stacks of this appName fit up to 6 digits" in message


def test_a_pr_stack_with_a_hosted_zone_is_refused_before_deploy() -> None:
    """The PR role may not write DNS records: say so at config time, not at the first record."""
    with pytest.raises(ConfigError) as raised:
        template_settings(domain="pr.example.com", hostedZoneId="Z0123456789ABCDEFGHIJ")
    assert f"{PROJECT}:hostedZoneId = 'Z0123456789ABCDEFGHIJ': not on a pull-request" in str(
        raised.value
    )
    # Other stacks keep it.
    assert load_settings(
        "dev", {"target": "aws", "domain": "a.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    ).service.hosted_zone_id


def test_a_longer_app_name_shrinks_the_pr_numbers_that_fit() -> None:
    with pytest.raises(ConfigError, match="fit up to 3 digits"):
        template_settings("pr-1234", appName="elixir-shop-x")
    with pytest.raises(ConfigError, match="no pull-request stack fits"):
        template_settings("pr-1", appName="a-very-long-app-name")


def test_the_longest_pr_stack_registers_only_names_aws_accepts() -> None:
    """GENERATED_NAMES holds the tightest limits: a PR stack just inside them is clean through
    the whole AWS-limits table (every name, every limit), so the list cannot miss one."""
    stack = "pr-" + "9" * longest_pr_number("elixir-app")
    run = run_stack(
        stack,
        overrides={"albAccessLogs": True, "vpcFlowLogs": True},
        secrets={"chatWebhookUrl": "https://hooks.slack.com/services/T0/B0/XXXX"},
    )
    assert run.error is None, run.error
    problems = check(run.resources)
    assert not problems, "\n".join(p.describe(stack) for p in problems)
    assert {name.what for name in GENERATED_NAMES} >= {"load balancer", "IAM role"}


# -- the whole program for pr-123 ------------------------------------------------------------


@pytest.fixture(scope="module")
def pr_run() -> Registered:
    run = run_stack("pr-123")
    assert run.error is None, run.error
    return run


def test_the_program_runs_for_pr_123_from_the_template(pr_run: Registered) -> None:
    assert pr_run.prefix == "elixir-app-pr-123"
    assert pr_run.outputs["url"].startswith("http://")
    assert "@sha256:" in pr_run.outputs["image"]
    problems = check(pr_run.resources)
    assert not problems, "\n".join(p.describe("pr-123") for p in problems)


def test_pr_123_runs_one_spot_task_without_nat(pr_run: Registered) -> None:
    assert pr_run.of_type("aws:ec2/natGateway:NatGateway") == []
    service = web_service(pr_run).one("aws:ecs/service:Service").inputs
    assert service["desiredCount"] == 1
    # Every task on Spot, the first one included (the other stacks keep one on-demand task).
    assert service["capacityProviderStrategies"] == [
        {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 1}
    ]
    (log_group,) = [
        g
        for g in web_task(pr_run).of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs.get("namePrefix", "").startswith("/ecs/")
    ]
    assert log_group.inputs["retentionInDays"] == 1


def test_pr_123_builds_into_its_own_disposable_registry(pr_run: Registered) -> None:
    (repository,) = pr_run.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["forceDelete"] is True
    assert repository.name.startswith("elixir-app-pr-123-")
    # Unreviewed code never reaches the release registry: the image is built here.
    assert pr_run.of_type("docker:index/image:Image")


def test_pr_123_names_its_iam_roles_inside_the_pr_roles_scope(pr_run: Registered) -> None:
    """The bootstrap's PR role manages and passes only roles named elixir-app-pr-*."""
    roles = pr_run.of_type("aws:iam/role:Role")
    assert roles
    for role in roles:
        assert re.fullmatch(r"elixir-app-pr-123-[a-z0-9-]+", role.outputs["name"]), role.urn


# -- expiry ----------------------------------------------------------------------------------


def stack(name: str, hours_ago: float | None, *, busy: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "current": False, "updateInProgress": busy}
    if hours_ago is not None:
        entry["lastUpdate"] = (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    return entry


def open_prs(*numbers: int, keep: tuple[int, ...] = ()) -> list[pr_env.OpenPullRequest]:
    return [
        pr_env.OpenPullRequest(n, frozenset({"keep-env"} if n in keep else set())) for n in numbers
    ]


def test_expiry_destroys_closed_and_idle_pr_stacks_only() -> None:
    stacks = [
        stack("dev", 500),
        stack("prod", 500),
        stack("pr-1", 1),  # open, fresh
        stack("pr-2", 73),  # open, idle past 3 days
        stack("pr-3", 1),  # closed: gone whatever its age
        stack("pr-4", 200),  # open, idle, labelled keep-env
        stack("pr-5", 200, busy=True),  # a deploy is running
        stack("pr-6", None),  # never updated (a failed first deploy)
        stack("organization/elixir-devops/pr-7", 80),  # fully qualified name
    ]
    doomed = pr_env.expired(
        stacks, open_prs(1, 2, 4, 5, 6, 7, keep=(4,)), now=NOW, ttl=timedelta(days=3)
    )
    assert doomed == ["pr-2", "pr-3", "pr-6", "pr-7"]


def test_the_ttl_is_a_setting_with_a_default_of_three_days() -> None:
    assert pr_env.ttl_days("") == 3
    assert pr_env.ttl_days(None) == 3
    assert pr_env.ttl_days("7") == 7
    for bad in ("0", "-1", "three", "1.5"):
        with pytest.raises(pr_env.UsageError, match="PR_ENV_TTL_DAYS"):
            pr_env.ttl_days(bad)
    stacks = [stack("pr-9", 100)]
    assert pr_env.expired(stacks, open_prs(9), now=NOW, ttl=timedelta(days=7)) == []
    assert pr_env.expired(stacks, open_prs(9), now=NOW, ttl=timedelta(days=4)) == ["pr-9"]


def test_the_expiry_command_prints_the_destroy_matrix(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks.json"
    stacks.write_text(json.dumps([stack("pr-2", 100), stack("pr-3", 1), stack("dev", 900)]))
    prs = tmp_path / "prs.json"
    prs.write_text(json.dumps([{"number": 3, "labels": []}, {"number": 2, "labels": []}]))
    out = tmp_path / "out"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = pr_env.main(
            ["expired", "--stacks", str(stacks), "--open-prs", str(prs), "--now", NOW.isoformat()],
            environ={"PR_ENV_TTL_DAYS": "2"},
        )
    out.write_text(buffer.getvalue())
    assert code == 0
    assert json.loads(out.read_text()) == ["pr-2"]


# -- the comment -----------------------------------------------------------------------------


class FakeGitHub(BaseHTTPRequestHandler):
    """The issue-comment endpoints, enough for listing (paged), creating and editing."""

    comments: dict[int, dict[str, Any]]
    requests: list[tuple[str, str]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path))
        assert self.headers["Authorization"] == "Bearer t0ken"
        match = re.fullmatch(
            r"/repos/acme/shop/issues/(\d+)/comments\?per_page=100&page=(\d+)", self.path
        )
        assert match, self.path
        number, page = int(match[1]), int(match[2])
        mine = [c for c in self.comments.values() if c["issue"] == number]
        self._reply(200, mine[(page - 1) * 100 : page * 100])

    def do_POST(self) -> None:
        self.requests.append(("POST", self.path))
        number = int(self.path.split("/")[-2])
        comment_id = max(self.comments, default=0) + 1
        self.comments[comment_id] = {"id": comment_id, "issue": number, **self._body()}
        self._reply(201, self.comments[comment_id])

    def do_PATCH(self) -> None:
        self.requests.append(("PATCH", self.path))
        comment_id = int(self.path.rsplit("/", 1)[1])
        self.comments[comment_id].update(self._body())
        self._reply(200, self.comments[comment_id])


@pytest.fixture
def github() -> Iterator[tuple[pr_env.GitHub, type[FakeGitHub]]]:
    handler = type("Handler", (FakeGitHub,), {"comments": {}, "requests": []})
    # 150 unrelated comments first: the marker comment is found past the first page.
    for i in range(1, 151):
        handler.comments[i] = {"id": i, "issue": 7, "body": f"review comment {i}"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}"
        yield pr_env.GitHub(api, "acme/shop", "t0ken", timeout=10), handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_one_comment_per_pull_request_edited_by_later_pushes(github) -> None:
    client, handler = github
    first = pr_env.comment_body("deployed", url="http://a.example", image="r@sha256:1", commit="c1")
    assert client.upsert_comment(7, first) == ("created", 151)
    second = pr_env.comment_body(
        "deployed", url="http://a.example", image="r@sha256:2", commit="c2"
    )
    assert client.upsert_comment(7, second) == ("updated", 151)
    gone = pr_env.comment_body("destroyed", run_url="https://github.com/acme/shop/actions/runs/1")
    assert client.upsert_comment(7, gone) == ("updated", 151)
    mine = [c for c in handler.comments.values() if c["body"].startswith(pr_env.COMMENT_MARKER)]
    assert len(mine) == 1
    assert "Destroyed and removed by https://github.com/acme/shop/actions/runs/1" in mine[0]["body"]
    # Nobody else's comment was touched.
    assert all(c["body"] == f"review comment {i}" for i, c in handler.comments.items() if i <= 150)
    assert [m for m, _ in handler.requests].count("POST") == 1


FAKE_PULUMI = """import json, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
behaviour = json.load(open({behaviour!r}))
verbs = {{("stack", "rm"): "rm", ("stack", "select"): "select"}}
verb = verbs.get(tuple(sys.argv[1:3]), sys.argv[1])
status, stderr = behaviour.get(verb, [0, ""])
sys.stderr.write(stderr)
sys.exit(status)
"""
NOT_FOUND = [255, "error: no stack named 'pr-7' found\n"]


def destroy_pr(
    tmp_path: Path, client: pr_env.GitHub, reason: str = "closed", **behaviour: Any
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`python -m scripts.pr_env destroy 7` against a stand-in `pulumi` on PATH (answering each
    verb as told) and the fake GitHub API."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "pulumi.log"
    log.unlink(missing_ok=True)
    (tmp_path / "behaviour.json").write_text(json.dumps(behaviour))
    fake = FAKE_PULUMI.format(log=str(log), behaviour=str(tmp_path / "behaviour.json"))
    stand_in(bin_dir, "pulumi", fake)
    env = path_env(
        bin_dir,
        GITHUB_API_URL=client.api_url,
        GITHUB_REPOSITORY=client.repository,
        GITHUB_TOKEN=client.token,
    )
    run = ["--run-url", "https://github.com/acme/shop/actions/runs/9"]
    done = run_script("scripts.pr_env", "destroy", "7", "--reason", reason, *run, env=env)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def my_comment(handler: type[FakeGitHub]) -> str:
    (mine,) = [c for c in handler.comments.values() if c["body"].startswith(pr_env.COMMENT_MARKER)]
    return mine["body"]


def deployed_comment(client: pr_env.GitHub) -> None:
    client.upsert_comment(7, pr_env.comment_body("deployed", url="http://a.example", commit="c"))


def test_closing_destroys_removes_then_says_so(tmp_path: Path, github) -> None:
    client, handler = github
    deployed_comment(client)
    done, calls = destroy_pr(tmp_path, client)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls == [
        ["stack", "select", "pr-7", "--non-interactive"],
        ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", "pr-7"],
        ["stack", "rm", "--yes", "--non-interactive", "--stack", "pr-7"],
    ]
    assert "Destroyed and removed by https://github.com/acme/shop/actions/runs/9" in my_comment(
        handler
    )


def test_no_such_stack_destroys_nothing_and_claims_nothing(tmp_path: Path, github) -> None:
    client, handler = github
    deployed_comment(client)
    done, calls = destroy_pr(tmp_path, client, select=NOT_FOUND)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls == [["stack", "select", "pr-7", "--non-interactive"]]
    assert "nothing to destroy" in done.stdout
    assert "Destroyed" not in my_comment(handler)


@pytest.mark.parametrize(
    "behaviour",
    [
        # The lookup itself failed (credentials, the backend): not "no such stack".
        {"select": [255, "error: failed to load checkpoint: AccessDenied: Access Denied\n"]},
        {"destroy": [255, "error: update failed\n"]},
        {"rm": [255, "error: stack still has resources\n"]},
    ],
    ids=["lookup", "destroy", "rm"],
)
def test_a_failure_fails_the_job_and_leaves_the_comment(
    tmp_path: Path, github, behaviour: dict[str, Any]
) -> None:
    client, handler = github
    deployed_comment(client)
    done, calls = destroy_pr(tmp_path, client, **behaviour)
    assert done.returncode == 1
    assert "::error title=pr_env::pulumi " in done.stderr
    assert "**URL:** http://a.example" in my_comment(handler)
    if "select" in behaviour:
        assert len(calls) == 1  # never a destroy after a failed lookup
    if "destroy" in behaviour:
        assert len(calls) == 2  # never a stack rm after a failed destroy


def test_the_nightly_expiry_says_the_environment_expired(tmp_path: Path, github) -> None:
    client, handler = github
    deployed_comment(client)
    done, _ = destroy_pr(tmp_path, client, reason="expired")
    assert done.returncode == 0, done.stdout + done.stderr
    body = my_comment(handler)
    assert "Expired: destroyed and removed by https://github.com/acme/shop/actions/runs/9" in body
    assert "`keep-env`" in body


def test_the_comment_carries_the_url_image_and_commit() -> None:
    body = pr_env.comment_body(
        "deployed", url="http://pr.example", image="repo@sha256:ab", commit="abc123"
    )
    assert body.startswith(pr_env.COMMENT_MARKER + "\n")
    assert "**URL:** http://pr.example" in body
    assert "| Image | `repo@sha256:ab` |" in body
    assert "| Commit | `abc123` |" in body
    assert "`keep-env`" in body


def test_the_comment_command_needs_its_token_and_says_so() -> None:
    assert pr_env.main(["comment", "7", "--state", "deployed"], environ={}) == 2


def test_the_template_is_yaml_with_only_project_and_aws_keys() -> None:
    document = yaml.safe_load(pr_env.TEMPLATE.read_text())
    assert set(document) == {"config"}
    assert all(k.startswith((f"{PROJECT}:", "aws:")) for k in document["config"])


def test_every_task_on_spot_needs_spot_allowed() -> None:
    with pytest.raises(ConfigError) as raised:
        template_settings(fargateSpot=False)
    assert f"{PROJECT}:fargateOnDemandBase = 0: 0 puts every task on Fargate Spot" in str(
        raised.value
    )


# -- the state listing the nightly job reads -------------------------------------------------


def s3_listing(*keys: tuple[str, datetime]) -> dict[str, Any]:
    listing = {
        "IsTruncated": False,
        "Contents": [
            {"Key": key, "LastModified": when.isoformat(), "Size": 1024, "StorageClass": "STANDARD"}
            for key, when in keys
        ],
        "Name": "elixir-devops-state-1",
        "Prefix": ".pulumi/stacks/elixir-devops/pr-",
        "KeyCount": len(keys),
    }
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("s3")
    shape = model.operation_model("ListObjectsV2").output_shape
    report = ParamValidator().validate(listing, shape)
    assert not report.has_errors(), report.generate_report()
    return listing


def test_the_listing_target_is_the_pr_stack_files_of_the_backend() -> None:
    assert pr_env.state_listing_target("s3://elixir-devops-state-1") == (
        "elixir-devops-state-1",
        ".pulumi/stacks/elixir-devops/pr-",
    )
    assert pr_env.state_listing_target("s3://bucket-a/team/app?region=eu-west-1") == (
        "bucket-a",
        "team/app/.pulumi/stacks/elixir-devops/pr-",
    )
    with pytest.raises(pr_env.UsageError, match="PULUMI_BACKEND_URL"):
        pr_env.state_listing_target("file://~/.pulumi")


def test_stack_ages_come_from_their_state_files() -> None:
    listing = s3_listing(
        (".pulumi/stacks/elixir-devops/pr-5.json", NOW - timedelta(days=5)),
        (".pulumi/stacks/elixir-devops/pr-5.json.bak", NOW - timedelta(hours=1)),
        (".pulumi/stacks/elixir-devops/pr-6.json.gz", NOW - timedelta(hours=2)),
    )
    stacks = pr_env.stacks_from_listing(listing)
    assert [s["name"] for s in stacks] == ["pr-5", "pr-6"]
    # The .bak (written before an update) does not make an idle stack look fresh.
    assert pr_env.expired(stacks, open_prs(5, 6), now=NOW, ttl=timedelta(days=3)) == ["pr-5"]


def test_the_nightly_command_lists_the_bucket_with_the_aws_cli(tmp_path: Path) -> None:

    answer = tmp_path / "listing.json"
    answer.write_text(
        json.dumps(
            s3_listing((".pulumi/stacks/elixir-devops/pr-8.json", NOW - timedelta(days=9))),
            default=str,
        )
    )
    log = tmp_path / "aws.log"
    bin_dir = tmp_path / "bin"
    stand_in(
        bin_dir,
        "aws",
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]))\n"
        f"print(open({str(answer)!r}).read())\n",
    )
    prs = tmp_path / "prs.json"
    prs.write_text(json.dumps([{"number": 8, "labels": [{"name": "bug"}]}]))
    env = path_env(bin_dir)
    env.pop("PR_ENV_TTL_DAYS", None)
    done = run_script(
        "scripts.pr_env", "expired", "--backend-url", "s3://elixir-devops-state-1",
        "--open-prs", str(prs), "--now", NOW.isoformat(), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["pr-8"]
    assert json.loads(log.read_text()) == [
        "s3api",
        "list-objects-v2",
        "--bucket",
        "elixir-devops-state-1",
        "--prefix",
        ".pulumi/stacks/elixir-devops/pr-",
        "--output",
        "json",
    ]


def test_pr_123_passes_every_guardrail_of_the_policy_pack(pr_run: Registered) -> None:
    """What previews of the committed stacks enforce holds for the PR stacks too."""
    from tests.test_policy import evaluate

    violations = evaluate(pr_run.resources)
    assert violations == [], "\n".join(f"{v.policy} {v.resource}: {v.message}" for v in violations)
