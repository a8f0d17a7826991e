"""The whole program, under mocks, for every committed AWS stack: what users rely on."""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import re
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from parliament import analyze_policy_string

from tests.conftest import AWS_STACKS, stack_run
from tests.harness import (
    PROJECT_DIR,
    Registered,
    run_stack,
    stack_file_config,
    unit,
    web_service,
    web_task,
)

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SERVICE = "aws:ecs/service:Service"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
DIGEST_REF = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[\w./-]+@sha256:[0-9a-f]{64}$"
)


def containers(run: Registered) -> list[dict[str, Any]]:
    return json.loads(web_task(run).one(TASK_DEFINITION).inputs["containerDefinitions"])


def app_container(run: Registered) -> dict[str, Any]:
    return next(c for c in containers(run) if c["name"] == "app")


def task_security_group(run: Registered) -> Any:
    return web_task(run).one(SECURITY_GROUP)


def load_balancer_security_group(run: Registered) -> Any:
    return unit(run, "elixir-devops:aws:LoadBalancer").one(SECURITY_GROUP)


def execution_policy(run: Registered) -> Any:
    """The inline policy of the web task's execution role."""
    task = web_task(run)
    execution = next(r for r in task.of_type("aws:iam/role:Role") if "execution" in r.name)
    return next(
        p for p in task.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == execution.id
    )


def runtime_secret(run: Registered) -> Any:
    """The secret holding the program's own runtime secrets (SECRET_KEY_BASE, ...)."""
    return unit(run, "elixir-devops:aws:RuntimeSecrets").one("aws:secretsmanager/secret:Secret")


def database_url_secret(run: Registered) -> Any:
    """The secret holding the database unit's DATABASE_URL."""
    return unit(run, "elixir-devops:aws:Database").one("aws:secretsmanager/secret:Secret")


def test_every_stack_file_is_tested() -> None:
    assert {"dev", "staging", "prod"} <= set(AWS_STACKS)


def test_outputs_tell_where_the_app_answers_and_how_to_operate_it(aws_run: Registered) -> None:
    outputs = aws_run.outputs
    assert outputs["url"].startswith("http://") and outputs["url"].endswith(".elb.amazonaws.com")
    assert DIGEST_REF.match(outputs["image"]), outputs["image"]
    assert outputs["image"].startswith(outputs["registryUrl"] + "@")
    cluster = aws_run.one("aws:ecs/cluster:Cluster")
    assert outputs["clusterName"] == cluster.outputs["name"]
    assert outputs["serviceName"] == web_service(aws_run).one(SERVICE).outputs["name"]
    assert (
        outputs["logGroupName"]
        == app_container(aws_run)["logConfiguration"]["options"]["awslogs-group"]
    )


def test_port_4000_end_to_end(aws_run: Registered) -> None:
    app = app_container(aws_run)
    assert [m["containerPort"] for m in app["portMappings"]] == [4000]
    assert aws_run.one(TARGET_GROUP).inputs["port"] == 4000
    service = web_service(aws_run).one(SERVICE)
    assert [lb["containerPort"] for lb in service.inputs["loadBalancers"]] == [4000]
    task_sg = task_security_group(aws_run)
    rules = [r for r in aws_run.of_type(INGRESS) if r.inputs["securityGroupId"] == task_sg.id]
    # The app port, and Erlang distribution between the tasks (clustering).
    assert sorted((r.inputs["fromPort"], r.inputs["toPort"]) for r in rules) == [
        (4000, 4000),
        (4370, 4370),
    ]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env["PORT"] == "4000"


def test_task_security_group_admits_only_the_load_balancer_and_its_own_nodes(
    aws_run: Registered,
) -> None:
    task_sg = task_security_group(aws_run)
    alb_sg = load_balancer_security_group(aws_run)
    rules = [r for r in aws_run.of_type(INGRESS) if r.inputs["securityGroupId"] == task_sg.id]
    assert rules, "the task security group has no ingress at all"
    sources = {r.inputs["fromPort"]: r.inputs.get("referencedSecurityGroupId") for r in rules}
    # The app port from the load balancer; the distribution port from the tasks themselves.
    assert sources == {4000: alb_sg.id, 4370: task_sg.id}
    for rule in rules:
        assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs
    assert not task_sg.inputs.get("ingress"), "inline rules would fight the separate rules"


def test_health_check_probes_the_health_path_fast(aws_run: Registered) -> None:
    health = aws_run.one(TARGET_GROUP).inputs["healthCheck"]
    assert health["path"] == "/health"
    assert health["matcher"] == "200"
    assert health["interval"] * health["healthyThreshold"] <= 30
    target_group = aws_run.one(TARGET_GROUP).inputs
    assert target_group["targetType"] == "ip"
    assert "namePrefix" in target_group and "name" not in target_group


