"""Your own Phoenix app deploys unchanged: a stock generated app (tests/fixtures/phoenix_app,
shaped like `mix phx.new` + `mix phx.gen.release --docker`) as the image context of every AWS
stack. The task gets every variable its runtime.exs requires, migrations run its bin/migrate,
the image is built from it, and its force_ssl lets the load balancer's health check through.

docs/your-app.md walks through the same steps; this module is what keeps it true.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from settings import ConfigError
from settings.image import release_name_problem
from tests.conftest import AWS_STACKS
from tests.harness import PROJECT_DIR, Registered, configure, run_stack, stack_file_config, web_task
from tests.local_support import env_map, named
from tests.phoenix_config import ConfigRaised, env_reads, evaluate, force_ssl_exclusions

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "phoenix_app"
RELEASE = "shop"
SETTINGS = {
    "imageContext": str(FIXTURE.relative_to(PROJECT_DIR)),
    "imageDockerfile": str((FIXTURE / "Dockerfile").relative_to(PROJECT_DIR)),
    "releaseName": RELEASE,
}
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
# What ECS would put in a secret variable; the value only has to be well formed.
SECRET_PLACEHOLDERS = {
    "DATABASE_URL": "ecto://app:secret@db.internal:5432/app?ssl=true",
    "SECRET_KEY_BASE": "x" * 64,
}

_RUNS: dict[str, Registered] = {}


def fixture_run(stack: str) -> Registered:
    if stack not in _RUNS:
        _RUNS[stack] = run_stack(stack, SETTINGS)
        assert _RUNS[stack].error is None, _RUNS[stack].error
    return _RUNS[stack]


def task_containers(run: Registered) -> dict[str, dict[str, Any]]:
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    return {c["name"]: c for c in json.loads(definition.inputs["containerDefinitions"])}


def task_environment(container: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: plain values, and placeholders for secrets."""
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    for secret in container.get("secrets", []):
        env[secret["name"]] = SECRET_PLACEHOLDERS.get(secret["name"], "secret-value")
    return env


def missing_variables(runtime_exs: Path, env: dict[str, str]) -> set[str]:
    return set(env_reads(runtime_exs).required) - set(env)


# --- the fixture is what the generators make --------------------------------------------------


def test_the_fixture_runtime_exs_reads_the_variables_phx_new_reads() -> None:
    reads = env_reads(FIXTURE / "config" / "runtime.exs")
    assert reads.read == {
        "PHX_SERVER",
        "PORT",
        "DATABASE_URL",
        "ECTO_IPV6",
        "POOL_SIZE",
        "SECRET_KEY_BASE",
        "PHX_HOST",
        "DNS_CLUSTER_QUERY",
    }
    assert reads.required == {"DATABASE_URL", "SECRET_KEY_BASE"}


