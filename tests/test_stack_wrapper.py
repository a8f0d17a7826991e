"""`make up`'s wrapper: says clearly what is missing, and runs Pulumi the right way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import stack as wrapper

PROJECT_DIR = Path(__file__).resolve().parent.parent


def run_wrapper(
    *args: str, path: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": path, "HOME": "/nonexistent", **(env or {})}
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def fake_tool(directory: Path, name: str, exit_code: int) -> None:
    tool = directory / name
    tool.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    tool.chmod(0o755)


def test_without_pulumi_or_docker_it_names_both_and_how_to_install(tmp_path: Path) -> None:
    result = run_wrapper("up", path=str(tmp_path))
    assert result.returncode == 2
    assert "Pulumi CLI (`pulumi`) not found" in result.stderr
    assert "get.pulumi.com" in result.stderr
    assert "Docker (`docker`) not found" in result.stderr
    assert "stack 'local' (target local)" in result.stderr


def test_a_stopped_docker_engine_is_reported_as_such(tmp_path: Path) -> None:
    fake_tool(tmp_path, "docker", 1)
    fake_tool(tmp_path, "pulumi", 0)
    result = run_wrapper("preview", path=str(tmp_path))
    assert result.returncode == 2
    assert "Docker engine is not running" in result.stderr
    assert "Pulumi CLI" not in result.stderr


def test_an_aws_stack_also_needs_credentials_and_a_backend(tmp_path: Path) -> None:
    fake_tool(tmp_path, "docker", 0)
    fake_tool(tmp_path, "pulumi", 1)  # `pulumi whoami` fails: not logged in
    result = run_wrapper("up", "--stack", "dev", path=str(tmp_path))
    assert result.returncode == 2
    assert "AWS credentials not found" in result.stderr
    assert "no Pulumi state backend" in result.stderr


def test_an_unknown_stack_lists_the_known_ones(tmp_path: Path) -> None:
    result = run_wrapper("up", "--stack", "qa", path=str(tmp_path))
    assert result.returncode == 2
    assert "known stacks: " in result.stderr and "dev" in result.stderr


def test_with_everything_present_it_selects_the_stack_then_runs_pulumi(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    for name in ("docker", "pulumi"):
        tool = tmp_path / name
        tool.write_text(f'#!/bin/sh\necho "{name} $* | $PULUMI_BACKEND_URL" >> {log}\n')
        tool.chmod(0o755)
    result = run_wrapper("up", "--stack", "local", "--", path=f"{tmp_path}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("docker info")
    assert calls[1].startswith("pulumi stack select local --cwd")
    assert "--create" in calls[1]
    assert "--secrets-provider passphrase" in calls[1]
    assert calls[2].startswith("pulumi up --stack local")
    assert calls[2].endswith(f"| {(PROJECT_DIR / '.pulumi-state').as_uri()}")


def test_a_failing_pulumi_step_fails_the_command(tmp_path: Path) -> None:
    fake_tool(tmp_path, "docker", 0)
    fake_tool(tmp_path, "pulumi", 3)
    result = run_wrapper("up", path=str(tmp_path))
    assert result.returncode == 3


@pytest.mark.parametrize(
    ("env", "found"),
    [
        ({}, False),
        ({"AWS_PROFILE": "dev"}, True),
        ({"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}, True),
        ({"AWS_ACCESS_KEY_ID": "AKIA"}, False),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": "/token"}, True),
    ],
)
def test_aws_credentials_are_looked_for_where_the_sdk_looks(
    env: dict[str, str], found: bool, tmp_path: Path
) -> None:
    assert wrapper.has_aws_credentials(env, tmp_path) is found


def test_local_stack_gets_a_file_backend_and_the_documented_passphrase() -> None:
    env = wrapper.pulumi_environment("local", {})
    assert env["PULUMI_BACKEND_URL"].startswith("file://")
    assert env["PULUMI_CONFIG_PASSPHRASE"] == wrapper.LOCAL_PASSPHRASE
    cloud = wrapper.pulumi_environment("aws", {"PULUMI_BACKEND_URL": "s3://state"})
    assert cloud["PULUMI_BACKEND_URL"] == "s3://state"
    assert "PULUMI_CONFIG_PASSPHRASE" not in cloud


def test_stack_targets_come_from_the_stack_files() -> None:
    assert wrapper.stack_target("dev") == "aws"
    assert wrapper.stack_target("prod") == "aws"


def test_a_busy_local_port_is_named_with_the_key_to_change() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        busy = wrapper.busy_ports({"localAppPort": taken})
    assert busy == [("localAppPort", taken)]
    (warning,) = wrapper.port_warnings(busy)
    assert f"127.0.0.1:{taken} (localAppPort)" in warning
    assert "pulumi config set localAppPort" in warning
    assert "AirPlay" in wrapper.port_warnings([("localRegistryPort", 5000)])[0]


def test_local_ports_come_from_the_stack_file_over_the_defaults() -> None:
    assert wrapper.local_ports("local") == {
        "localAppPort": 4000,
        "localRegistryPort": 5000,
        "localPrometheusPort": 9090,
        "localGrafanaPort": 3000,
    }


def test_outputs_need_no_docker_and_never_create_a_stack(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    tool = tmp_path / "pulumi"
    tool.write_text(f'#!/bin/sh\necho "pulumi $*" >> {log}\n')
    tool.chmod(0o755)
    # The form `make outputs ARGS=--show-secrets` runs.
    result = run_wrapper("outputs", "--stack", "local", "--", "--show-secrets", path=str(tmp_path))
    assert result.returncode == 0, result.stderr
    select, output = log.read_text().splitlines()
    assert select.startswith("pulumi stack select local") and "--create" not in select
    assert output.startswith("pulumi stack output --stack local")
    assert output.endswith("--show-secrets")


@pytest.mark.parametrize(
    ("target", "expected"),
    [("up", "pulumi up --stack local"), ("outputs", "pulumi stack output --stack local")],
)
def test_make_runs_the_wrapper_and_passes_args_to_pulumi(
    tmp_path: Path, target: str, expected: str
) -> None:
    log = tmp_path / "calls.log"
    for name in ("docker", "pulumi"):
        tool = tmp_path / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
        tool.chmod(0o755)
    result = subprocess.run(
        ["make", "--no-print-directory", target, "STACK=local", "ARGS=--yes --diff"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last = log.read_text().splitlines()[-1]
    assert last.startswith(expected) and last.endswith("--yes --diff"), last


def _logging_tools(directory: Path, log: Path, pulumi_exit: int = 0) -> str:
    (directory / "docker").write_text("#!/bin/sh\nexit 0\n")
    (directory / "pulumi").write_text(f'#!/bin/sh\necho "pulumi $*" >> {log}\nexit {pulumi_exit}\n')
    for name in ("docker", "pulumi"):
        (directory / name).chmod(0o755)
    return f"{directory}:{os.environ['PATH']}"


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIA",
    "AWS_SECRET_ACCESS_KEY": "s",
    "PULUMI_BACKEND_URL": "s3://state",
}


def test_a_missing_cloud_stack_is_never_created_with_a_passphrase_prompt(tmp_path: Path) -> None:
    """No KMS provider known: select without --create, and a failure says the exact command."""
    log = tmp_path / "calls.log"
    path = _logging_tools(tmp_path, log, pulumi_exit=1)
    result = run_wrapper("up", "--stack", "dev", path=path, env=AWS_ENV)
    assert result.returncode == 1
    (select,) = [c for c in log.read_text().splitlines() if c.startswith("pulumi stack")]
    assert select.startswith("pulumi stack select dev") and "--create" not in select
    assert "pulumi stack init dev --secrets-provider" in result.stderr
    assert "secretsProviders" in result.stderr
    assert wrapper.SECRETS_PROVIDER_VARIABLE in result.stderr


def test_a_cloud_stack_is_created_with_the_kms_provider_it_is_given(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    path = _logging_tools(tmp_path, log)
    provider = "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd?region=eu-west-1"
    env = {**AWS_ENV, wrapper.SECRETS_PROVIDER_VARIABLE: provider}
    result = run_wrapper("preview", "--stack", "dev", path=path, env=env)
    assert result.returncode == 0, result.stderr
    (select,) = [c for c in log.read_text().splitlines() if c.startswith("pulumi stack")]
    assert f"--create --secrets-provider {provider}" in select


def test_a_stack_file_secrets_provider_wins_over_the_environment(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("secretsprovider: awskms:///from-file\nconfig: {}\n")
    env = {wrapper.SECRETS_PROVIDER_VARIABLE: "awskms:///from-env"}
    assert wrapper.secrets_provider("dev", "aws", env, tmp_path) == "awskms:///from-file"
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    assert wrapper.secrets_provider("dev", "aws", env, tmp_path) == "awskms:///from-env"
    assert wrapper.secrets_provider("dev", "aws", {}, tmp_path) is None
    assert wrapper.secrets_provider("local", "local", {}, tmp_path) == "passphrase"


def test_a_local_up_without_a_chat_webhook_says_where_the_alerts_are(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.local.yaml").write_text("config:\n  elixir-devops:target: local\n")
    notice = wrapper.alert_notice("local", tmp_path)
    assert notice is not None and "http://localhost:9093" in notice
    assert "pulumi config set --secret chatWebhookUrl" in notice
    (tmp_path / "Pulumi.local.yaml").write_text(
        "config:\n  elixir-devops:chatWebhookUrl:\n    secure: v1:abc\n"
    )
    assert wrapper.alert_notice("local", tmp_path) is None