def test_container_outlives_the_load_balancer_draining(aws_run: Registered) -> None:
    delay = aws_run.one(TARGET_GROUP).inputs["deregistrationDelay"]
    app = app_container(aws_run)
    assert int(delay) < app["stopTimeout"] <= 120
    drain_ms = int({e["name"]: e["value"] for e in app["environment"]}["SHUTDOWN_DRAIN_MS"])
    assert int(delay) * 1000 < drain_ms < app["stopTimeout"] * 1000


def test_image_is_pinned_by_digest(aws_run: Registered) -> None:
    assert DIGEST_REF.match(app_container(aws_run)["image"])


def test_deploys_roll_back_and_keep_full_capacity(aws_run: Registered) -> None:
    service = web_service(aws_run).one(SERVICE).inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["deploymentMinimumHealthyPercent"] == 100
    assert service["deploymentMaximumPercent"] == 200
    assert service["waitForSteadyState"] is True
    assert service["healthCheckGracePeriodSeconds"] >= 30
    assert "desiredCount" in web_service(aws_run).one(SERVICE).ignore_changes


def test_environment_is_sorted_without_nulls_and_secrets_are_not_in_it(
    aws_run: Registered,
) -> None:
    app = app_container(aws_run)
    names = [e["name"] for e in app["environment"]]
    assert names == sorted(names)
    assert all(isinstance(e["value"], str) for e in app["environment"])
    assert {"PHX_SERVER", "PHX_HOST", "PORT"} <= set(names)
    secrets = {s["name"]: s["valueFrom"] for s in app["secrets"]}
    assert set(secrets) >= {"SECRET_KEY_BASE", "RELEASE_COOKIE"}
    assert not {"SECRET_KEY_BASE", "RELEASE_COOKIE"} & set(names)
    secret_arn = runtime_secret(aws_run).outputs["arn"]
    assert secrets["SECRET_KEY_BASE"] == f"{secret_arn}:SECRET_KEY_BASE::"
    # The database's URL is a secret too, never a plain variable.
    url_arn = database_url_secret(aws_run).outputs["arn"]
    assert secrets["DATABASE_URL"] == f"{url_arn}:DATABASE_URL::"
    assert "DATABASE_URL" not in names


def test_generated_secrets_are_never_outputs(aws_run: Registered) -> None:
    generated = [
        r.outputs["result"] for r in aws_run.of_type("random:index/randomPassword:RandomPassword")
    ]
    assert [len(g) for g in generated] and min(len(g) for g in generated) >= 32
    # Only inputs the program marks secret (encrypted in the state) may carry them: the
    # secret's value and the database's master password.
    dumped = json.dumps(aws_run.outputs) + json.dumps(
        [
            {k: v for k, v in r.inputs.items() if k not in r.secret_inputs}
            for r in aws_run.resources
            if "random" not in r.type
        ]
    )
    for value in generated:
        assert value not in dumped


def test_container_definitions_match_the_ecs_api_model(aws_run: Registered) -> None:
    task = web_task(aws_run).one(TASK_DEFINITION).inputs
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    request = {
        "family": task["family"],
        "containerDefinitions": containers(aws_run),
        "cpu": task["cpu"],
        "memory": task["memory"],
        "networkMode": task["networkMode"],
        "requiresCompatibilities": task["requiresCompatibilities"],
        "runtimePlatform": {
            "cpuArchitecture": task["runtimePlatform"]["cpuArchitecture"],
            "operatingSystemFamily": task["runtimePlatform"]["operatingSystemFamily"],
        },
        "executionRoleArn": task["executionRoleArn"],
        "taskRoleArn": task["taskRoleArn"],
    }
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_execution_role_is_scoped_to_this_repository_log_group_and_secrets(
    aws_run: Registered,
) -> None:
    policy = execution_policy(aws_run)
    document = json.loads(policy.inputs["policy"])
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    repository = aws_run.one("aws:ecr/repository:Repository").outputs["arn"]
    log_group = web_task(aws_run).one("aws:cloudwatch/logGroup:LogGroup").outputs["arn"]
    secrets = sorted(
        s.outputs["arn"] for s in (runtime_secret(aws_run), database_url_secret(aws_run))
    )
    assert by_sid["PullAppImage"]["Resource"] == repository
    assert by_sid["WriteAppLogs"]["Resource"] == f"{log_group}:log-stream:*"
    assert by_sid["ReadAppSecrets"]["Resource"] == secrets
    wildcard = [s for s in document["Statement"] if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]
    findings = analyze_policy_string(policy.inputs["policy"]).findings
    assert not findings, [(f.issue, f.detail) for f in findings]


