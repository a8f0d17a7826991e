"""BEAM clustering on ECS: a Cloud Map name answers every task; distribution between tasks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import AWS_STACKS, stack_run
from tests.harness import Registered, run_stack, web_service, web_task


def _app(run: Registered) -> dict[str, Any]:
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    return json.loads(definition.inputs["containerDefinitions"])[0]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_task_registers_under_the_name_the_app_polls(stack: str) -> None:
    run = stack_run(stack)
    namespace = run.one("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    discovery = run.one("aws:servicediscovery/service:Service")
    assert namespace.inputs["name"] == f"elixir-app-{stack}.internal"
    assert namespace.inputs["vpc"] == run.outputs["vpcId"]
    records = discovery.inputs["dnsConfig"]
    assert records["routingPolicy"] == "MULTIVALUE"
    assert records["dnsRecords"] == [{"type": "A", "ttl": 10}]
    service = web_service(run).one("aws:ecs/service:Service")
    assert service.inputs["serviceRegistries"]["registryArn"] == discovery.outputs["arn"]
    env = {e["name"]: e["value"] for e in _app(run)["environment"]}
    assert env["DNS_CLUSTER_QUERY"] == f"app.elixir-app-{stack}.internal"
    assert env["RELEASE_DISTRIBUTION"] == "name"
    assert env["ERL_AFLAGS"] == "-start_epmd false -erl_epmd_port 4370"


def test_clustering_off_costs_nothing() -> None:
    run = run_stack("dev", overrides={"clustering": False})
    assert run.error is None, run.error
    assert not run.of_type("aws:servicediscovery/service:Service")
    assert not [
        r
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["fromPort"] == 4370
    ]
    env = {e["name"] for e in _app(run)["environment"]}
    assert not env & {"DNS_CLUSTER_QUERY", "ERL_AFLAGS"}
    service = web_service(run).one("aws:ecs/service:Service")
    assert "serviceRegistries" not in service.inputs


def test_a_deploy_moves_one_task_in_about_25_seconds() -> None:
    """Deregistration delay + healthy threshold x interval: 15 + 2 x 5 (was 30 + 2 x 10),
    the timings bench/rolling_restart.py ran with zero failed requests."""
    run = stack_run("dev")
    (group,) = run.of_type("aws:lb/targetGroup:TargetGroup")
    check = group.inputs["healthCheck"]
    bound = group.inputs["deregistrationDelay"] + check["healthyThreshold"] * check["interval"]
    assert bound == 25
    assert check["timeout"] < check["interval"]
