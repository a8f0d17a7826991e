"""ContainerService (aws): pure helpers of the task definition, IAM and capacity."""

from __future__ import annotations

import json

from components.aws.cluster import capacity_strategy
from components.aws.task import ecr_repository_arn, execution_role_policy, secret_resource_arn
from components.runtime import runtime_variables
from tests.harness import configure


def test_runtime_environment_gives_phoenix_what_it_needs_to_boot() -> None:
    service = configure(environment={"A": "1"}, deregistrationDelaySeconds=30).service
    env = runtime_variables(
        container_port=service.container_port,
        stop_timeout_seconds=service.stop_timeout_seconds,
        host="app.example.com",
        environment=service.environment,
    )
    assert env == {
        "A": "1",
        "PHX_HOST": "app.example.com",
        "PHX_SERVER": "true",
        "PORT": "4000",
        "SHUTDOWN_DRAIN_MS": "40000",
        # The root filesystem is read-only: the release's tmp files and a crash dump go to /tmp.
        "RELEASE_TMP": "/tmp",
        "ERL_CRASH_DUMP": "/tmp/erl_crash.dump",
    }


def test_image_references_map_to_their_ecr_repository() -> None:
    digest = "@sha256:" + "a" * 64
    assert (
        ecr_repository_arn(f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app{digest}")
        == "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
    )
    assert ecr_repository_arn(f"ghcr.io/acme/app{digest}") is None


def test_secret_json_keys_are_dropped_for_iam() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/runtime-AbCdEf"
    assert secret_resource_arn(f"{arn}:SECRET_KEY_BASE::") == arn
    assert secret_resource_arn(arn) == arn


def test_public_images_need_no_ecr_permissions() -> None:
    policy = json.loads(
        execution_role_policy(
            repository_arn=None,
            log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/app",
            secret_arns=["arn:aws:ssm:eu-west-1:123456789012:parameter/app/db"],
        )
    )
    actions = [s["Action"] for s in policy["Statement"]]
    assert not any("ecr:" in str(a) for a in actions)
    assert "ssm:GetParameters" in actions


def test_spot_never_carries_the_first_task() -> None:
    assert capacity_strategy(False) == [("FARGATE", 1, 1)]
    strategy = capacity_strategy(True)
    assert strategy[0] == ("FARGATE", 1, 1)
    assert ("FARGATE_SPOT", 0, 3) in strategy