def test_roles_trust_only_ecs_tasks_of_this_account(aws_run: Registered) -> None:
    """The task's roles (the flow-log role's trust is tested with the flow logs)."""
    for role in web_task(aws_run).of_type("aws:iam/role:Role"):
        trust = json.loads(role.inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_registry_scans_expires_and_orders_its_lifecycle_rules(aws_run: Registered) -> None:
    repository = aws_run.one("aws:ecr/repository:Repository").inputs
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = json.loads(aws_run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])
    priorities = [rule["rulePriority"] for rule in policy["rules"]]
    assert priorities == sorted(priorities) and len(set(priorities)) == len(priorities)
    assert policy["rules"][0]["selection"]["tagStatus"] == "untagged"


def test_autoscaling_tracks_cpu_and_requests_between_the_bounds(aws_run: Registered) -> None:
    web = web_service(aws_run)
    target = web.one("aws:appautoscaling/target:Target").inputs
    service = web.one(SERVICE).inputs
    assert target["minCapacity"] <= service["desiredCount"] <= target["maxCapacity"]
    metrics = sorted(
        p.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]
        for p in web.of_type("aws:appautoscaling/policy:Policy")
    )
    assert metrics == ["ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"]


def test_load_balancer_is_public_and_tasks_follow_the_nat_setting(aws_run: Registered) -> None:
    subnets = {s.id: s.inputs["tags"]["tier"] for s in aws_run.of_type(SUBNET)}
    load_balancer = aws_run.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert {subnets[s] for s in load_balancer["subnets"]} == {"public"}
    network = web_service(aws_run).one(SERVICE).inputs["networkConfiguration"]
    no_nat = not aws_run.of_type("aws:ec2/natGateway:NatGateway")
    assert {subnets[s] for s in network["subnets"]} == {"public" if no_nat else "private"}
    assert network["assignPublicIp"] is no_nat
    zones = {s.inputs["availabilityZone"] for s in aws_run.of_type(SUBNET)}
    assert len(zones) >= 2


def test_prod_runs_redundant_private_tasks_and_keeps_its_data() -> None:
    prod = stack_run("prod")
    service = web_service(prod).one(SERVICE).inputs
    assert service["desiredCount"] >= 2
    subnets = {s.id: s.inputs["tags"]["tier"] for s in prod.of_type(SUBNET)}
    assert {subnets[s] for s in service["networkConfiguration"]["subnets"]} == {"private"}
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == len(
        {s.inputs["availabilityZone"] for s in prod.of_type(SUBNET)}
    )
    assert prod.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"]
    assert (
        prod.one("aws:ecr/repository:Repository")
        .inputs["imageTagMutability"]
        .startswith("IMMUTABLE")
    )
    for kept in (
        prod.one("aws:ecr/repository:Repository"),
        web_task(prod).one("aws:cloudwatch/logGroup:LogGroup"),
    ):
        assert kept.retain_on_delete and kept.protect, kept.urn


def test_dev_is_cheap() -> None:
    dev = stack_run("dev")
    assert not dev.of_type("aws:ec2/natGateway:NatGateway")
    strategies = web_service(dev).one(SERVICE).inputs["capacityProviderStrategies"]
    assert "FARGATE_SPOT" in {s["capacityProvider"] for s in strategies}
    assert dev.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True
    assert not web_task(dev).one("aws:cloudwatch/logGroup:LogGroup").retain_on_delete


