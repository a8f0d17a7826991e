"""The local app container: its health probe (run for real with bash) and its environment."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator

import pulumi
import pytest

from components.local.service import (
    ContainerService,
    ContainerServiceArgs,
    container_environment,
    health_check,
    health_check_command,
    health_check_script,
    log_options,
)
from components.runtime import runtime_environment
from tests.harness import configure, run_components
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


def test_health_check_uses_the_configured_path_port_and_grace() -> None:
    settings = configure(
        "local", containerPort=4321, healthCheckPath="/ready", healthCheckGracePeriodSeconds=90
    ).service
    command = health_check_command(settings)
    assert command[:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/4321" in command[3]
    assert "'/ready'" in command[3]
    assert health_check(settings).start_period == "90s"


def test_environment_is_the_shared_runtime_one_plus_secrets() -> None:
    settings = configure("local", environment={"LOG_LEVEL": "info"}).service
    env = container_environment(settings, {"SECRET_KEY_BASE": "k", "DATABASE_URL": "d"})
    shared = {e["name"]: e["value"] for e in runtime_environment(settings, "localhost")}
    assert {k: env[k] for k in shared} == shared
    assert env["SECRET_KEY_BASE"] == "k"
    assert env["DATABASE_URL"] == "d"
    assert env["PHX_HOST"] == "localhost"


def test_log_rotation_options() -> None:
    options = log_options(configure("local", localLogMaxSizeMb=20, localLogMaxFiles=5).local)
    assert options == {"max-size": "20m", "max-file": "5"}


def test_component_publishes_and_parents_its_container() -> None:
    local = configure(
        "local",
        localAppPort=4100,
        localMemoryMb=256,
        localCpus="0.5",
        localSecrets={"API_TOKEN": "t"},
    ).local
    registered = run_components(
        lambda: [
            ContainerService(
                "svc",
                ContainerServiceArgs(
                    settings=configure("local").service,
                    local=local,
                    image_ref="localhost:5000/app@sha256:" + "a" * 64,
                    network_name="svc-net",
                    secret_key_base=pulumi.Output.secret("k" * 86),
                    release_cookie=pulumi.Output.secret("c" * 48),
                    labels={"stack": "test"},
                ),
            ).internal_address
        ]
    )
    component = registered.one("elixir-devops:local:ContainerService")
    container = registered.one("docker:index/container:Container")
    assert container.parent == component.urn
    assert container.inputs["ports"] == [{"internal": 4000, "external": 4100, "ip": "127.0.0.1"}]
    assert as_int(container.inputs["memory"]) == 256
    assert container.inputs["cpus"] == "0.5"
    assert env_map(container)["API_TOKEN"] == "t"
    assert "envs" in container.secret_inputs
    assert container.inputs["labels"] == [{"label": "stack", "value": "test"}]
    assert container.inputs["init"] is True
