#!/usr/bin/env python3
"""`make up` / `make preview` / `make down`: run Pulumi for a stack after checking what it needs.

Usage: python -m scripts.stack {up,preview,destroy} [--stack local] [-- extra pulumi args]

Checks, and reports together with how to fix each: the Pulumi CLI, a running Docker engine
(images are built locally for both targets), AWS credentials for an ``aws`` stack, and a state
backend. The ``local`` stack needs no account: it keeps state in ``.pulumi-state/`` and uses a
fixed, documented passphrase (it protects nothing of value; never use it for a cloud stack).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent


PROJECT = "elixir-devops"
LOCAL_STATE_DIR = PROJECT_DIR / ".pulumi-state"
LOCAL_PASSPHRASE = "elixir-devops-local-only"
"""Encrypts only the local stack's generated secrets; documented in the README."""

PULUMI_INSTALL = (
    "install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` "
    "(macOS: `brew install pulumi/tap/pulumi`), then open a new shell"
)
DOCKER_INSTALL = (
    "install Docker: Docker Desktop (macOS/Windows) or Docker Engine "
    "(Linux: https://docs.docker.com/engine/install/)"
)
DOCKER_START = (
    "start the Docker engine (Docker Desktop, or `sudo systemctl start docker`) "
    "and check `docker info` works for your user"
)
AWS_CREDENTIALS = (
    "configure AWS credentials: `aws configure sso` / `aws sso login --profile X` and "
    "`export AWS_PROFILE=X`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)
AWS_BACKEND = (
    "choose where the stack's state lives: `pulumi login` (Pulumi Cloud) or "
    "`export PULUMI_BACKEND_URL=s3://<state bucket>` (see docs/ci.md, bootstrap/)"
)

Which = Callable[[str], str | None]
Run = Callable[[Sequence[str]], int]


@dataclass(frozen=True)
class Missing:
    """A prerequisite that is not there, and how to get it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"  - {self.what}: {self.fix}"


def available_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def stack_target(stack: str, project_dir: Path = PROJECT_DIR) -> str:
    """The stack's ``target`` setting, or the project default."""
    document = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    configured = (document.get("config") or {}).get(f"{PROJECT}:target")
    if configured is not None:
        return str(configured)
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return str(project["config"]["target"]["default"])


def _quiet(command: Sequence[str]) -> int:
    try:
        return subprocess.run(
            list(command),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return 1


def has_aws_credentials(env: Mapping[str, str], home: Path) -> bool:
    """Whether the AWS SDK has somewhere to find credentials (it validates them itself)."""
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return True
    if any(
        env.get(name)
        for name in (
            "AWS_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        )
    ):
        return True
    return (home / ".aws" / "credentials").is_file() or (home / ".aws" / "config").is_file()


def check_prerequisites(
    target: str,
    env: Mapping[str, str],
    *,
    which: Which = shutil.which,
    run: Run = _quiet,
    home: Path | None = None,
    needs_docker: bool = True,
) -> list[Missing]:
    """Everything missing for ``target``, in the order a person would fix it."""
    missing: list[Missing] = []
    if which("pulumi") is None:
        missing.append(Missing("Pulumi CLI (`pulumi`) not found on PATH", PULUMI_INSTALL))
    if needs_docker and which("docker") is None:
        missing.append(Missing("Docker (`docker`) not found on PATH", DOCKER_INSTALL))
    elif needs_docker and run(["docker", "info"]) != 0:
        missing.append(Missing("Docker engine is not running or not reachable", DOCKER_START))
    if target == "aws":
        if not has_aws_credentials(env, home or Path.home()):
            missing.append(Missing("AWS credentials not found", AWS_CREDENTIALS))
        logged_in = which("pulumi") is not None and run(["pulumi", "whoami"]) == 0
        if not env.get("PULUMI_BACKEND_URL") and not logged_in:
            missing.append(Missing("no Pulumi state backend for a cloud stack", AWS_BACKEND))
    return missing


def busy_ports(ports: Mapping[str, int], host: str = "127.0.0.1") -> list[tuple[str, int]]:
    """The (key, port) pairs something already listens on."""
    busy = []
    for key, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                busy.append((key, port))
    return busy


def local_ports(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, int]:
    """The host ports a local stack publishes (its stack file over the Pulumi.yaml defaults)."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    document = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = document.get("config") or {}
    keys = ("localAppPort", "localRegistryPort", "localPrometheusPort", "localGrafanaPort")
    return {
        key: int(config.get(f"{PROJECT}:{key}", project["config"][key]["default"])) for key in keys
    }


def port_warnings(busy: Sequence[tuple[str, int]]) -> list[str]:
    """Not fatal: on a re-run the stack's own containers hold these ports."""
    return [
        f"note: 127.0.0.1:{port} ({key}) is in use. Fine if it is this stack's own container; "
        f"otherwise free it or `pulumi config set {key} <other port>`"
        + (" (on macOS, the AirPlay Receiver listens on 5000)" if port == 5000 else "")
        for key, port in busy
    ]


def pulumi_environment(target: str, env: Mapping[str, str]) -> dict[str, str]:
    """The environment Pulumi runs with: a file backend and passphrase for the local target."""
    result = dict(env)
    if target == "local":
        result.setdefault("PULUMI_BACKEND_URL", LOCAL_STATE_DIR.as_uri())
        result.setdefault("PULUMI_CONFIG_PASSPHRASE", LOCAL_PASSPHRASE)
    result.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return result


# Wrapper actions and the pulumi command each runs; `outputs` reads the stack, builds nothing.
PULUMI_ACTIONS = {
    "up": ["up"],
    "preview": ["preview"],
    "destroy": ["destroy"],
    "outputs": ["stack", "output"],
}


SECRETS_PROVIDER_VARIABLE = "PULUMI_SECRETS_PROVIDER"
"""Where a cloud stack's KMS secrets provider can be given when its stack file has none yet."""


def secrets_provider(
    stack: str, target: str, env: Mapping[str, str], project_dir: Path = PROJECT_DIR
) -> str | None:
    """How a missing stack is created: the local target's passphrase; a cloud stack's KMS
    provider from its stack file (``secretsprovider``, written by ``pulumi stack init``) or
    ``$PULUMI_SECRETS_PROVIDER``; None when neither is known (never a passphrase prompt)."""
    if target == "local":
        return "passphrase"
    document = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    return document.get("secretsprovider") or env.get(SECRETS_PROVIDER_VARIABLE) or None


def create_stack_hint(stack: str) -> str:
    return (
        f"stack '{stack}' cannot be created without its KMS secrets provider (cloud stacks never "
        "get a passphrase). Create it once, with the key bootstrap/ made:\n"
        f"  pulumi stack init {stack} --secrets-provider "
        f'"$(pulumi -C bootstrap stack output secretsProviders --json | jq -r .{stack})"\n'
        f"or set {SECRETS_PROVIDER_VARIABLE}=awskms:///<key ARN>?region=<region> and run again."
    )


def pulumi_commands(
    action: str, stack: str, extra: Sequence[str], provider: str | None = None
) -> list[list[str]]:
    """``stack select`` (creating the stack with ``provider`` when one is known and the action
    writes), then the action itself."""
    select = ["pulumi", "stack", "select", stack, "--cwd", str(PROJECT_DIR)]
    if action != "outputs" and provider is not None:  # reading outputs never creates a stack
        select += ["--create", "--secrets-provider", provider]
    command = ["pulumi", *PULUMI_ACTIONS[action], "--stack", stack, "--cwd", str(PROJECT_DIR)]
    return [select, [*command, *extra]]


def alert_notice(stack: str, project_dir: Path = PROJECT_DIR) -> str | None:
    """After a local ``up``: where alerts are when no chat webhook delivers them."""
    document = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = document.get("config") or {}
    if f"{PROJECT}:chatWebhookUrl" in config:
        return None
    port = config.get(f"{PROJECT}:localAlertmanagerPort", 9093)
    return (
        f"Alerts: http://localhost:{port} (Alertmanager) and Grafana's alerting page show them; "
        "nothing is sent anywhere. To get them in Slack, Teams or Discord: "
        f"pulumi config set --secret chatWebhookUrl <incoming webhook> --stack {stack}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run Pulumi for a stack after checking prerequisites.",
        epilog="Arguments after -- go to pulumi unchanged.",
    )
    parser.add_argument("action", choices=tuple(PULUMI_ACTIONS))
    parser.add_argument("--stack", default="local")
    words = list(sys.argv[1:] if argv is None else argv)
    split = words.index("--") if "--" in words else len(words)
    args = parser.parse_args(words[:split])
    args.extra = words[split + 1 :]

    stacks = available_stacks()
    if args.stack not in stacks:
        print(
            f"stack '{args.stack}' has no Pulumi.{args.stack}.yaml; known stacks: "
            f"{', '.join(stacks)}",
            file=sys.stderr,
        )
        return 2
    target = stack_target(args.stack)
    missing = check_prerequisites(target, os.environ, needs_docker=args.action != "outputs")
    if missing:
        print(
            f"Cannot run `pulumi {' '.join(PULUMI_ACTIONS[args.action])}` for stack "
            f"'{args.stack}' (target {target}):",
            *map(str, missing),
            sep="\n",
            file=sys.stderr,
        )
        return 2

    env = pulumi_environment(target, os.environ)
    if target == "local":
        LOCAL_STATE_DIR.mkdir(exist_ok=True)
        if args.action == "up":
            for warning in port_warnings(busy_ports(local_ports(args.stack))):
                print(warning, file=sys.stderr)
    provider = secrets_provider(args.stack, target, os.environ)
    for index, command in enumerate(pulumi_commands(args.action, args.stack, args.extra, provider)):
        code = subprocess.run(command, env=env, check=False).returncode
        if code != 0:
            if index == 0 and provider is None and args.action != "outputs":
                print(create_stack_hint(args.stack), file=sys.stderr)
            return code
    if target == "local" and args.action == "up" and (notice := alert_notice(args.stack)):
        print(notice, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
