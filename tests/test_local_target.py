"""The whole program for Pulumi.local.yaml, run under the mocks (one subprocess per stack run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from components.observability import load_dashboard
from tests.harness import Registered, run_stack
from tests.local_support import as_int, env_map, image_overrides, named, upload

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return image_overrides(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def stack(source: dict[str, str]) -> Registered:
    result = run_stack("local", source)
    assert result.error is None, result.error
    return result


def test_outputs_tell_a_person_where_everything_is(stack: Registered) -> None:
    outputs = stack.outputs
    assert outputs["target"] == "local"
    assert outputs["url"] == "http://localhost:4000"
    assert outputs["registryUrl"] == "localhost:5000"
    assert outputs["prometheusUrl"] == "http://localhost:9090"
    assert outputs["grafanaUrl"] == "http://localhost:3000"
    assert re.fullmatch(r"localhost:5000/elixir-app@sha256:[0-9a-f]{64}", outputs["image"])
    names = {c.inputs["name"] for c in stack.of_type(CONTAINER)}
    for key in ("app", "registry", "prometheus", "grafana"):
        assert outputs[f"{key}ContainerName"] in names


def test_app_is_published_on_loopback_port_4000(stack: Registered) -> None:
    app = named(stack.of_type(CONTAINER), "-app")
    ports = app.inputs["ports"]
    assert len(ports) == 1
    assert as_int(ports[0]["internal"]) == 4000
    assert as_int(ports[0]["external"]) == 4000
    assert ports[0]["ip"] == "127.0.0.1"
    assert app.inputs["restart"] == "unless-stopped"


def test_every_published_port_is_loopback_only(stack: Registered) -> None:
    published = [(c.name, p) for c in stack.of_type(CONTAINER) for p in c.inputs.get("ports", [])]
    assert len(published) == 6  # registry, app, Prometheus, Alertmanager, Grafana, PostgreSQL
    for name, port in published:
        assert port["ip"] == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_app_health_check_probes_health_and_up_waits_for_it(stack: Registered) -> None:
    app = named(stack.of_type(CONTAINER), "-app")
    check = app.inputs["healthcheck"]
    assert check["tests"][:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/4000" in check["tests"][3]
    assert "'/health'" in check["tests"][3]
    assert app.inputs["wait"] is True


def test_app_runs_the_pushed_image_by_digest(stack: Registered) -> None:
    app = named(stack.of_type(CONTAINER), "-app")
    image = stack.one(IMAGE)
    pulled = {r.inputs["name"]: r for r in stack.of_type(REMOTE_IMAGE)}
    app_image = pulled[image.outputs["repoDigest"]]
    assert image.outputs["repoDigest"] == stack.outputs["image"]
    assert re.fullmatch(r"localhost:5000/elixir-app@sha256:[0-9a-f]{64}", stack.outputs["image"])
    assert re.fullmatch(r"localhost:5000/elixir-app:[A-Za-z0-9_.-]+", image.inputs["imageName"])
    # The container runs the digest's image id: what the provider reads back, so an unchanged
    # image never replaces the container.
    assert app.inputs["image"] == app_image.outputs["imageId"]
    assert app.inputs["image"].startswith("sha256:")


def test_image_push_waits_for_the_registry_container(stack: Registered) -> None:
    registry = named(stack.of_type(CONTAINER), "-registry")
    image = stack.one(IMAGE)
    assert registry.urn in image.dependencies
    assert registry.inputs["wait"] is True, "the push needs a registry that answers"
    pulled = {r.outputs["imageId"]: r.inputs["name"] for r in stack.of_type(REMOTE_IMAGE)}
    assert pulled[registry.inputs["image"]] == "registry:2.8.3"


def test_third_party_images_are_pinned(stack: Registered) -> None:
    names = sorted(
        r.inputs["name"] for r in stack.of_type(REMOTE_IMAGE) if "@sha256:" not in r.inputs["name"]
    )
    assert len(names) == 5
    for name in names:
        # PostgreSQL's patch releases have two numbers (17.6); the suffix pins the Debian base.
        pinned = r"[a-z/]+:(v?\d+\.\d+\.\d+|\d+\.\d+-[a-z]+)"
        assert re.fullmatch(pinned, name), f"{name} is not pinned"


def test_every_container_joins_the_private_network(stack: Registered) -> None:
    network = stack.one(NETWORK)
    for container in stack.of_type(CONTAINER):
        attached = [n["name"] for n in container.inputs["networksAdvanced"]]
        assert attached == [network.outputs["name"]], container.urn


def test_app_environment_and_limits(stack: Registered) -> None:
    app = named(stack.of_type(CONTAINER), "-app")
    env = env_map(app)
    assert env["PORT"] == "4000"
    assert env["PHX_SERVER"] == "true"
    assert env["PHX_HOST"] == "localhost"
    key_base = named(stack.of_type(PASSWORD), "-secret-key-base").outputs["result"]
    cookie = named(stack.of_type(PASSWORD), "-release-cookie").outputs["result"]
    assert env["SECRET_KEY_BASE"] == key_base
    assert env["RELEASE_COOKIE"] == cookie
    assert "envs" in app.secret_inputs, "secrets would be stored in plain text in the state"
    assert app.inputs["envs"] == sorted(app.inputs["envs"]), "unsorted env churns the container"
    assert as_int(app.inputs["memory"]) == 1024
    assert app.inputs["cpus"] == "1"
    assert app.inputs["logDriver"] == "json-file"
    assert app.inputs["logOpts"] == {"max-size": "10m", "max-file": "3"}
    drain_ms = int(env["SHUTDOWN_DRAIN_MS"])
    assert as_int(app.inputs["stopTimeout"]) * 1000 > drain_ms


def test_prometheus_scrapes_the_app_container_by_name(stack: Registered) -> None:
    prometheus = named(stack.of_type(CONTAINER), "-prometheus")
    document = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    app_name = stack.outputs["appContainerName"]
    assert jobs["elixir-app"]["static_configs"][0]["targets"] == [f"{app_name}:4000"]
    assert jobs["elixir-app"]["metrics_path"] == "/metrics"


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(stack: Registered) -> None:
    grafana = named(stack.of_type(CONTAINER), "-grafana")
    prometheus_name = stack.outputs["prometheusContainerName"]
    datasources = yaml.safe_load(
        upload(grafana, "/etc/grafana/provisioning/datasources/prometheus.yaml")
    )
    assert datasources["datasources"][0]["url"] == f"http://{prometheus_name}:9090"
    provider = yaml.safe_load(
        upload(grafana, "/etc/grafana/provisioning/dashboards/elixir-app.yaml")
    )
    dashboards_dir = provider["providers"][0]["options"]["path"]
    dashboard = json.loads(upload(grafana, f"{dashboards_dir}/elixir-app.json"))
    assert dashboard == load_dashboard()
    env = env_map(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == stack.outputs["grafanaAdminPassword"]
    assert "envs" in grafana.secret_inputs


def test_secrets_never_leave_as_plain_outputs(stack: Registered) -> None:
    assert stack.secret_outputs == ["databaseUrl", "grafanaAdminPassword"]
    plain = {k: v for k, v in stack.outputs.items() if k not in stack.secret_outputs}
    for password in stack.of_type(PASSWORD):
        value = password.outputs["result"]
        assert all(value not in str(v) for v in plain.values()), password.urn


def test_every_resource_is_a_child_of_a_component(stack: Registered) -> None:
    components = {r.urn for r in stack.resources if not r.custom}
    for resource in stack.custom():
        assert resource.parent in components, f"{resource.urn} is not parented"


def test_port_overrides_move_host_ports_not_container_ports(source: dict[str, str]) -> None:
    result = run_stack(
        "local",
        {**source, "localAppPort": 4100, "localRegistryPort": 5100, "localGrafanaPort": 3100},
    )
    assert result.error is None, result.error
    app = named(result.of_type(CONTAINER), "-app")
    assert as_int(app.inputs["ports"][0]["external"]) == 4100
    assert as_int(app.inputs["ports"][0]["internal"]) == 4000
    assert result.outputs["url"] == "http://localhost:4100"
    assert result.outputs["grafanaUrl"] == "http://localhost:3100"
    assert result.one(IMAGE).inputs["imageName"].startswith("localhost:5100/elixir-app:")
    prometheus = named(result.of_type(CONTAINER), "-prometheus")
    assert f"{result.outputs['appContainerName']}:4000" in upload(
        prometheus, "/etc/prometheus/prometheus.yml"
    )


def test_local_secrets_and_environment_reach_the_app_as_secrets(source: dict[str, str]) -> None:
    result = run_stack(
        "local",
        {
            **source,
            "database": "external",
            "localSecrets": {"DATABASE_URL": "postgres://u:hunter2@db/app"},
            "environment": {"LOG_LEVEL": "debug"},
            "grafanaAdminPassword": "correct-horse-battery",
        },
    )
    assert result.error is None, result.error
    app = named(result.of_type(CONTAINER), "-app")
    env = env_map(app)
    assert env["DATABASE_URL"] == "postgres://u:hunter2@db/app"
    assert env["LOG_LEVEL"] == "debug"
    assert "envs" in app.secret_inputs
    grafana = named(result.of_type(CONTAINER), "-grafana")
    assert env_map(grafana)["GF_SECURITY_ADMIN_PASSWORD"] == "correct-horse-battery"
    assert not [p for p in result.of_type(PASSWORD) if "grafana" in p.name]
    assert "grafanaAdminPassword" in result.secret_outputs
    assert all("hunter2" not in str(v) for v in result.outputs.values())


def test_invalid_local_settings_stop_before_any_resource(source: dict[str, str]) -> None:
    result = run_stack(
        "local",
        {**source, "localGrafanaPort": 4000, "localCpus": "0", "localPrometheusPort": 80},
    )
    assert result.error is not None
    assert "elixir-devops:localGrafanaPort = 4000" in result.error
    assert "localAppPort" in result.error
    assert "elixir-devops:localCpus" in result.error
    assert "elixir-devops:localPrometheusPort = 80" in result.error
    assert result.custom() == []


def test_local_is_the_default_target() -> None:
    project = yaml.safe_load((Path(__file__).parent.parent / "Pulumi.yaml").read_text())
    assert project["config"]["target"]["default"] == "local"


def test_the_app_and_its_migrations_run_with_a_read_only_root_and_a_tmpfs(
    stack: Registered,
) -> None:
    for container in stack.of_type(CONTAINER):
        if container.name.endswith(("-app", "-migrate")):
            assert container.inputs["readOnly"] is True, container.urn
            assert container.inputs["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=256m"}
            env = env_map(container)
            assert env["RELEASE_TMP"] == "/tmp"
            assert env["ERL_CRASH_DUMP"] == "/tmp/erl_crash.dump"
