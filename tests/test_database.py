"""The app's PostgreSQL on both targets, its DATABASE_URL, and migrations before traffic."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest

from components.local.service import migration_succeeded
from settings.database import connections_needed, max_connections
from tests.conftest import AWS_STACKS, stack_run
from tests.harness import Registered, configure, run_stack, web_task

INSTANCE = "aws:rds/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CONTAINER = "docker:index/container:Container"


def _app_and_migrate(run: Registered) -> tuple[dict[str, Any], dict[str, Any]]:
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    containers = {c["name"]: c for c in json.loads(definition.inputs["containerDefinitions"])}
    return containers["app"], containers["migrate"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_rds_is_private_encrypted_tls_only_and_in_private_subnets(stack: str) -> None:
    run = stack_run(stack)
    instance = run.one(INSTANCE)
    inputs = instance.inputs
    assert inputs["engine"] == "postgres" and inputs["engineVersion"] == "17"
    assert inputs["publiclyAccessible"] is False
    assert inputs["storageEncrypted"] is True and inputs["storageType"] == "gp3"
    assert inputs["maxAllocatedStorage"] > inputs["allocatedStorage"]
    parameters = run.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert {p["name"]: p["value"] for p in parameters["parameters"]} == {
        "rds.force_ssl": "1",
        "password_encryption": "scram-sha-256",
    }
    subnets = set(run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"])
    private = {s.id for s in run.of_type("aws:ec2/subnet:Subnet") if "private" in s.name}
    assert subnets == private  # also on dev, where tasks run in public subnets (no NAT)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_only_the_app_tasks_reach_the_database_on_5432(stack: str) -> None:
    run = stack_run(stack)
    instance = run.one(INSTANCE)
    (db_group,) = instance.inputs["vpcSecurityGroupIds"]
    rules = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == db_group]
    task_group = run.outputs["taskSecurityGroupId"]
    assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules] == [(5432, 5432)]
    assert rules[0].inputs["referencedSecurityGroupId"] == task_group
    assert "cidrIpv4" not in rules[0].inputs


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_app_reads_database_url_as_a_secret_and_migrates_before_it_starts(stack: str) -> None:
    run = stack_run(stack)
    app, migrate = _app_and_migrate(run)
    secrets = {s["name"]: s["valueFrom"] for s in app["secrets"]}
    assert secrets["DATABASE_URL"].endswith(":DATABASE_URL::")
    assert "DATABASE_URL" not in {e["name"] for e in app["environment"]}
    assert {e["name"]: e["value"] for e in app["environment"]}["POOL_SIZE"] == "10"
    # The new image, the same environment and secrets; the app starts only after exit 0.
    assert migrate["image"] == app["image"]
    assert migrate["command"] == ["/app/bin/migrate"]
    assert migrate["essential"] is False
    assert migrate["secrets"] == app["secrets"] and migrate["environment"] == app["environment"]
    assert app["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]
    assert migrate["logConfiguration"]["options"]["awslogs-stream-prefix"] == "migrate"
    # No password in any output or plain input.
    (password,) = [
        r.outputs["result"]
        for r in run.of_type("random:index/randomPassword:RandomPassword")
        if r.name.endswith("-db-password")
    ]
    assert password not in json.dumps(run.outputs)


def test_prod_keeps_its_data_and_dev_can_be_thrown_away() -> None:
    prod, dev = stack_run("prod").one(INSTANCE), stack_run("dev").one(INSTANCE)
    # Protected twice (Pulumi and AWS); not retainOnDelete, which would skip the final snapshot.
    assert prod.protect and not prod.retain_on_delete
    assert prod.inputs["applyImmediately"] is True
    assert prod.inputs["deletionProtection"] is True
    assert prod.inputs["skipFinalSnapshot"] is False
    # Unique per instance, so a second create/destroy cycle does not collide.
    assert re.fullmatch(
        r"elixir-app-prod-db-final-[0-9a-f]{8}", prod.inputs["finalSnapshotIdentifier"]
    )
    assert prod.inputs["multiAz"] is True and prod.inputs["backupRetentionPeriod"] == 30
    assert prod.inputs["performanceInsightsEnabled"] is True
    assert not dev.protect and dev.inputs["skipFinalSnapshot"] is True
    assert dev.inputs["instanceClass"] == "db.t4g.micro" and dev.inputs["multiAz"] is False


def test_no_database_means_no_migrations_and_no_database_url() -> None:
    run = run_stack("dev", overrides={"database": "none"})
    assert run.error is None, run.error
    assert not run.of_type(INSTANCE)
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    (app,) = json.loads(definition.inputs["containerDefinitions"])
    assert "dependsOn" not in app
    assert "DATABASE_URL" not in {s["name"] for s in app["secrets"]}


def test_your_own_database_comes_from_its_secret_and_admits_the_tasks() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-url-AbCdEf"
    run = run_stack(
        "dev",
        overrides={
            "database": "external",
            "databaseUrlSecretArn": arn,
            "databaseSecurityGroupId": "sg-0abc1234",
        },
    )
    assert run.error is None, run.error
    assert not run.of_type(INSTANCE)
    app, _ = _app_and_migrate(run)
    assert {s["name"]: s["valueFrom"] for s in app["secrets"]}["DATABASE_URL"] == arn
    (rule,) = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == "sg-0abc1234"]
    assert rule.inputs["fromPort"] == 5432
    assert rule.inputs["referencedSecurityGroupId"] == run.outputs["taskSecurityGroupId"]


def test_the_connection_budget_follows_rds_max_connections() -> None:
    # 85 % of the class's memory (what RDS leaves to PostgreSQL) / 9,531,392
    assert max_connections("db.t4g.micro") == 95
    assert max_connections("db.m7g.large") == 766
    assert connections_needed(max_count=10, pool_size=10) == 213
    problems = _problems(target="aws", maxCount=10, desiredCount=2, minCount=2)
    assert len(problems) == 1 and problems[0].startswith("elixir-devops:poolSize = 10")
    assert "db.t4g.micro allows 95" in problems[0]
    assert configure(maxCount=10, desiredCount=2, databaseInstanceClass="db.t4g.medium")


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"database": "sqlite"}, "database"),
        ({"databaseInstanceClass": "db.x99.huge"}, "databaseInstanceClass"),
        ({"databaseUsername": "rdsadmin"}, "databaseUsername"),
        ({"databaseName": "my-app"}, "databaseName"),
        ({"database": "external"}, "databaseUrlSecretArn"),
        (
            {"databaseUrlSecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:x"},
            "databaseUrlSecretArn",
        ),
        (
            {
                "secrets": {
                    "DATABASE_URL": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:d-AbCdEf"
                }
            },
            "secrets",
        ),
        ({"migrateCommand": ["bin/migrate; rm -rf /"]}, "migrateCommand"),
        ({"databaseMaxAllocatedStorageGb": 10}, "databaseMaxAllocatedStorageGb"),
        ({"databaseEngineVersion": "12"}, "databaseEngineVersion"),
        ({"databaseAllocatedStorageGb": 5}, "databaseAllocatedStorageGb"),
        ({"databaseBackupRetentionDays": 0}, "databaseBackupRetentionDays"),
        ({"poolSize": 0}, "poolSize"),
        ({"databaseSecurityGroupId": "default"}, "databaseSecurityGroupId"),
        ({"migrations": "sometimes"}, "migrations"),
        ({"localDatabasePort": 80}, "localDatabasePort"),
        ({"localDatabasePort": 4000}, "localDatabasePort"),
        ({"distributionPort": 4000}, "distributionPort"),
        ({"clustering": "yes please"}, "clustering"),
    ],
)
def test_bad_database_settings_name_the_key(values: dict[str, Any], key: str) -> None:
    problems = _problems(target="aws", **values)
    assert any(p.startswith(f"elixir-devops:{key} = ") for p in problems), problems


def _problems(**values: Any) -> tuple[str, ...]:
    from config_reader import ConfigError

    with pytest.raises(ConfigError) as raised:
        configure(**values)
    return raised.value.problems


# -- local target ------------------------------------------------------------------------------


def test_local_postgres_keeps_its_volume_and_the_app_gets_a_secret_url() -> None:
    run = stack_run("local")
    containers = {c.name.removeprefix("elixir-app-local-"): c for c in run.of_type(CONTAINER)}
    postgres, app, migrate = containers["postgres"], containers["app"], containers["migrate"]
    (port,) = postgres.inputs["ports"]
    assert (port["ip"], port["internal"], port["external"]) == ("127.0.0.1", 5432, 5432)
    assert postgres.inputs["healthcheck"]["tests"][:2] == ["CMD", "pg_isready"]
    assert postgres.inputs["wait"] is True
    (volume,) = [v for v in run.of_type("docker:index/volume:Volume") if v.name.endswith("pgdata")]
    assert volume.retain_on_delete and not volume.protect  # make down keeps it, can still run
    env = dict(e.split("=", 1) for e in app.inputs["envs"])
    assert env["DATABASE_URL"].startswith("ecto://app:") and env["DATABASE_URL"].endswith(
        "@db:5432/app"
    )
    assert "envs" in app.secret_inputs and "DATABASE_URL" not in json.dumps(run.outputs)
    # Migrations: the app's image and environment, run once to completion before the app.
    assert migrate.inputs["image"] == app.inputs["image"]
    assert migrate.inputs["command"] == ["/app/bin/migrate"]
    assert migrate.inputs["mustRun"] is False and migrate.inputs["attach"] is True
    assert migrate.inputs["envs"] == app.inputs["envs"]
    assert migrate.urn in app.dependencies


def test_a_failed_local_migration_stops_the_update_with_its_exit_code_and_output() -> None:
    assert migration_succeeded(0, "", ["/app/bin/migrate"]) is True
    with pytest.raises(pulumi.RunError) as raised:
        migration_succeeded(1, "ERROR: 20261201090100_add_visits_updated_at.sql", ["bin/migrate"])
    assert "exited with 1" in str(raised.value)
    assert "--replace" in str(raised.value)
    assert "20261201090100_add_visits_updated_at.sql" in str(raised.value)
