"""The real prod release of app/: endpoints, metric contract, SIGTERM drain, node naming."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.app_release import (
    RELEASE_NAME,
    RunningRelease,
    build_release,
    free_port,
    http_get,
    release_env,
    require_tool,
    running_release,
)
from tests.sample import sample_only

pytestmark = sample_only()

PREFIX = "elixir_app_prom_ex"
"""PromEx's default prefix for the sample's OTP application (docs/monitoring.md)."""
BEAM = f"{PREFIX}_beam"
REQUESTS = f"{PREFIX}_phoenix_http_requests"
DURATION = f"{PREFIX}_phoenix_http_request_duration_milliseconds"
MEMORY_KINDS = ("processes", "binary", "ets", "atom", "code", "persistent_term")
CONTRACT_GAUGES = [
    f"{BEAM}_memory_allocated_bytes",
    *(f"{BEAM}_memory_{kind}_total_bytes" for kind in MEMORY_KINDS),
    f"{BEAM}_stats_process_count",
    f"{BEAM}_stats_port_count",
    f"{BEAM}_stats_atom_count",
    f"{BEAM}_stats_run_queue_count",
    f"{BEAM}_stats_uptime_milliseconds_count",
    f"{BEAM}_system_process_limit_info",
    "beam_connected_nodes",
]


@pytest.fixture(scope="module")
def release() -> Iterator[RunningRelease]:
    """The release as production runs it: no debug routes."""
    with running_release() as running:
        yield running


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def scrape(release: RunningRelease) -> dict[str, Metric]:
    """Metric families by name, parsed by the official Prometheus client parser.

    The parser names counter families without their `_total` suffix."""
    status, headers, body = http_get(release.base_url + "/metrics")
    assert status == 200, release.output()
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def sample_value(samples: list[Sample], name: str, **labels: str) -> float:
    matches = [s.value for s in samples if s.name == name and s.labels == labels]
    return matches[0] if matches else 0.0


def run_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `bin/<release> ARGS` to completion with `env` (see release_env)."""
    return subprocess.run(
        [str(build_release() / "bin" / RELEASE_NAME), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        check=False,
    )


# --- endpoints ---------------------------------------------------------------------------


def test_health_answers_200_with_json(release: RunningRelease) -> None:
    status, headers, body = http_get(release.base_url + "/health")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}


