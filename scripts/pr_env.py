#!/usr/bin/env python3
"""Pull-request environments: the stack of a pull request, its stack file, its comment, its end.

Usage (what `.github/workflows/pr-environment.yml` runs; each prints what the next step needs):

    python -m scripts.pr_env stack <number>          # pr-<number>
    python -m scripts.pr_env materialise <number>    # writes Pulumi.pr-<number>.yaml
    python -m scripts.pr_env comment <number> --state deployed --url U --image I --commit C
    python -m scripts.pr_env expired --backend-url s3://bucket --open-prs prs.json [--ttl-days 3]
    python -m scripts.pr_env destroy <number> --reason closed|expired [--run-url U]

A pull request's stack is ``pr-<number>``, made from the committed template
``stack-templates/Pulumi.pr.yaml`` (the Pulumi CLI reads ``Pulumi.<stack>.yaml``, so the workflow
copies the template there; the copy is never committed). One comment per pull request carries
the environment's URL and is edited in place by later pushes. A scheduled job destroys the
environments of closed pull requests and those idle longer than the TTL, except pull requests
labelled ``keep-env``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from settings.common import PR_STACK_PATTERN, PR_STACK_PREFIX

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = PROJECT_DIR / "stack-templates" / "Pulumi.pr.yaml"
DEFAULT_TTL_DAYS = 3
KEEP_LABEL = "keep-env"
COMMENT_MARKER = "<!-- elixir-devops:pr-environment -->"
"""First line of the one comment this script owns on each pull request."""


class UsageError(ValueError):
    """A bad argument, reported with the name of the argument and what it accepts."""


def stack_name(number: str | int) -> str:
    """``pr-<number>`` for a pull request number (a positive integer, no leading zero)."""
    name = f"{PR_STACK_PREFIX}{str(number).strip()}"
    if not re.fullmatch(PR_STACK_PATTERN, name):
        raise UsageError(
            f"pull request number {number!r}: must be a positive integer without leading "
            f"zeros (stack names look like {PR_STACK_PREFIX}123)"
        )
    return name


def pr_number(stack: str) -> int | None:
    """The pull request number of a PR stack name, None for any other stack."""
    if re.fullmatch(PR_STACK_PATTERN, stack):
        return int(stack[len(PR_STACK_PREFIX) :])
    return None


def template_config(template: Path = TEMPLATE) -> dict[str, Any]:
    """The ``config:`` of the template, as a PR stack gets it."""
    document = yaml.safe_load(template.read_text(encoding="utf-8")) or {}
    return dict(document.get("config") or {})


def materialise(number: str | int, project_dir: Path = PROJECT_DIR) -> Path:
    """Writes ``Pulumi.pr-<number>.yaml`` from the template, unless the stack file exists.

    An existing file is kept: after `pulumi stack init` it holds the stack's secrets provider
    and encrypted data key, which a fresh copy would lose.
    """
    path = project_dir / f"Pulumi.{stack_name(number)}.yaml"
    if not path.exists():
        path.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


# -- expiry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPullRequest:
    number: int
    labels: frozenset[str]


def ttl_days(value: str | None) -> int:
    """The TTL from the repository variable PR_ENV_TTL_DAYS (empty: the default)."""
    if value is None or not value.strip():
        return DEFAULT_TTL_DAYS
    if not re.fullmatch(r"[1-9][0-9]{0,2}", value.strip()):
        raise UsageError(
            f"PR_ENV_TTL_DAYS = {value!r}: must be a whole number of days between 1 and 999 "
            f"(empty: {DEFAULT_TTL_DAYS})"
        )
    return int(value)


def open_pull_requests(document: Sequence[Mapping[str, Any]]) -> list[OpenPullRequest]:
    """From `gh pr list --state open --json number,labels`."""
    return [
        OpenPullRequest(
            number=int(pr["number"]),
            labels=frozenset(label["name"] for label in pr.get("labels") or []),
        )
        for pr in document
    ]


def state_listing_target(backend_url: str, project: str = "elixir-devops") -> tuple[str, str]:
    """(bucket, key prefix) of the PR stacks' state files in a DIY S3 backend.

    Listing the bucket is all the pr-* role may do outside pr-* files: `pulumi stack ls` would
    read every stack's checkpoint (prod's included) and fail. A stack file is rewritten by every
    update, so its LastModified is the stack's last update.
    """
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^?]*)?(\?.*)?", backend_url)
    if match is None:
        raise UsageError(
            f"PULUMI_BACKEND_URL = {backend_url!r}: must be the S3 backend, s3://<bucket>[/<path>]"
        )
    path = (match[2] or "").strip("/")
    root = f"{path}/" if path else ""
    return match[1], f"{root}.pulumi/stacks/{project}/{PR_STACK_PREFIX}"


def stacks_from_listing(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`aws s3api list-objects-v2` of the stack files, as `pulumi stack ls --json` entries."""
    stacks: dict[str, str] = {}
    for item in listing.get("Contents") or []:
        name = str(item["Key"]).rsplit("/", 1)[-1]
        for suffix in (".json", ".json.gz"):
            if name.endswith(suffix):
                stack = name[: -len(suffix)]
                stacks[stack] = max(stacks.get(stack, ""), str(item["LastModified"]))
    return [{"name": name, "lastUpdate": last} for name, last in sorted(stacks.items())]


