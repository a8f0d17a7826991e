"""Monitoring on AWS: alarms on this stack's resources, notification hooks, deployment rollback,
the collector sidecar and its AMP permission, the dashboard, and monitoring settings.

Whole-program runs use the committed stack files (``run_stack``, one subprocess each) with a stub
Dockerfile, because settings require the build context to exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from parliament import analyze_policy_string

import settings
from components.aws import monitoring as mon
from components.aws.alarm_topic import key_policy, subscriptions, topic_policy
from components.aws.prometheus import (
    COLLECTOR_CONFIG_ENV,
    COLLECTOR_NAME,
    collector_container,
    remote_write_url,
    scrape_target,
)
from components.aws.task import container_definitions
from plan.mocks import ACCOUNT, REGION, Recorded
from tests.conftest import AWS_STACKS, stack_run
from tests.harness import (
    Registered,
    configure,
    run_stack,
    stack_file_config,
    unit,
    web_service,
    web_task,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MONITORING = "elixir-devops:aws:Monitoring"
DEPLOYMENT_ALARMS = "elixir-devops:aws:DeploymentAlarms"
DATABASE = "elixir-devops:aws:Database"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
WORKSPACE = "aws:amp/workspace:Workspace"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
CLUSTER = "aws:ecs/cluster:Cluster"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

EMAILS = ["oncall@example.com", "team+alerts@example.org"]
WEBHOOKS = ["https://events.pagerduty.com/integration/abc123/enqueue"]
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:alarm-inbox"
LOG_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SQS_ALARM = "arn:aws:sqs:eu-west-1:123456789012:alarms"


@pytest.fixture(scope="module")
def prod() -> Registered:
    """prod as committed (managed Prometheus on) plus every kind of notification endpoint."""
    result = run_stack(
        "prod",
        {
            "alarmEmails": EMAILS,
            "alarmWebhooks": WEBHOOKS,
            "alarmSqsQueueArn": QUEUE,
            "logKmsKeyArn": LOG_KEY,
        },
    )
    assert result.error is None, result.error
    return result


def _alarms(run: Registered, component: str = "") -> dict[str, Recorded]:
    """Alarms by role (the resource name without the stack prefix): the service's (those of
    the Monitoring and DeploymentAlarms units), or those of the stack's unit ``component``."""
    owners = [component] if component else [MONITORING, DEPLOYMENT_ALARMS]
    alarms = [alarm for owner in owners for alarm in unit(run, owner).of_type(ALARM)]
    return {r.name.removeprefix(f"{run.prefix}-"): r for r in alarms}


def _containers(run: Registered) -> list[dict[str, Any]]:
    return json.loads(web_task(run).one(TASK_DEFINITION).inputs["containerDefinitions"])


def _collector(run: Registered) -> dict[str, Any]:
    found = [c for c in _containers(run) if c["name"] == COLLECTOR_NAME]
    assert len(found) == 1, [c["name"] for c in _containers(run)]
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


# -- alarms ---------------------------------------------------------------------------------