def test_index_answers_200(release: RunningRelease) -> None:
    status, headers, body = http_get(release.base_url + "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert RELEASE_NAME.encode() in body


def test_unknown_path_is_404(release: RunningRelease) -> None:
    assert http_get(release.base_url + "/no/such/page")[0] == 404


def test_debug_routes_are_off_by_default(release: RunningRelease) -> None:
    assert http_get(release.base_url + "/debug/sleep?ms=1")[0] == 404


def test_malformed_requests_get_400_and_the_server_keeps_serving(release: RunningRelease) -> None:
    for garbage in [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon in this header\r\n\r\n",
        b"GET / HTTP/1.1\r\ncontent-length: -3\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS hello on a plain port
    ]:
        response = raw_request(release.port, garbage)
        assert response.startswith(b"HTTP/1.1 400 "), (garbage, response)
    assert http_get(release.base_url + "/health")[0] == 200
    assert release.process.poll() is None


# --- metrics -----------------------------------------------------------------------------


def test_metric_contract_families_exist_with_sane_values(release: RunningRelease) -> None:
    http_get(release.base_url + "/health")
    families = scrape(release)
    types = {name: family.type for name, family in families.items()}
    for name in CONTRACT_GAUGES:
        assert types.get(name) == "gauge", f"{name}: {types.get(name)}"
    assert types.get(REQUESTS) == "counter"
    assert types.get(DURATION) == "histogram"

    samples = {name: family.samples for name, family in families.items()}

    def gauge(suffix: str) -> float:
        (sample,) = samples[f"{BEAM}_{suffix}"]
        return sample.value

    memory = {kind: gauge(f"memory_{kind}_total_bytes") for kind in MEMORY_KINDS}
    assert all(value > 0 for value in memory.values()), memory
    assert gauge("memory_allocated_bytes") > memory["processes"]
    assert gauge("stats_process_count") > 10
    assert gauge("stats_port_count") > 0
    assert gauge("stats_atom_count") > 1000
    assert {s.labels["type"] for s in samples[f"{BEAM}_stats_run_queue_count"]} == {
        "normal",
        "dirty",
    }
    assert gauge("stats_uptime_milliseconds_count") >= 0
    assert gauge("system_process_limit_info") == 262144, "the BEAM's default +P"


def test_http_requests_total_counts_this_tests_requests(release: RunningRelease) -> None:
    before = scrape(release)[REQUESTS].samples
    for _ in range(3):
        http_get(release.base_url + "/health")
    http_get(release.base_url + "/")
    for path in ["/nope", "/also/nope", "/nope?with=query"]:
        http_get(release.base_url + path)
    raw_request(release.port, b"GARBAGE\r\n\r\n")
    after = scrape(release)[REQUESTS].samples

    def delta(**labels: str) -> float:
        name = f"{REQUESTS}_total"
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    assert delta(method="GET", path="/health", status="200") == 3
    assert delta(method="GET", path="/", status="200") == 1
    assert delta(method="GET", path="other", status="404") == 3
    assert delta(method="other", path="other", status="400") == 1
    # The scrape before counts once the response is written, i.e. before the second one.
    assert delta(method="GET", path="/metrics", status="200") == 1
    paths = {s.labels["path"] for s in after}
    assert paths <= {"/", "/health", "/metrics", "other"}, "unknown paths must not become labels"


def test_duration_histogram_is_cumulative_and_ends_with_count(release: RunningRelease) -> None:
    http_get(release.base_url + "/health")
    samples = scrape(release)[DURATION].samples
    series = {
        tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        for s in samples
        if s.name.endswith("_bucket")
    }
    assert series, "no histogram series"
    for labels in series:
        label_dict = dict(labels)
        assert set(label_dict) == {"method", "path", "status"}
        buckets = [
            (float(s.labels["le"]), s.value)
            for s in samples
            if s.name.endswith("_bucket")
            and {k: v for k, v in s.labels.items() if k != "le"} == label_dict
        ]
        bounds = [le for le, _ in buckets]
        counts = [count for _, count in buckets]
        assert bounds == [10, 100, 500, 1000, 5000, 10000, 30000, float("inf")], "PromEx's"
        assert counts == sorted(counts), f"buckets not cumulative for {label_dict}"
        count = sample_value(samples, f"{DURATION}_count", **label_dict)
        assert counts[-1] == count > 0
        assert sample_value(samples, f"{DURATION}_sum", **label_dict) > 0


# --- runtime configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "SECRET_KEY_BASE is missing"), ("too-short", "at least 64 bytes")],
)
def test_prod_release_refuses_to_boot_without_a_proper_secret(
    tmp_path: Path, secret: str | None, message: str
) -> None:
    env = release_env(free_port(), tmp_path)
    del env["SECRET_KEY_BASE"]
    if secret is not None:
        env["SECRET_KEY_BASE"] = secret
    result = run_command(["start"], env)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_release_exits_with_a_clear_message_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_command(["start"], release_env(port, tmp_path))
    assert result.returncode != 0
    assert f"cannot listen on port {port}: address already in use" in result.stdout + result.stderr


# --- FORCE_SSL (what a Phoenix app's force_ssl does behind the load balancer) ------------------

PUBLIC_HOST = "app.example.com"
# The ALB's health check: the target's private IP and port as Host, no X-Forwarded-* headers.
ALB_HEALTH_CHECK_HOST = "10.0.12.34:4000"


