"""The HAProxy configuration renderer: both shapes pass the real `haproxy -c`, carry what the
app relies on (health checks on its path, retries elsewhere, websocket-friendly timeouts), and
behave as promised in a real HAProxy in front of real backends on loopback."""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.proxy_config import (
    DOCKER_DNS,
    LIVEVIEW_HEARTBEAT_SECONDS,
    DnsServerTemplate,
    HealthCheck,
    StaticServer,
    haproxy_config,
)
from tests.app_release import free_port, http_get
from tests.dns_support import dns_server
from tests.haproxy_support import check_config, running_haproxy

STATIC = [StaticServer("node1", "127.0.0.2", 4000), StaticServer("node2", "127.0.0.3", 4000)]
DOCKER = DnsServerTemplate(hostname="app", port=4000, slots=4)


def directive(config: str, name: str) -> list[str]:
    """Every value of a directive (`timeout tunnel` -> ["3600s"])."""
    return re.findall(rf"^\s+{re.escape(name)}\s+(.+)$", config, flags=re.MULTILINE)


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert match, value
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 0.001}[match.group(2)]
    return int(match.group(1)) * scale


@pytest.mark.parametrize(
    "config",
    [
        haproxy_config(bind_address="127.0.0.1", bind_port=8080, servers=STATIC),
        haproxy_config(
            bind_address="127.0.0.1",
            bind_port=8080,
            servers=STATIC,
            admin_socket="/run/haproxy/admin.sock",
            log_requests=False,
        ),
        haproxy_config(bind_address="0.0.0.0", bind_port=4000, servers=DOCKER),
    ],
    ids=["static", "static-admin-socket", "docker-dns"],
)
def test_rendered_configs_pass_haproxy_check_without_warnings(config: str) -> None:
    output = check_config(config)
    assert "Configuration file is valid" in output
    assert "WARNING" not in output and "ALERT" not in output, output


def test_servers_are_health_checked_with_get_on_the_health_path() -> None:
    config = haproxy_config(
        bind_address="127.0.0.1",
        bind_port=8080,
        servers=STATIC,
        health_check=HealthCheck(path="/ready", interval_ms=2000, timeout_ms=1000, rise=3, fall=4),
    )
    assert directive(config, "option").count("httpchk") == 1
    assert directive(config, "http-check send") == [
        "meth GET uri /ready ver HTTP/1.1 hdr host localhost"
    ]
    assert directive(config, "http-check expect") == ["status 200"]
    assert directive(config, "default-server") == ["check inter 2000ms rise 3 fall 4"]
    assert directive(config, "timeout check") == ["1000ms"]
    assert directive(config, "server") == ["node1 127.0.0.2:4000", "node2 127.0.0.3:4000"]


def test_refused_connections_are_retried_on_another_server() -> None:
    config = haproxy_config(bind_address="127.0.0.1", bind_port=8080, servers=STATIC)
    assert int(directive(config, "retries")[0]) >= 1
    assert "redispatch 1" in directive(config, "option")
    assert "conn-failure" in directive(config, "retry-on")[0].split()
    # Replaying a request is only safe for methods without side effects.
    assert directive(config, "http-request disable-l7-retry") == ["unless METH_GET || METH_HEAD"]


def test_timeouts_keep_liveview_websockets_and_close_idle_connections_first() -> None:
    config = haproxy_config(bind_address="127.0.0.1", bind_port=8080, servers=STATIC)
    assert seconds(directive(config, "timeout tunnel")[0]) > 2 * LIVEVIEW_HEARTBEAT_SECONDS
    assert seconds(directive(config, "timeout client")[0]) > LIVEVIEW_HEARTBEAT_SECONDS
    # The app keeps idle keep-alive connections 65 s; the proxy must give up on them first.
    assert seconds(directive(config, "timeout http-keep-alive")[0]) < 65


def test_no_stats_page_and_the_admin_socket_only_when_asked() -> None:
    plain = haproxy_config(bind_address="127.0.0.1", bind_port=8080, servers=STATIC)
    assert "stats" not in plain
    with_socket = haproxy_config(
        bind_address="127.0.0.1", bind_port=8080, servers=STATIC, admin_socket="/tmp/a.sock"
    )
    assert directive(with_socket, "stats socket") == ["/tmp/a.sock mode 600 level admin"]
    assert "stats uri" not in with_socket