def test_a_required_variable_nobody_sets_is_reported(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.exs"
    runtime.write_text(
        'import Config\nconfig :shop, bucket: System.fetch_env!("S3_BUCKET")\n'
        'config :shop, key: System.get_env("SECRET_KEY_BASE") || raise "missing"\n'
        'config :shop, region: System.get_env("AWS_REGION", "eu-west-1")\n'
    )
    assert missing_variables(runtime, {"SECRET_KEY_BASE": "k"}) == {"S3_BUCKET"}
    with pytest.raises(ConfigRaised, match="S3_BUCKET"):
        evaluate(runtime, {"SECRET_KEY_BASE": "k"})


def test_the_fixture_release_scripts_are_phx_gen_releases() -> None:
    server = FIXTURE / "rel" / "overlays" / "bin" / "server"
    migrate = FIXTURE / "rel" / "overlays" / "bin" / "migrate"
    for script in (server, migrate):
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    assert f"PHX_SERVER=true exec ./{RELEASE} start" in server.read_text()
    assert f"exec ./{RELEASE} eval Shop.Release.migrate" in migrate.read_text()
    release = (FIXTURE / "lib" / "shop" / "release.ex").read_text()
    assert "defmodule Shop.Release do" in release and "def migrate do" in release


def test_the_fixture_dockerfile_puts_the_release_in_app_and_runs_bin_server() -> None:
    parser = DockerfileParser(path=str(FIXTURE / "Dockerfile"))
    final = parser.structure[
        [i for i, s in enumerate(parser.structure) if s["instruction"] == "FROM"][-1] :
    ]
    values = [(s["instruction"], s["value"]) for s in final]
    assert ("WORKDIR", '"/app"') in values
    assert (
        "COPY",
        f"--from=builder --chown=nobody:root /app/_build/${{MIX_ENV}}/rel/{RELEASE} ./",
    ) in values
    assert ("CMD", '["/app/bin/server"]') in values
    assert ("USER", "nobody") in values
    for instruction, value in (
        s for s in ((i["instruction"], i["value"]) for i in parser.structure)
    ):
        if instruction == "COPY" and not value.startswith("--from"):
            for source in value.split()[:-1]:
                expanded = source.replace("${MIX_ENV}", "prod")
                assert (FIXTURE / expanded).exists(), f"COPY {source}: not in the fixture"


# --- every AWS stack, with the fixture as its app ---------------------------------------------


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_task_gets_every_variable_the_apps_runtime_exs_requires(stack: str) -> None:
    app = task_containers(fixture_run(stack))["app"]
    env = task_environment(app)
    runtime = FIXTURE / "config" / "runtime.exs"
    assert missing_variables(runtime, env) == set()
    # And the file really evaluates with them, as the release's config provider would.
    config = evaluate(runtime, env)
    port = stack_file_config(stack).get("elixir-devops:containerPort", 4000)
    assert config["shop ShopWeb.Endpoint http"] == f"[port: {port}, ip: {{0, 0, 0, 0, 0, 0, 0, 0}}]"
    assert config["shop ShopWeb.Endpoint server"] == "true"
    assert config["shop Shop.Repo url"] == json.dumps(SECRET_PLACEHOLDERS["DATABASE_URL"])
    assert config["shop Shop.Repo pool_size"] == env["POOL_SIZE"]
    # PHX_HOST is the host users reach: LiveView's check_origin and generated URLs use it.
    host = fixture_run(stack).outputs["url"].split("://", 1)[1].rstrip("/")
    assert config["shop ShopWeb.Endpoint url"] == f'[host: "{host}", port: 443, scheme: "https"]'
    assert env["DNS_CLUSTER_QUERY"], "clustering is on by default: the app's dns_cluster needs it"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_migrations_run_the_apps_bin_migrate_before_it_serves(stack: str) -> None:
    containers = task_containers(fixture_run(stack))
    migrate = containers["migrate"]
    # /app is the Dockerfile's WORKDIR, where the release (with rel/overlays/bin) is copied.
    assert migrate["command"] == ["/app/bin/migrate"]
    assert (FIXTURE / "rel" / "overlays" / "bin" / "migrate").is_file()
    assert task_environment(migrate) == task_environment(containers["app"])
    assert containers["app"]["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_image_is_built_from_the_app_for_the_tasks_platform(stack: str) -> None:
    image = fixture_run(stack).one("docker:index/image:Image").inputs["build"]
    architecture = stack_file_config(stack).get("elixir-devops:architecture", "x86_64")
    assert image["context"] == str(FIXTURE)
    assert image["dockerfile"] == str(FIXTURE / "Dockerfile")
    assert image["platform"] == PLATFORMS[architecture]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_health_check_path_is_routed_and_excluded_from_force_ssl(stack: str) -> None:
    health = fixture_run(stack).one("aws:lb/targetGroup:TargetGroup").inputs["healthCheck"]
    router = (FIXTURE / "lib" / "shop_web" / "router.ex").read_text()
    assert re.search(rf'^\s*get "{re.escape(health["path"])}", ', router, re.MULTILINE)
    assert health["path"] in force_ssl_exclusions(FIXTURE / "config" / "prod.exs")["paths"]


def test_the_local_target_runs_the_app_with_what_its_runtime_exs_requires() -> None:
    """The default target (your Docker engine) too: same variables, same migrate script."""
    run = fixture_run("local")
    containers = run.of_type("docker:index/container:Container")
    app = named(containers, "-app")
    env = env_map(app)
    runtime = FIXTURE / "config" / "runtime.exs"
    assert missing_variables(runtime, env) == set()
    config = evaluate(runtime, env)
    assert config["shop ShopWeb.Endpoint url"] == '[host: "localhost", port: 443, scheme: "https"]'
    assert named(containers, "-migrate").inputs["command"] == ["/app/bin/migrate"]
    image = run.one("docker:index/image:Image").inputs["build"]
    assert (image["context"], image["dockerfile"]) == (str(FIXTURE), str(FIXTURE / "Dockerfile"))
    # force_ssl leaves the local app on plain HTTP: its requests are addressed to localhost.
    assert "localhost" in force_ssl_exclusions(FIXTURE / "config" / "prod.exs")["hosts"]
    assert run.outputs["remoteConsoleCommand"].endswith(f" /app/bin/{RELEASE} remote")


def test_the_remote_console_command_names_the_apps_release() -> None:
    outputs = fixture_run("dev").outputs
    assert outputs["remoteConsoleCommand"].endswith(f"--command '/app/bin/{RELEASE} remote'")


# --- releaseName ------------------------------------------------------------------------------


def test_the_samples_release_name_left_in_is_refused_with_the_apps_name() -> None:
    with pytest.raises(ConfigError) as error:
        configure("aws", **(SETTINGS | {"releaseName": "elixir_app"}))
    message = str(error.value)
    assert "releaseName" in message and "set releaseName: shop" in message


@pytest.mark.parametrize("name", ["Shop", "shop-app", "1shop", ""])
def test_a_release_name_mix_would_refuse_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="releaseName"):
        configure("aws", releaseName=name)


def test_a_release_declared_under_releases_is_accepted() -> None:
    mix_exs = "def project, do: [app: :shop, releases: [shop_web: [applications: []]]]"
    assert release_name_problem(mix_exs, "shop_web") is None
    assert release_name_problem(mix_exs, "shop") is None
    assert release_name_problem(mix_exs, "other") is not None