def _taggable(token: str) -> bool:
    module_path, type_name = token.split(":")[1].split("/")[0], token.split(":")[2]
    package = importlib.import_module(f"pulumi_{token.split(':')[0]}")
    attribute = f"{module_path}_" if keyword.iskeyword(module_path) else module_path
    module = getattr(package, attribute) if module_path != "index" else package
    cls = getattr(module, type_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_taggable_resource_carries_the_stack_tags(aws_run: Registered) -> None:
    checked = 0
    for resource in aws_run.custom():
        if not resource.type.startswith("aws:") or not _taggable(resource.type):
            continue
        tags = resource.inputs.get("tags") or {}
        assert tags.get("managed-by") == "pulumi" and tags.get("stack"), resource.urn
        checked += 1
    assert checked >= 15


def test_every_resource_belongs_to_a_component(aws_run: Registered) -> None:
    components = {r.urn for r in aws_run.resources if r.type.startswith("elixir-devops:")}
    for resource in aws_run.custom():
        ancestor = resource
        while ancestor.parent and ancestor.urn not in components:
            ancestor = aws_run.by_urn(ancestor.parent)
        assert ancestor.urn in components, resource.urn


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_https_with_redirect_when_a_certificate_is_configured(stack: str) -> None:
    certificate = (
        "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    )
    run = run_stack(stack, {"certificateArn": certificate, "domain": "app.example.com"})
    assert run.error is None, run.error
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type("aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["certificateArn"] == certificate
    assert listeners[443]["defaultActions"][0]["type"] == "forward"
    redirect = listeners[80]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert run.outputs["url"] == "https://app.example.com"
    env = {e["name"]: e["value"] for e in app_container(run)["environment"]}
    assert env["PHX_HOST"] == "app.example.com"
    if stack != "dev":
        return
    alb_ports = sorted(
        r.inputs["fromPort"]
        for r in run.of_type(INGRESS)
        if r.inputs["securityGroupId"] == load_balancer_security_group(run).id
    )
    assert alb_ports == [80, 443]


def test_bad_configuration_stops_before_any_resource() -> None:
    run = run_stack("dev", {"cpu": 300, "healthCheckPath": "health"})
    assert run.error is not None
    assert "elixir-devops:cpu = 300" in run.error
    assert "elixir-devops:healthCheckPath = 'health'" in run.error
    assert run.custom() == [], [r.urn for r in run.custom()]


def test_prebuilt_image_skips_the_build_and_is_deployed_as_is() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shared/app@sha256:" + "b" * 64
    run = run_stack("staging", {"prebuiltImage": image})
    assert run.error is None, run.error
    assert not run.of_type("docker:index/image:Image")
    assert app_container(run)["image"] == image
    policy = json.loads(execution_policy(run).inputs["policy"])
    pull = next(s for s in policy["Statement"] if s["Sid"] == "PullAppImage")
    assert pull["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/shared/app"


DEV_ACCOUNT = "210987654321"  # another account than the mocks' (123456789012, staging's here)
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"


def test_staging_runs_the_digest_dev_built_in_another_account_and_may_pull_only_that() -> None:
    repository = "elixir-app-dev-repository-1a2b3c4"
    image = f"{DEV_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{repository}@sha256:" + "d" * 64
    run = run_stack("staging", {"prebuiltImage": image})
    assert run.error is None, run.error
    assert not run.of_type("docker:index/image:Image")
    assert app_container(run)["image"] == image
    assert run.outputs["image"] == image
    policy = json.loads(execution_policy(run).inputs["policy"])
    pulls = [s for s in policy["Statement"] if "ecr:BatchGetImage" in s["Action"]]
    assert [s["Resource"] for s in pulls] == [
        f"arn:aws:ecr:eu-west-1:{DEV_ACCOUNT}:repository/{repository}"
    ]
    # Staging's own (unused) repository admits no other account.
    assert run.of_type(REPOSITORY_POLICY) == []


def test_committed_stacks_admit_no_other_account_to_their_registry(aws_run: Registered) -> None:
    assert aws_run.of_type(REPOSITORY_POLICY) == []


def test_dev_lets_the_promoting_accounts_pull_from_its_repository() -> None:
    accounts = ["345678901234", "456789012345"]
    run = run_stack("dev", {"registryPullAccountIds": accounts})
    assert run.error is None, run.error
    repository = run.one("aws:ecr/repository:Repository")
    policy = run.one(REPOSITORY_POLICY)
    assert policy.inputs["repository"] == repository.outputs["name"]
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]}
    assert sorted(statement["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    # What SetRepositoryPolicy accepts (botocore's model of the ECR API).
    shape = (
        botocore.session.get_session()
        .get_service_model("ecr")
        .operation_model("SetRepositoryPolicy")
        .input_shape
    )
    request = {"repositoryName": policy.inputs["repository"], "policyText": policy.inputs["policy"]}
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_a_bad_pull_account_stops_the_program_before_any_resource() -> None:
    run = run_stack("dev", {"registryPullAccountIds": ["21098765432"]})
    assert run.error is not None
    assert "elixir-devops:registryPullAccountIds = '21098765432'" in run.error
    assert run.custom() == [], [r.urn for r in run.custom()]


def test_stack_files_set_a_region() -> None:
    for stack in AWS_STACKS:
        assert stack_file_config(stack).get("aws:region"), stack


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_iam_role_names_fall_inside_what_the_ci_deploy_role_may_manage(stack: str) -> None:
    """bootstrap/ lets the deploy role of stack S manage only roles named <prefix>-S-*."""
    bootstrap = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.yaml").read_text())
    prefix = bootstrap["config"]["resourcePrefix"]["default"]
    roles = stack_run(stack).of_type("aws:iam/role:Role")
    assert roles
    for role in roles:
        assert role.outputs["name"].startswith(f"{prefix}-{stack}-"), role.outputs["name"]