def test_alarms_watch_this_stacks_load_balancer_target_group_and_service(prod: Registered) -> None:
    lb = prod.one(LOAD_BALANCER).outputs["arnSuffix"]
    tg = prod.one(TARGET_GROUP).outputs["arnSuffix"]
    cluster = prod.one(CLUSTER).outputs["name"]
    service = web_service(prod).one(SERVICE).outputs["name"]
    alb_dims = {"LoadBalancer": lb, "TargetGroup": tg}
    ecs_dims = {"ClusterName": cluster, "ServiceName": service}
    alarms = _alarms(prod)
    assert set(alarms) == {
        "target-5xx",
        "unhealthy-hosts",
        "latency-p99",
        "cpu-high",
        "memory-high",
        "running-tasks-low",
    }

    expected = {
        "unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount", alb_dims),
        "latency-p99": ("AWS/ApplicationELB", "TargetResponseTime", alb_dims),
        "cpu-high": ("AWS/ECS", "CPUUtilization", ecs_dims),
        "memory-high": ("AWS/ECS", "MemoryUtilization", ecs_dims),
        "running-tasks-low": ("ECS/ContainerInsights", "RunningTaskCount", ecs_dims),
    }
    for role, (namespace, metric, dims) in expected.items():
        inputs = alarms[role].inputs
        assert (inputs["namespace"], inputs["metricName"], inputs["dimensions"]) == (
            namespace,
            metric,
            dims,
        ), alarms[role].urn

    # The 5XX alarm is a rate: both metrics on this load balancer and target group.
    queries = {q["id"]: q for q in alarms["target-5xx"].inputs["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"]["metricName"] == "RequestCount"
    for query_id in ("errors", "requests"):
        assert queries[query_id]["metric"]["dimensions"] == alb_dims
        assert queries[query_id]["metric"]["namespace"] == "AWS/ApplicationELB"
    assert [q["id"] for q in queries.values() if q.get("returnData")] == ["rate"]
    assert "errors" in queries["rate"]["expression"]
    assert "requests" in queries["rate"]["expression"]


def test_alarm_thresholds_come_from_the_stack_file(prod: Registered) -> None:
    config = stack_file_config("prod")
    alarms = _alarms(prod)
    assert alarms["cpu-high"].inputs["threshold"] == config["elixir-devops:alarmCpuPercent"]
    assert alarms["memory-high"].inputs["threshold"] == config["elixir-devops:alarmMemoryPercent"]
    assert alarms["target-5xx"].inputs["threshold"] == config["elixir-devops:alarmTarget5xxPercent"]
    latency = alarms["latency-p99"].inputs
    assert latency["extendedStatistic"] == "p99"
    assert latency["threshold"] == pytest.approx(config["elixir-devops:alarmLatencyMs"] / 1000)
    running = alarms["running-tasks-low"].inputs
    assert running["comparisonOperator"] == "LessThanThreshold"
    assert running["threshold"] == config["elixir-devops:minCount"]


def test_every_alarm_follows_the_configured_period_and_evaluation_periods() -> None:
    run = run_stack(
        "dev", {"alarmPeriodSeconds": 300, "alarmEvaluationPeriods": 4, "alarmUnhealthyHosts": 2}
    )
    assert run.error is None, run.error
    alarms = _alarms(run)
    assert len(alarms) >= 5
    for alarm in alarms.values():
        inputs = alarm.inputs
        assert (inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (4, 4), alarm.urn
        if "metricQueries" in inputs:
            periods = {q["metric"]["period"] for q in inputs["metricQueries"] if "metric" in q}
        else:
            periods = {inputs["period"]}
        assert periods == {300}, alarm.urn
    assert alarms["unhealthy-hosts"].inputs["threshold"] == 2


def test_the_database_alarms_on_cpu_storage_memory_and_connections_near_its_limit(
    prod: Registered,
) -> None:
    alarms = _alarms(prod, DATABASE)
    instance = prod.one("aws:rds/instance:Instance")
    assert set(alarms) == {"db-cpu", "db-storage", "db-memory", "db-connections"}
    for alarm in alarms.values():
        assert alarm.inputs["namespace"] == "AWS/RDS"
        assert alarm.inputs["dimensions"] == {
            "DBInstanceIdentifier": instance.outputs["identifier"]
        }
    # prod: db.m7g.large (8 GiB, about 766 connections), 20 GiB at first.
    assert alarms["db-connections"].inputs["threshold"] == int(766 * 0.8)
    assert alarms["db-storage"].inputs["comparisonOperator"] == "LessThanThreshold"
    assert alarms["db-storage"].inputs["threshold"] == int(20 * 1024**3 * 0.05)
    assert alarms["db-memory"].inputs["threshold"] == int(8 * 1024**3 * 0.05)


def test_missing_data_is_treated_deliberately(prod: Registered) -> None:
    treat = {role: a.inputs["treatMissingData"] for role, a in _alarms(prod).items()}
    # Silence from Container Insights means no tasks: that must alarm. Elsewhere no datapoint
    # means no traffic or no tasks, which the running-task alarm reports.
    assert treat.pop("running-tasks-low") == "breaching"
    assert set(treat.values()) == {"notBreaching"}


def test_every_alarm_notifies_the_stacks_topic_on_alarm_and_ok(prod: Registered) -> None:
    topic_arn = prod.one(TOPIC).outputs["arn"]
    assert prod.outputs["alarmTopicArn"] == topic_arn
    for alarm in prod.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.urn
        assert alarm.inputs["okActions"] == [topic_arn], alarm.urn
        assert alarm.inputs["actionsEnabled"] is True, alarm.urn


def test_subscriptions_match_config(prod: Registered) -> None:
    topic_arn = prod.one(TOPIC).outputs["arn"]
    found = sorted(
        (s.inputs["protocol"], s.inputs["endpoint"], s.inputs["topic"])
        for s in prod.of_type(SUBSCRIPTION)
    )
    expected = sorted(
        [("email", e, topic_arn) for e in EMAILS]
        + [("https", w, topic_arn) for w in WEBHOOKS]
        + [("sqs", QUEUE, topic_arn)]
    )
    assert found == expected
    # https endpoints must confirm themselves, or the update fails instead of alarms vanishing.
    for subscription in prod.of_type(SUBSCRIPTION):
        auto_confirms = subscription.inputs.get("endpointAutoConfirms", False)
        assert auto_confirms is (subscription.inputs["protocol"] == "https"), subscription.urn


def test_collector_health_check_uses_the_form_ecs_requires(prod: Registered) -> None:
    collector = next(c for c in _containers(prod) if c["name"] == COLLECTOR_NAME)
    assert collector["healthCheck"]["command"][0] in ("CMD", "CMD-SHELL")


def test_topic_is_encrypted_with_a_key_cloudwatch_can_use_and_only_alarms_publish(
    prod: Registered,
) -> None:
    topic = prod.one(TOPIC)
    key = unit(prod, "elixir-devops:aws:AlarmTopic").one("aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    key_statements = json.loads(key.inputs["policy"])["Statement"]
    cloudwatch = [
        s for s in key_statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1
    assert sorted(cloudwatch[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]

    policy = json.loads(prod.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    # prod publishers: CloudWatch alarms, EventBridge (deploy events), managed Prometheus.
    by_service = {s["Principal"]["Service"]: s for s in policy["Statement"]}
    assert set(by_service) == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
        "aps.amazonaws.com",
    }
    sources = {
        "cloudwatch.amazonaws.com": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*",
        "events.amazonaws.com": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*",
        "aps.amazonaws.com": f"arn:aws:aps:{REGION}:{ACCOUNT}:workspace/*",
    }
    for service, statement in by_service.items():
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == topic.outputs["arn"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": sources[service]}
    # Each publisher may use the topic's key, and only to publish.
    for service in by_service:
        (grant,) = [s for s in key_statements if s["Principal"] == {"Service": service}]
        assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_deployments_roll_back_on_the_5xx_and_unhealthy_host_alarms(prod: Registered) -> None:
    alarms = _alarms(prod)
    service = web_service(prod).one(SERVICE)
    deployment = service.inputs["alarms"]
    assert deployment["enable"] is True
    assert deployment["rollback"] is True
    assert sorted(deployment["alarmNames"]) == sorted(
        alarms[role].outputs["name"] for role in ("target-5xx", "unhealthy-hosts")
    )
    # The service is created after the alarms it names (they exist when ECS reads them).
    for role in ("target-5xx", "unhealthy-hosts"):
        assert alarms[role].urn in service.dependencies, service.dependencies


# -- collector sidecar and AMP -------------------------------------------------------------


def test_collector_sidecar_scrapes_the_app_and_writes_to_this_workspace(prod: Registered) -> None:
    workspace = prod.one(WORKSPACE)
    endpoint = workspace.outputs["prometheusEndpoint"]
    assert endpoint.startswith("https://aps-workspaces.")
    expected_url = endpoint + "api/v1/remote_write"
    assert prod.outputs["prometheusRemoteWriteUrl"] == expected_url
    assert prod.outputs["prometheusWorkspaceId"] == workspace.id

    collector = _collector(prod)
    assert collector["essential"] is False
    assert collector["image"] == configure().monitoring.collector_image
    assert re.fullmatch(settings.common.PINNED_IMAGE, collector["image"])
    config = yaml.safe_load(_env(collector)[COLLECTOR_CONFIG_ENV])
    exporter = config["exporters"]["prometheusremotewrite"]
    assert exporter["endpoint"] == expected_url
    assert config["extensions"]["sigv4auth"]["region"] == REGION
    (job,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    port = int(stack_file_config("prod").get("elixir-devops:containerPort", 4000))
    assert job["static_configs"][0]["targets"] == [f"localhost:{port}"]
    assert job["metrics_path"] == "/metrics"
    interval = stack_file_config("prod")["elixir-devops:metricsScrapeIntervalSeconds"]
    assert job["scrape_interval"] == f"{interval}s"
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["prometheusremotewrite"]
    # Its logs land in the app's log group under its own prefix.
    options = collector["logConfiguration"]["options"]
    assert options["awslogs-group"] == web_task(prod).one(LOG_GROUP).outputs["name"]
    assert options["awslogs-stream-prefix"] == COLLECTOR_NAME


def test_app_stays_the_only_essential_container(prod: Registered) -> None:
    essential = [c["name"] for c in _containers(prod) if c.get("essential", True)]
    assert essential == ["app"]


def test_container_definitions_are_valid_for_ecs(prod: Registered) -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(
        {"family": "elixir-app-prod", "containerDefinitions": _containers(prod)}, shape
    )
    assert not report.has_errors(), report.generate_report()


def test_task_role_may_only_remote_write_to_this_workspace(prod: Registered) -> None:
    workspace_arn = prod.one(WORKSPACE).outputs["arn"]
    task_policy = next(p for p in prod.of_type(ROLE_POLICY) if p.name == "elixir-app-prod-task")
    document = task_policy.inputs["policy"]
    statements = json.loads(document)["Statement"]
    aps = [s for s in statements if any(str(a).startswith("aps:") for a in _actions(s))]
    assert aps == [
        {
            "Sid": "RemoteWriteAppMetrics",
            "Effect": "Allow",
            "Action": "aps:RemoteWrite",
            "Resource": workspace_arn,
        }
    ]
    findings = analyze_policy_string(document).findings
    assert not findings, [(f.issue, f.detail) for f in findings]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_parliament_flags_a_broader_remote_write_grant() -> None:
    """The lint above can fail: the same statement on "*" is reported."""
    broad = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": "*"}],
        }
    )
    assert [f.issue for f in analyze_policy_string(broad).findings] == ["RESOURCE_STAR"]


def test_alarm_topic_and_key_policies_pass_parliament() -> None:
    topic = topic_policy(f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms", ACCOUNT, "aws", REGION)
    findings = analyze_policy_string(topic).findings
    assert not findings, [(f.issue, f.detail) for f in findings]
    # In a key policy "Resource": "*" means "this key"; parliament reads every policy as an
    # identity policy, so RESOURCE_STAR is the one finding expected there, and nothing else.
    findings = analyze_policy_string(key_policy(ACCOUNT, "aws")).findings
    assert {f.issue for f in findings} <= {"RESOURCE_STAR"}, [(f.issue, f.detail) for f in findings]


# -- dashboard and log encryption ------------------------------------------------------------


def test_dashboard_shows_this_stacks_resources(prod: Registered) -> None:
    dashboard = prod.one(DASHBOARD)
    assert prod.outputs["dashboardName"] == dashboard.inputs["dashboardName"]
    body = json.loads(dashboard.inputs["dashboardBody"])
    lines = [
        line
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    ]
    metrics = {(line[0], line[1]) for line in lines}
    assert {
        ("AWS/ApplicationELB", "RequestCount"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/ApplicationELB", "HealthyHostCount"),
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
    } <= metrics
    percentiles = {line[-1]["stat"] for line in lines if line[1] == "TargetResponseTime"}
    assert percentiles == {"p95", "p99"}
    lb = prod.one(LOAD_BALANCER).outputs["arnSuffix"]
    tg = prod.one(TARGET_GROUP).outputs["arnSuffix"]
    cluster = prod.one(CLUSTER).outputs["name"]
    service = web_service(prod).one(SERVICE).outputs["name"]
    for line in lines:
        dims = dict(zip(line[2:-1:2], line[3:-1:2], strict=True))
        if line[0] == "AWS/ApplicationELB":
            assert dims == {"LoadBalancer": lb, "TargetGroup": tg}, line
        else:
            assert dims == {"ClusterName": cluster, "ServiceName": service}, line
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(
        a.outputs["arn"] for a in prod.of_type(ALARM)
    )


def test_log_group_is_encrypted_with_the_configured_key(prod: Registered) -> None:
    assert web_task(prod).one(LOG_GROUP).inputs["kmsKeyId"] == LOG_KEY


# -- every committed stack -------------------------------------------------------------------


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_committed_stacks_run_with_monitoring(stack: str) -> None:
    result = stack_run(stack)
    config = stack_file_config(stack)
    assert result.outputs["alarmTopicArn"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:")
    assert result.outputs["dashboardName"] == f"elixir-app-{stack}"
    assert len(result.of_type(ALARM)) >= 5
    assert web_service(result).one(SERVICE).inputs["alarms"]["rollback"] is True
    managed = config.get("elixir-devops:managedPrometheus", False) is True
    assert len(result.of_type(WORKSPACE)) == int(managed)
    assert ("prometheusRemoteWriteUrl" in result.outputs) == managed
    collectors = [c for c in _containers(result) if c["name"] == COLLECTOR_NAME]
    assert len(collectors) == int(managed)


def test_prod_has_managed_prometheus_on() -> None:
    assert stack_file_config("prod")["elixir-devops:managedPrometheus"] is True


def test_managed_grafana_reads_only_this_workspace() -> None:
    result = run_stack("staging", {"managedPrometheus": True, "managedGrafana": True})
    assert result.error is None, result.error
    grafana = result.one("aws:grafana/workspace:Workspace")
    assert grafana.inputs["authenticationProviders"] == ["AWS_SSO"]
    assert grafana.inputs["dataSources"] == ["PROMETHEUS"]
    role = next(r for r in result.of_type("aws:iam/role:Role") if r.name.endswith("-grafana"))
    assert grafana.inputs["roleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "grafana.amazonaws.com"}
    policy = next(p for p in result.of_type(ROLE_POLICY) if p.name.endswith("-grafana"))
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Resource"] == result.one(WORKSPACE).outputs["arn"]
    assert all(action.startswith("aps:") for action in statement["Action"])
    assert "aps:RemoteWrite" not in statement["Action"]
    assert result.outputs["grafanaUrl"].startswith("https://")


# -- invalid settings ------------------------------------------------------------------------


def _invalid_cases() -> Iterator[tuple[str, Any, str]]:
    yield "alarmEmails", ["not-an-email"], "not-an-email"
    yield "alarmWebhooks", ["http://hooks.example.com/x"], "http://hooks.example.com/x"
    yield "alarmSqsQueueArn", "arn:aws:sns:eu-west-1:123456789012:topic", "arn:aws:sns"
    yield "alarmSqsQueueArn", f"{SQS_ALARM}.fifo", ".fifo"
    yield "alarmCpuPercent", 0, "0"
    yield "alarmMemoryPercent", 101, "101"
    yield "alarmTarget5xxPercent", 0, "0"
    yield "alarmUnhealthyHosts", -1, "-1"
    yield "alarmLatencyMs", 0, "0"
    yield "alarmLatencyStatistic", "p50", "p50"
    yield "logKmsKeyArn", "alias/my-key", "alias/my-key"
    yield "metricsPath", "metrics", "metrics"
    yield "managedGrafana", True, "True"


@pytest.mark.parametrize(("key", "value", "shown"), list(_invalid_cases()))
def test_invalid_monitoring_settings_are_config_errors_naming_key_and_value(
    key: str, value: Any, shown: str
) -> None:
    with pytest.raises(settings.ConfigError) as raised:
        settings.load("prod", {"target": "aws", key: value})
    problems = [p for p in raised.value.problems if f"elixir-devops:{key} " in p]
    assert problems, raised.value.problems
    assert any(shown in p for p in problems), problems


def test_invalid_monitoring_settings_stop_the_program_before_any_resource() -> None:
    result = run_stack("prod", {"alarmWebhooks": ["ftp://alerts.example.com"]})
    assert result.error is not None
    assert "elixir-devops:alarmWebhooks" in result.error
    assert "ftp://alerts.example.com" in result.error
    assert [r.type for r in result.resources if r.custom] == []


def test_valid_endpoints_become_subscriptions_in_order() -> None:
    assert [(s.protocol, s.endpoint) for s in subscriptions(EMAILS, WEBHOOKS, QUEUE)] == [
        ("email", EMAILS[0]),
        ("email", EMAILS[1]),
        ("https", WEBHOOKS[0]),
        ("sqs", QUEUE),
    ]


# -- pure functions --------------------------------------------------------------------------


def test_no_running_task_alarm_when_the_service_may_scale_to_zero() -> None:
    specs = mon.service_alarms(
        cpu_percent=80, memory_percent=80, period_seconds=60, cluster="c", service="s", min_count=0
    )
    assert [s.role for s in specs] == ["cpu-high", "memory-high"]


def test_latency_threshold_is_converted_to_seconds() -> None:
    spec = mon.latency_alarm("p95", 250, 60, "lb", "tg")
    assert spec.extended_statistic == "p95"
    assert spec.threshold == pytest.approx(0.25)
    assert spec.evaluate_low_sample_count_percentiles == "ignore"


def test_sidecars_must_be_non_essential() -> None:
    monitoring = configure().monitoring
    sidecar = collector_container(
        scrape_target(4000, "/metrics", 15),
        image=monitoring.collector_image,
        remote_write_url=remote_write_url(
            f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/ws-1/"
        ),
        region=REGION,
    )
    common: dict[str, Any] = {
        "image": "repo@sha256:" + "0" * 64,
        "port": 4000,
        "environment": {"PHX_HOST": "example.com"},
        "stop_timeout": 45,
        "log_group": "/ecs/x",
        "region": REGION,
        "secrets": {},
    }
    assert len(container_definitions(**common, sidecars=[sidecar])) == 2
    with pytest.raises(ValueError, match="essential"):
        container_definitions(**common, sidecars=[{**sidecar, "essential": True}])
    without_flag = {k: v for k, v in sidecar.items() if k != "essential"}
    with pytest.raises(ValueError, match="essential"):
        container_definitions(**common, sidecars=[without_flag])


def test_scrape_timeout_never_exceeds_a_short_interval() -> None:
    target = scrape_target(4000, "/metrics", 5)
    assert target.scrape_timeout_seconds == 5
    assert target.targets == ("localhost:4000",)


def test_dashboard_body_is_json_and_names_the_given_resources() -> None:
    body = mon.dashboard_body(
        region=REGION,
        load_balancer="app/my-lb/abc",
        target_group="targetgroup/my-tg/def",
        cluster="my-cluster",
        service="my-service",
    )
    text = json.dumps(json.loads(body))
    for name in ("app/my-lb/abc", "targetgroup/my-tg/def", "my-cluster", "my-service"):
        assert name in text


def test_docs_exist() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "monitoring.md"
    text = docs.read_text()
    for key in ("alarmEmails", "alarmWebhooks", "alarmSqsQueueArn", "managedPrometheus"):
        assert key in text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deployments_completed_failed_or_rolled_back_reach_the_alarm_topic(stack: str) -> None:
    run = stack_run(stack)
    rule = run.one("aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    service = web_service(run).one(SERVICE)
    assert pattern == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [service.outputs["arn"]],
        # A rollback (circuit breaker or alarm) is a failed deployment.
        "detail": {
            "eventName": [
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "SERVICE_DEPLOYMENT_COMPLETED",
                "SERVICE_DEPLOYMENT_FAILED",
            ]
        },
    }
    target = run.one("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == run.outputs["alarmTopicArn"]
    assert target.inputs["rule"] == rule.outputs["name"]