def list_state(backend_url: str, aws: str = "aws") -> dict[str, Any]:
    bucket, prefix = state_listing_target(backend_url)
    listed = subprocess.run(
        [
            aws,
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--prefix",
            prefix,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if listed.returncode != 0:
        raise UsageError(f"aws s3api list-objects-v2 failed: {listed.stderr.strip()}")
    return json.loads(listed.stdout or "{}")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expired(
    stacks: Iterable[Mapping[str, Any]],
    open_prs: Iterable[OpenPullRequest],
    *,
    now: datetime,
    ttl: timedelta,
) -> list[str]:
    """PR stacks to destroy, from `pulumi stack ls --json`: the pull request is closed, or the
    stack's last update is older than ``ttl`` and the pull request is not labelled keep-env.

    Never a stack with an update in progress (the deploy job owns it), never a non-PR stack.
    A stack without any update yet counts as idle since forever (a failed first deploy).
    """
    still_open = {pr.number: pr for pr in open_prs}
    doomed: list[str] = []
    for stack in stacks:
        name = str(stack.get("name", "")).rsplit("/", 1)[-1]
        number = pr_number(name)
        if number is None or stack.get("updateInProgress"):
            continue
        pr = still_open.get(number)
        if pr is None:
            doomed.append(name)
            continue
        if KEEP_LABEL in pr.labels:
            continue
        last = stack.get("lastUpdate")
        if not last or now - _parse_time(str(last)) > ttl:
            doomed.append(name)
    return sorted(doomed, key=lambda s: pr_number(s) or 0)


# -- destroying a stack ----------------------------------------------------------------------

# What the Pulumi CLI says when `pulumi stack select` finds no such stack (pkg/cmd/pulumi); any
# other failure (credentials, the backend, a lock) is an error, never "nothing to destroy".
NO_SUCH_STACK = re.compile(r"no stack named '[^']*' found")
PULUMI_TIMEOUT_SECONDS = 50 * 60


class CommandFailed(RuntimeError):
    """A Pulumi CLI call failed: the job fails, and nothing claims the stack is gone."""


def destroy_stack(number: str | int, *, pulumi: str = "pulumi") -> bool:
    """Destroys the stack pr-<number> and removes it from the backend: True; False when there is
    no such stack (a missed deploy, or the nightly job got there first). Raises CommandFailed
    on any other failure, before or during the destroy."""
    stack = stack_name(number)
    selected = subprocess.run(
        [pulumi, "stack", "select", stack, "--non-interactive"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if selected.returncode != 0:
        if NO_SUCH_STACK.search(selected.stderr):
            return False
        raise CommandFailed(
            f"pulumi stack select {stack} failed (exit {selected.returncode}): "
            f"{selected.stderr.strip()}"
        )
    for command in (
        ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", stack],
        ["stack", "rm", "--yes", "--non-interactive", "--stack", stack],
    ):
        # The output goes to the job's log as it comes.
        done = subprocess.run([pulumi, *command], timeout=PULUMI_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            raise CommandFailed(f"pulumi {' '.join(command)} failed (exit {done.returncode})")
    return True


# -- the comment -----------------------------------------------------------------------------


COMMENT_STATES = ("deployed", "destroyed", "expired")


def comment_body(
    state: str, *, url: str = "", image: str = "", commit: str = "", run_url: str = ""
) -> str:
    """The comment's markdown for a deployed or a removed environment."""
    lines = [COMMENT_MARKER]
    if state == "deployed":
        lines += [
            "### Live environment of this pull request",
            "",
            f"**URL:** {url}" if url else "**URL:** (the stack exported none)",
            "",
            "| | |",
            "|---|---|",
            f"| Commit | `{commit}` |",
            f"| Image | `{image}` |",
        ]
        if run_url:
            lines.append(f"| Deployed by | {run_url} |")
        lines += [
            "",
            f"Updated on every push; destroyed when the pull request closes, or after "
            f"`PR_ENV_TTL_DAYS` (default {DEFAULT_TTL_DAYS}) idle days unless labelled "
            f"`{KEEP_LABEL}`.",
        ]
    elif state == "destroyed":
        lines += [
            "### Live environment of this pull request",
            "",
            f"Destroyed and removed{f' by {run_url}' if run_url else ''}.",
        ]
    elif state == "expired":
        lines += [
            "### Live environment of this pull request",
            "",
            f"Expired: destroyed and removed{f' by {run_url}' if run_url else ''}, idle longer "
            f"than `PR_ENV_TTL_DAYS` (default {DEFAULT_TTL_DAYS} days). The next push deploys it "
            f"again; label the pull request `{KEEP_LABEL}` to keep it.",
        ]
    else:
        raise UsageError(f"--state {state!r}: must be one of {', '.join(COMMENT_STATES)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GitHub:
    """The few REST calls the comment needs (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN)."""

    api_url: str
    repository: str
    token: str
    timeout: float = 30.0

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.api_url.rstrip('/')}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def comments(self, number: int) -> Iterable[Mapping[str, Any]]:
        page = 1
        while True:
            batch = self._request(
                "GET", f"/repos/{self.repository}/issues/{number}/comments?per_page=100&page={page}"
            )
            yield from batch
            if len(batch) < 100:
                return
            page += 1

    def upsert_comment(self, number: int, body: str) -> tuple[str, int]:
        """Edits this script's comment on the pull request, or creates it: ("updated"|"created",
        comment id). Only comments starting with the marker are ever touched."""
        updated = self.update_comment(number, body)
        if updated is not None:
            return updated
        created = self._request(
            "POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body}
        )
        return "created", int(created["id"])

    def update_comment(self, number: int, body: str) -> tuple[str, int] | None:
        """Edits this script's comment on the pull request if there is one: ("updated", id)."""
        for comment in self.comments(number):
            if str(comment.get("body", "")).startswith(COMMENT_MARKER):
                comment_id = int(comment["id"])
                self._request(
                    "PATCH",
                    f"/repos/{self.repository}/issues/comments/{comment_id}",
                    {"body": body},
                )
                return "updated", comment_id
        return None


def github_from_environment(environ: Mapping[str, str]) -> GitHub:
    missing = [k for k in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not environ.get(k)]
    if missing:
        raise UsageError(f"environment variables {', '.join(missing)} must be set")
    return GitHub(
        api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
        repository=environ["GITHUB_REPOSITORY"],
        token=environ["GITHUB_TOKEN"],
    )


def destroy_and_say_so(number: str, reason: str, run_url: str, environ: Mapping[str, str]) -> int:
    """`destroy`: the stack goes, then the pull request's comment says so (only then)."""
    github = github_from_environment(environ)  # checked first: a destroy nobody is told of
    stack = stack_name(number)
    if not destroy_stack(number):
        print(f"no stack {stack}: nothing to destroy, the comment is left as it is")
        return 0
    state = "destroyed" if reason == "closed" else "expired"
    pr = pr_number(stack)
    assert pr is not None
    said = github.update_comment(pr, comment_body(state, run_url=run_url))
    print(f"destroyed and removed {stack}" + (f"; updated comment {said[1]}" if said else ""))
    return 0


# -- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m scripts.pr_env", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stack").add_argument("number")
    commands.add_parser("materialise").add_argument("number")
    comment = commands.add_parser("comment")
    comment.add_argument("number")
    comment.add_argument("--state", required=True, choices=COMMENT_STATES)
    comment.add_argument("--url", default="")
    comment.add_argument("--image", default="")
    comment.add_argument("--commit", default="")
    comment.add_argument("--run-url", default="")
    destroy = commands.add_parser("destroy")
    destroy.add_argument("number")
    destroy.add_argument("--reason", required=True, choices=("closed", "expired"))
    destroy.add_argument("--run-url", default="")
    expiry = commands.add_parser("expired")
    source = expiry.add_mutually_exclusive_group(required=True)
    source.add_argument("--backend-url", help="PULUMI_BACKEND_URL: lists the pr-* state files")
    source.add_argument("--stacks", type=Path, help="pulumi stack ls --json (other backends)")
    expiry.add_argument("--open-prs", type=Path, required=True, help="gh pr list --json ...")
    expiry.add_argument("--ttl-days", default=environ.get("PR_ENV_TTL_DAYS", ""))
    expiry.add_argument("--now", default="", help="ISO time (tests); default: now")
    args = parser.parse_args(argv)
    try:
        if args.command == "stack":
            print(stack_name(args.number))
        elif args.command == "materialise":
            print(materialise(args.number).name)
        elif args.command == "comment":
            number = pr_number(stack_name(args.number))
            assert number is not None
            body = comment_body(
                args.state, url=args.url, image=args.image, commit=args.commit, run_url=args.run_url
            )
            action, comment_id = github_from_environment(environ).upsert_comment(number, body)
            print(f"{action} comment {comment_id} on pull request #{number}")
        elif args.command == "destroy":
            return destroy_and_say_so(args.number, args.reason, args.run_url, environ)
        else:
            now = _parse_time(args.now) if args.now else datetime.now(UTC)
            stacks = (
                json.loads(args.stacks.read_text() or "[]")
                if args.stacks
                else stacks_from_listing(list_state(args.backend_url))
            )
            doomed = expired(
                stacks,
                open_pull_requests(json.loads(args.open_prs.read_text() or "[]")),
                now=now,
                ttl=timedelta(days=ttl_days(args.ttl_days)),
            )
            # One line of JSON: the destroy job's matrix (fromJSON in the workflow).
            print(json.dumps(doomed))
    except UsageError as error:
        print(f"::error title=pr_env::{error}", file=sys.stderr)
        return 2
    except urllib.error.HTTPError as error:
        print(
            f"::error title=GitHub API::{error.code} {error.reason} ({error.url})", file=sys.stderr
        )
        return 1
    except (CommandFailed, subprocess.TimeoutExpired, OSError) as error:
        print(f"::error title=pr_env::{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
