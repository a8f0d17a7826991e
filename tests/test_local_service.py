"""The local app container: its health probe (run for real with bash) and its environment."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator

import pulumi
import pytest

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.local.service import (
    ContainerService,
    ContainerServiceArgs,
    container_environment,
    health_check,
    health_check_command,
    health_check_script,
    log_options,
)
from program import local_service_args
from settings import Settings
from tests.harness import Registered, configure, run_components
from tests.local_support import as_int, env_map


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers /health with the status the test sets; the status line as the test sets it."""

    status = 200
    reason: str | None = "OK"

    def do_GET(self) -> None:
        code = self.status if self.path == "/health" else 404
        line = f"HTTP/1.0 {code}" + (f" {self.reason}" if self.reason is not None else "")
        self.wfile.write(f"{line}\r\nContent-Length: 2\r\n\r\nok".encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    _Handler.status, _Handler.reason = 200, "OK"


def probe(port: int, path: str = "/health") -> int:
    script = health_check_script(port, path)
    return subprocess.run(["bash", "-c", script], timeout=10, check=False).returncode


def test_probe_passes_on_200(server: http.server.HTTPServer) -> None:
    assert probe(server.server_address[1]) == 0


def test_probe_passes_on_200_without_reason_phrase(server: http.server.HTTPServer) -> None:
    _Handler.reason = None
    assert probe(server.server_address[1]) == 0


@pytest.mark.parametrize("status", [500, 503, 302, 2000])
def test_probe_fails_on_other_status(server: http.server.HTTPServer, status: int) -> None:
    _Handler.status = status
    assert probe(server.server_address[1]) != 0


def test_probe_fails_on_other_path(server: http.server.HTTPServer) -> None:
    assert probe(server.server_address[1], "/nope") != 0


def test_probe_fails_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe(port) != 0


def test_health_check_uses_the_given_path_port_and_grace() -> None:
    command = health_check_command(4321, "/ready")
    assert command[:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/4321" in command[3]
    assert "'/ready'" in command[3]
    assert health_check(4321, "/ready", 90).start_period == "90s"


def test_environment_is_the_plain_one_without_nulls_plus_secrets() -> None:
    env = container_environment(
        {"PHX_HOST": "localhost", "UNSET": None}, {"SECRET_KEY_BASE": "k", "DATABASE_URL": "d"}
    )
    assert env == {"PHX_HOST": "localhost", "SECRET_KEY_BASE": "k", "DATABASE_URL": "d"}


def test_log_rotation_options() -> None:
    assert log_options(20, 5) == {"max-size": "20m", "max-file": "5"}


SECRET_KEY_BASE = "k" * 86


def test_component_publishes_and_parents_its_container() -> None:
    args = ContainerServiceArgs(
        image_ref="localhost:5000/app@sha256:" + "a" * 64,
        network_name="svc-net",
        container_port=4000,
        host_port=4100,
        bind_address="127.0.0.1",
        health_check_path="/health",
        health_check_grace_period_seconds=60,
        stop_timeout_seconds=45,
        memory_mb=256,
        cpus="0.5",
        log_max_size_mb=10,
        log_max_files=3,
        environment={"PHX_HOST": "localhost"},
        secrets={"API_TOKEN": "t", "SECRET_KEY_BASE": pulumi.Output.secret(SECRET_KEY_BASE)},
        labels={"stack": "test"},
    )
    registered = run_components(lambda: [ContainerService("svc", args).internal_address])
    component = registered.one("elixir-devops:local:ContainerService")
    container = registered.one("docker:index/container:Container")
    assert container.parent == component.urn
    assert container.inputs["ports"] == [{"internal": 4000, "external": 4100, "ip": "127.0.0.1"}]
    assert as_int(container.inputs["memory"]) == 256
    assert container.inputs["cpus"] == "0.5"
    assert env_map(container) == {
        "API_TOKEN": "t",
        "PHX_HOST": "localhost",
        "SECRET_KEY_BASE": SECRET_KEY_BASE,
    }
    assert "envs" in container.secret_inputs
    assert container.inputs["labels"] == [{"label": "stack", "value": "test"}]
    assert container.inputs["init"] is True
    assert as_int(container.inputs["stopTimeout"]) == 45
    assert container.inputs["logOpts"] == {"max-size": "10m", "max-file": "3"}


def run_from_settings(name: str, settings: Settings, database_url: str | None) -> Registered:
    """The service as program.local_service_args builds it from these settings."""

    def build() -> list[pulumi.Output[str]]:
        args = local_service_args(
            settings.service,
            settings.local,
            settings.database,
            image_ref="localhost:5000/app@sha256:" + "a" * 64,
            network_name=f"{name}-net",
            app_secrets=AppSecrets(name, AppSecretsArgs()),
            database_url=None if database_url is None else pulumi.Output.secret(database_url),
            labels={"stack": "test"},
        )
        return [ContainerService(name, args).internal_address]

    return run_components(build)


def test_the_stacks_settings_reach_the_app_container() -> None:
    """What program.local_service_args maps: every local and service setting the container
    uses, the shared runtime environment, the secrets, the database's URL, pool and
    migrations."""
    settings = configure(
        "local",
        containerPort=4321,
        healthCheckPath="/ready",
        healthCheckGracePeriodSeconds=90,
        deregistrationDelaySeconds=30,
        environment={"LOG_LEVEL": "info"},
        localAppPort=4100,
        localMemoryMb=256,
        localCpus="0.5",
        localLogMaxSizeMb=20,
        localLogMaxFiles=5,
        localSecrets={"API_TOKEN": "t"},
        poolSize=7,
        migrateCommand=["/app/bin/migrate", "--verbose"],
    )
    database_url = "ecto://app:pw@db:5432/app"
    registered = run_from_settings("cfg", settings, database_url)
    containers = {c.name: c for c in registered.of_type("docker:index/container:Container")}
    container, migrate = containers["cfg-app"], containers["cfg-migrate"]
    passwords = {
        r.name: r.outputs["result"]
        for r in registered.of_type("random:index/randomPassword:RandomPassword")
    }
    assert container.inputs["ports"] == [{"internal": 4321, "external": 4100, "ip": "127.0.0.1"}]
    assert "/dev/tcp/127.0.0.1/4321" in container.inputs["healthcheck"]["tests"][3]
    assert "'/ready'" in container.inputs["healthcheck"]["tests"][3]
    assert container.inputs["healthcheck"]["startPeriod"] == "90s"
    assert as_int(container.inputs["memory"]) == 256
    assert container.inputs["cpus"] == "0.5"
    assert container.inputs["logOpts"] == {"max-size": "20m", "max-file": "5"}
    # deregistrationDelaySeconds 30 -> stop timeout 45 s, the app drains for 40 s of it.
    assert as_int(container.inputs["stopTimeout"]) == 45
    assert env_map(container) == {
        "API_TOKEN": "t",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "info",
        "PHX_HOST": "localhost",
        "PHX_SERVER": "true",
        "POOL_SIZE": "7",
        "PORT": "4321",
        "RELEASE_COOKIE": passwords["cfg-release-cookie"],
        "SECRET_KEY_BASE": passwords["cfg-secret-key-base"],
        "SHUTDOWN_DRAIN_MS": "40000",
        # The root filesystem is read-only: the release's tmp files and a crash dump go to /tmp.
        "RELEASE_TMP": "/tmp",
        "ERL_CRASH_DUMP": "/tmp/erl_crash.dump",
    }
    assert migrate.inputs["command"] == ["/app/bin/migrate", "--verbose"]
    assert migrate.inputs["envs"] == container.inputs["envs"]


def test_an_app_without_a_local_database_gets_no_database_variables() -> None:
    registered = run_from_settings("none", configure("local", database="none"), None)
    (container,) = registered.of_type("docker:index/container:Container")
    assert not {"DATABASE_URL", "POOL_SIZE"} & set(env_map(container))