def raw_get(release: RunningRelease, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    """GET without following redirects: (status, response headers)."""
    connection = http.client.HTTPConnection("127.0.0.1", release.port, timeout=5)
    try:
        connection.putrequest("GET", path, skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        connection.close()


def test_force_ssl_redirects_users_and_lets_the_load_balancers_health_check_through() -> None:
    with running_release(env={"FORCE_SSL": "true", "PHX_HOST": PUBLIC_HOST}) as release:
        status, headers = raw_get(release, "/health", {"Host": ALB_HEALTH_CHECK_HOST})
        assert status == 200, release.output()
        assert "strict-transport-security" not in headers

        plain = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "http"}
        status, headers = raw_get(release, "/cluster?view=1", plain)
        assert (status, headers["location"]) == (301, f"https://{PUBLIC_HOST}/cluster?view=1")

        secure = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
        status, headers = raw_get(release, "/", secure)
        assert status == 200
        assert headers["strict-transport-security"] == "max-age=31536000"

        # Anything else addressed to the task's IP is redirected too: only the path is exempt.
        status, _ = raw_get(release, "/", {"Host": ALB_HEALTH_CHECK_HOST})
        assert status == 301


def test_force_ssl_is_off_by_default(release: RunningRelease) -> None:
    status, headers = raw_get(release, "/", {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "http"})
    assert status == 200 and "location" not in headers


def test_force_ssl_accepts_only_true_or_false(tmp_path: Path) -> None:
    result = run_command(["start"], release_env(free_port(), tmp_path, {"FORCE_SSL": "yes"}))
    assert result.returncode != 0
    assert "FORCE_SSL must be true or false" in result.stdout + result.stderr


# --- SIGTERM -----------------------------------------------------------------------------


def test_sigterm_lets_an_in_flight_request_finish_and_exits_0() -> None:
    drain_ms = 5000
    env = {"ELIXIR_APP_DEBUG_ROUTES": "true", "SHUTDOWN_DRAIN_MS": str(drain_ms)}
    with running_release(env=env) as release:
        result: dict[str, object] = {}

        def slow_request() -> None:
            result["response"] = http_get(release.base_url + "/debug/sleep?ms=1500", timeout=10)

        client = threading.Thread(target=slow_request)
        client.start()
        time.sleep(0.4)  # the request is accepted and sleeping
        started = time.monotonic()
        exit_code = release.terminate(timeout=drain_ms / 1000 + 5)
        elapsed = time.monotonic() - started
        client.join(timeout=5)

        assert exit_code == 0, release.output()
        assert elapsed < drain_ms / 1000 + 2
        status, _, body = result["response"]  # type: ignore[misc]
        assert (status, json.loads(body)) == (200, {"slept_ms": 1500})
        assert "draining 1 connection" in release.output()
        assert release.leftover_processes() == []


def test_sigterm_cuts_requests_still_running_at_the_drain_bound() -> None:
    env = {"ELIXIR_APP_DEBUG_ROUTES": "true", "SHUTDOWN_DRAIN_MS": "500"}
    with running_release(env=env) as release:
        with socket.create_connection(("127.0.0.1", release.port), timeout=10) as sock:
            sock.sendall(b"GET /debug/sleep?ms=20000 HTTP/1.1\r\nhost: x\r\n\r\n")
            time.sleep(0.3)
            started = time.monotonic()
            exit_code = release.terminate(timeout=10)
            elapsed = time.monotonic() - started
            assert sock.recv(1024) == b"", "connection closed without a response"
        assert exit_code == 0, release.output()
        assert elapsed < 4, f"took {elapsed:.1f} s with a 0.5 s drain bound"
        assert "drain timed out" in release.output()
        assert release.leftover_processes() == []


# --- rel/env.sh.eex: node name from ECS task metadata --------------------------------------

TASK_IP = "10.0.3.77"
TASK_METADATA = {
    "Cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/app",
    "TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/app/0123456789abcdef",
    "Containers": [
        {
            "Name": "app",
            "Networks": [
                {
                    "NetworkMode": "awsvpc",
                    "IPv4Addresses": [TASK_IP],
                    "IPv4SubnetCIDRBlock": "10.0.3.0/24",
                }
            ],
        }
    ],
}


@pytest.fixture
def metadata_endpoint() -> Iterator[tuple[str, list[str]]]:
    """A fake ECS task metadata endpoint v4 on loopback; yields (base URI, paths requested)."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            if self.path == "/v4/abc123/task":
                body = json.dumps(TASK_METADATA, indent=2).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc123", requested
    finally:
        server.shutdown()
        server.server_close()


def path_without(tmp_path: Path, hidden: set[str]) -> str:
    """A PATH with every executable of the current PATH except `hidden` (symlinked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name in hidden or target.exists() or target.is_symlink():
                continue
            if entry.is_file() and os.access(entry.path, os.X_OK):
                target.symlink_to(entry.path)
    return str(bin_dir)


def node_settings(tmp_path: Path, env: dict[str, str]) -> tuple[str, str]:
    """RELEASE_NODE and RELEASE_DISTRIBUTION as the release's own bin script computes them."""
    full_env = release_env(free_port(), tmp_path, env)
    for name in ("RELEASE_DISTRIBUTION", "RELEASE_NODE"):
        if name not in env:
            full_env.pop(name, None)
    expr = 'IO.puts(System.fetch_env!("RELEASE_NODE") <> " " <> System.fetch_env!("RELEASE_DISTRIBUTION"))'  # noqa: E501
    result = run_command(["eval", expr], full_env)
    assert result.returncode == 0, result.stdout + result.stderr
    node, distribution = result.stdout.strip().splitlines()[-1].split(" ")
    return node, distribution


def test_node_is_named_after_the_ecs_task_ip(
    tmp_path: Path, metadata_endpoint: tuple[str, list[str]]
) -> None:
    uri, requested = metadata_endpoint
    node, distribution = node_settings(tmp_path, {"ECS_CONTAINER_METADATA_URI_V4": uri})
    assert (node, distribution) == (f"{RELEASE_NAME}@{TASK_IP}", "name")
    assert requested == ["/v4/abc123/task"]


def test_node_name_works_without_curl_or_wget(
    tmp_path: Path, metadata_endpoint: tuple[str, list[str]]
) -> None:
    # The runtime image (debian-slim) has neither; perl-base is Essential in Debian.
    require_tool("perl", "the env.sh fallback uses perl: `sudo apt-get install perl-base`")
    uri, requested = metadata_endpoint
    env = {
        "ECS_CONTAINER_METADATA_URI_V4": uri,
        "PATH": path_without(tmp_path, {"curl", "wget"}),
    }
    assert shutil.which("curl", path=env["PATH"]) is None
    assert shutil.which("wget", path=env["PATH"]) is None
    node, _ = node_settings(tmp_path, env)
    assert node == f"{RELEASE_NAME}@{TASK_IP}"
    assert requested == ["/v4/abc123/task"]


def test_node_falls_back_to_the_host_ip_when_metadata_is_unreachable(tmp_path: Path) -> None:
    dead_uri = f"http://127.0.0.1:{free_port()}/v4/gone"
    started = time.monotonic()
    node, distribution = node_settings(tmp_path, {"ECS_CONTAINER_METADATA_URI_V4": dead_uri})
    name, _, host = node.partition("@")
    assert (name, distribution) == (RELEASE_NAME, "name")
    octets = host.split(".")
    assert len(octets) == 4 and all(o.isdigit() and 0 <= int(o) <= 255 for o in octets), node
    assert time.monotonic() - started < 15


def test_explicit_distribution_settings_win(
    tmp_path: Path, metadata_endpoint: tuple[str, list[str]]
) -> None:
    uri, requested = metadata_endpoint
    env = {
        "ECS_CONTAINER_METADATA_URI_V4": uri,
        "RELEASE_DISTRIBUTION": "none",
        "RELEASE_NODE": "custom@example",
    }
    assert node_settings(tmp_path, env) == ("custom@example", "none")
    assert requested == [], "no metadata lookup when the node name is given"