def test_docker_shape_fills_slots_from_dockers_embedded_dns() -> None:
    config = haproxy_config(bind_address="0.0.0.0", bind_port=4000, servers=DOCKER)
    assert directive(config, "nameserver") == [f"dns1 {DOCKER_DNS}:53"]
    assert directive(config, "server-template") == [
        "replica 1-4 app:4000 resolvers dns resolve-prefer ipv4 init-addr none"
    ]
    assert directive(config, "bind") == ["0.0.0.0:4000"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: HealthCheck(path="health"), "absolute URL path"),
        (lambda: HealthCheck(path="/he alth"), "absolute URL path"),
        (lambda: HealthCheck(interval_ms=1000, timeout_ms=2000), "timeout_ms"),
        (lambda: HealthCheck(rise=0), "rise"),
        (lambda: StaticServer("node 1", "127.0.0.2", 4000), "server name"),
        (lambda: StaticServer("node1", "localhost", 4000), "IPv4 address"),
        (lambda: StaticServer("node1", "127.0.0.2", 70000), "TCP port"),
        (lambda: DnsServerTemplate("app;rm", 4000, 2), "DNS name"),
        (lambda: DnsServerTemplate("app", 4000, 0), "slots"),
        (lambda: haproxy_config(bind_address="127.0.0.1", bind_port=80, servers=[]), "at least"),
        (
            lambda: haproxy_config(bind_address="127.0.0.1", bind_port=80, servers=STATIC * 2),
            "unique",
        ),
        (
            lambda: haproxy_config(bind_address="::", bind_port=80, servers=STATIC),
            "bind_address",
        ),
    ],
)
def test_bad_inputs_are_refused_naming_the_input(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


# --- behaviour in a real HAProxy -----------------------------------------------------------


class _NamedHandler(BaseHTTPRequestHandler):
    """Answers every GET with 200 and the address it was reached on."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.server_address[0].encode()  # type: ignore[index]
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Health checks and the proxy close connections mid-way; that is not news."""


class Backend:
    """A tiny HTTP server on a loopback address, in a thread."""

    def __init__(self, address: str, port: int) -> None:
        self.server = _QuietServer((address, port), _NamedHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="proxy-config-") as tmp:
        yield Path(tmp)


def test_requests_to_a_server_that_stopped_unnoticed_go_to_the_other_one(tmp_dir: Path) -> None:
    port, proxy_port = free_port(), free_port()
    backends = [Backend("127.0.0.2", port), Backend("127.0.0.3", port)]
    servers = [StaticServer("a", "127.0.0.2", port), StaticServer("b", "127.0.0.3", port)]
    # Checks far apart: the proxy keeps believing the stopped server is up during the test.
    health = HealthCheck(interval_ms=60_000, timeout_ms=1_000, rise=1, fall=3)
    socket_path = tmp_dir / "admin.sock"
    config = haproxy_config(
        bind_address="127.0.0.1",
        bind_port=proxy_port,
        servers=servers,
        health_check=health,
        admin_socket=str(socket_path),
    )
    url = f"http://127.0.0.1:{proxy_port}"
    try:
        with running_haproxy(config, socket_path, url) as proxy:
            proxy.wait_status("a", "UP", timeout=10)
            proxy.wait_status("b", "UP", timeout=10)
            backends[0].stop()

            answers = [http_get(url + "/") for _ in range(20)]

            assert [status for status, _, _ in answers] == [200] * 20
            assert {body for _, _, body in answers} == {b"127.0.0.3"}
            assert proxy.stats()["a"]["status"] == "UP", "still believed up: the retry did it"
            assert int(proxy.backend_stats()["wredis"]) > 0, "requests were redispatched"
    finally:
        for backend in backends:
            backend.stop()


def test_docker_shape_sends_traffic_to_every_address_the_name_resolves_to(tmp_dir: Path) -> None:
    port, proxy_port = free_port(), free_port()
    addresses = ["127.0.0.2", "127.0.0.3"]
    backends = [Backend(address, port) for address in addresses]
    try:
        with dns_server(tmp_dir, {"replicas.test": addresses}) as dns:
            socket_path = tmp_dir / "admin.sock"
            template = DnsServerTemplate(
                hostname="replicas.test",
                port=port,
                slots=4,
                nameserver=dns.address,
                nameserver_port=dns.port,
            )
            config = haproxy_config(
                bind_address="127.0.0.1",
                bind_port=proxy_port,
                servers=template,
                health_check=HealthCheck(interval_ms=200, timeout_ms=200, rise=1, fall=2),
                admin_socket=str(socket_path),
            )
            url = f"http://127.0.0.1:{proxy_port}"
            with running_haproxy(config, socket_path, url) as proxy:
                for slot in ("replica1", "replica2"):
                    proxy.wait_status(slot, "UP", timeout=15)
                assert proxy.stats()["replica3"]["status"].startswith("MAINT"), "empty slot"

                bodies = {http_get(url + "/")[2] for _ in range(10)}

                assert bodies == {address.encode() for address in addresses}
    finally:
        for backend in backends:
            backend.stop()
