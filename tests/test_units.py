"""The ECS units compose: a web service, a worker without a load balancer and a one-off task
(migrations) built from the same Cluster / FargateTask / Service units, in a test program."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.aws.cluster import Cluster, ClusterArgs
from components.aws.service import LoadBalancerAttachment, Service, ServiceArgs
from components.aws.task import FargateTask, FargateTaskArgs
from plan.mocks import ACCOUNT, REGION
from tests.harness import COMPONENT_TAGS as TAGS
from tests.harness import Registered, run_components

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/elixir-app@sha256:" + "a" * 64
REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/elixir-app"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:runtime-AbCdEf"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/12345678-1234-1234-1234-123456789012"
TARGET_GROUP = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/app/0123456789abcdef"


def task_args(**overrides: Any) -> FargateTaskArgs:
    values: dict[str, Any] = {
        "image_ref": IMAGE,
        "repository_arn": REPOSITORY_ARN,
        "container_port": 4000,
        "cpu": 256,
        "memory": 512,
        "cpu_architecture": "X86_64",
        "stop_timeout_seconds": 45,
        "vpc_id": "vpc-0abc1234",
        "log_retention_days": 7,
        "environment": {"PORT": "4000", "PHX_HOST": "app.example.com"},
        "secrets": {"SECRET_KEY_BASE": pulumi.Output.from_input(f"{SECRET}:SECRET_KEY_BASE::")},
        "tags": TAGS,
    }
    return FargateTaskArgs(**{**values, **overrides})


def service_args(cluster: Cluster, task: FargateTask, **overrides: Any) -> ServiceArgs:
    values: dict[str, Any] = {
        "cluster_arn": cluster.cluster_arn,
        "cluster_name": cluster.cluster_name,
        "task_definition_arn": task.task_definition_arn,
        "subnet_ids": ["subnet-0aaa1111", "subnet-0bbb2222"],
        "security_group_ids": [task.security_group_id],
        "assign_public_ip": False,
        "desired_count": 1,
        "min_count": 1,
        "max_count": 2,
        "cpu_target_percent": 60,
        "tags": TAGS,
    }
    return ServiceArgs(**{**values, **overrides})


def build_three_workloads() -> Registered:
    def program() -> list[pulumi.Output[Any]]:
        cluster = Cluster("app", ClusterArgs(tags=TAGS))
        web = FargateTask("app", task_args())
        worker = FargateTask("app-worker", task_args(command=["/app/bin/worker"]))
        migrate = FargateTask("app-migrate", task_args(command=["/app/bin/migrate"]))
        Service(
            "app",
            service_args(
                cluster,
                web,
                load_balancer=LoadBalancerAttachment(
                    target_group_arn=TARGET_GROUP,
                    container_port=4000,
                    health_check_grace_period_seconds=60,
                    requests_per_target=1000,
                    request_count_label="app/lb/1/targetgroup/tg/2",
                ),
            ),
        )
        Service("app-worker", service_args(cluster, worker))
        return [migrate.task_definition_arn, cluster.cluster_arn]

    return run_components(program)


def test_worker_and_one_off_task_get_the_web_tasks_image_roles_and_log_wiring() -> None:
    run = build_three_workloads()
    tasks = {
        name: run.under("elixir-devops:aws:FargateTask", name)
        for name in ("app", "app-worker", "app-migrate")
    }
    for name, task in tasks.items():
        definition = task.one("aws:ecs/taskDefinition:TaskDefinition")
        (app, *_) = json.loads(definition.inputs["containerDefinitions"])
        log_group = task.one("aws:cloudwatch/logGroup:LogGroup")
        roles = {r.name: r for r in task.of_type("aws:iam/role:Role")}
        assert app["image"] == IMAGE, name
        assert app["logConfiguration"]["options"]["awslogs-group"] == log_group.outputs["name"]
        assert definition.inputs["executionRoleArn"] == roles[f"{name}-execution"].outputs["arn"]
        assert definition.inputs["taskRoleArn"] == roles[f"{name}-task"].outputs["arn"]
        policy = json.loads(
            next(
                r.inputs["policy"]
                for r in task.of_type("aws:iam/rolePolicy:RolePolicy")
                if r.name == f"{name}-execution"
            )
        )
        resources_granted = {str(s["Resource"]) for s in policy["Statement"]}
        assert REPOSITORY_ARN in resources_granted, name
        assert f"{log_group.outputs['arn']}:log-stream:*" in resources_granted, name
        assert str([SECRET]) in resources_granted, name
    commands = {
        name: json.loads(
            task.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"]
        )[0].get("command")
        for name, task in tasks.items()
    }
    assert commands == {
        "app": None,
        "app-worker": ["/app/bin/worker"],
        "app-migrate": ["/app/bin/migrate"],
    }


def test_a_worker_service_has_no_load_balancer_and_scales_on_cpu_only() -> None:
    run = build_three_workloads()
    web = run.under("elixir-devops:aws:Service", "app")
    worker = run.under("elixir-devops:aws:Service", "app-worker")
    web_service = web.one("aws:ecs/service:Service")
    worker_service = worker.one("aws:ecs/service:Service")
    assert web_service.inputs["loadBalancers"][0]["containerPort"] == 4000
    assert web_service.inputs["healthCheckGracePeriodSeconds"] == 60
    assert "loadBalancers" not in worker_service.inputs
    assert "healthCheckGracePeriodSeconds" not in worker_service.inputs
    assert worker_service.inputs["cluster"] == web_service.inputs["cluster"]
    policies = sorted(r.name for r in worker.of_type("aws:appautoscaling/policy:Policy"))
    assert policies == ["app-worker-scale-cpu"]
    # The one-off task is a definition only: nothing keeps it running.
    assert len(run.of_type("aws:ecs/service:Service")) == 2


def test_every_service_uses_the_cluster_only_after_its_capacity_providers_exist() -> None:
    run = build_three_workloads()
    capacity = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    for service in run.of_type("aws:ecs/service:Service"):
        assert capacity.urn in service.dependencies, service.urn


def test_toggling_spot_updates_the_service_in_place() -> None:
    """The provider replaces a service whose capacity strategy changes unless
    force_new_deployment is set: a second service on the same target group."""
    run = build_three_workloads()
    for service in run.of_type("aws:ecs/service:Service"):
        assert service.inputs["forceNewDeployment"] is True, service.urn


def test_no_task_definition_exists_before_its_execution_role_policy() -> None:
    run = build_three_workloads()
    for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        family = definition.inputs["family"]
        (policy,) = [
            r
            for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name == f"{family}-execution"
        ]
        assert policy.urn in definition.dependencies, definition.urn


def test_secrets_under_customer_managed_keys_can_be_decrypted_only_through_the_services() -> None:
    run = run_components(
        lambda: [FargateTask("kms", task_args(secret_kms_key_arns=[KMS_KEY])).task_definition_arn]
    )
    policy = json.loads(
        next(
            r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "kms-execution"
        ).inputs["policy"]
    )
    (decrypt,) = [s for s in policy["Statement"] if s.get("Sid") == "DecryptAppSecrets"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == [KMS_KEY]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"secretsmanager.{REGION}.amazonaws.com",
        f"ssm.{REGION}.amazonaws.com",
    ]


def test_ecs_exec_can_log_its_sessions_to_the_tasks_log_group() -> None:
    run = run_components(
        lambda: [FargateTask("ex", task_args(enable_execute_command=True)).task_definition_arn]
    )
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup")
    policy = json.loads(
        next(r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "ex-task").inputs[
            "policy"
        ]
    )
    by_action: dict[str, Any] = {}
    for statement in policy["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            by_action[action] = statement["Resource"]
    for action in ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"):
        assert by_action[action] == f"{log_group.outputs['arn']}:*", action
    assert by_action["logs:DescribeLogGroups"] == "*"
    assert by_action["ssmmessages:OpenDataChannel"] == "*"


def test_every_workload_runs_with_a_read_only_root_and_a_tmp_volume() -> None:
    run = build_three_workloads()
    for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        assert definition.inputs["volumes"] == [{"name": "tmp"}], definition.urn
        for container in json.loads(definition.inputs["containerDefinitions"]):
            assert container["readonlyRootFilesystem"] is True, container["name"]
            assert container["mountPoints"] == [
                {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
            ]
