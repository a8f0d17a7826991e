"""A rolling restart under load, the way ECS replaces tasks behind its load balancer, on real
processes: the clustered release nodes of ``tests.cluster_support`` behind a real HAProxy
(configured by ``components.proxy_config``), loaded by ``wrk``.

For each node in turn (:func:`roll`):

1. deregister it: ``set server app/<node> state drain`` - no new requests, in-flight ones
   finish (the ALB's "draining" target);
2. wait out the deregistration delay;
3. SIGTERM it (ECS's StopTask) and check it exits 0 after its own drain;
4. start it again - the new task - and wait until it has rejoined the cluster;
5. register it unhealthy (``health down`` + ``state ready``, like a new ALB target in
   "initial") and wait until the proxy's health checks pass ``rise`` times in a row.

:func:`wrk_load` runs ``wrk`` paced by a Lua ``delay()`` (a bounded load, not a flood)
until it is stopped or its duration ends, and reads its summary from the Lua ``done()`` hook.
Two loads run at once: quick ``GET /`` and slow ``GET /debug/sleep?ms=N`` requests, so that
requests are in flight when a node is deregistered and when it gets SIGTERM.
``tests/test_rolling_restart.py`` asserts on it; ``bench/rolling_restart.py`` prints it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from components.proxy_config import BACKEND, HealthCheck, StaticServer, haproxy_config
from tests.app_release import free_port, require_tool
from tests.cluster_support import Cluster, ClusterNode, running_cluster
from tests.haproxy_support import Haproxy, running_haproxy
from tests.sample import RELEASE_NAME

WRK_HINT = "install wrk (Debian/Ubuntu: `sudo apt-get install wrk`)"

DRAIN_AFTER_DEREGISTRATION_S = 10.0
"""The ALB adds this to the deregistration delay for the stop timeout (settings.py: stop
timeout = delay + 15 s, SHUTDOWN_DRAIN_MS = stop timeout - 5 s)."""


@dataclass(frozen=True)
class RollTimings:
    """The knobs that bound a rolling deploy, in the units the AWS settings use."""

    deregistration_delay_s: float
    """ALB target group ``deregistration_delay``: how long a deregistered target drains."""
    health_interval_s: float
    """Health check ``interval``."""
    health_timeout_s: float
    """Health check ``timeout`` (the ALB needs it below the interval)."""
    healthy_threshold: int
    """Consecutive passing checks before a new target takes traffic."""
    unhealthy_threshold: int
    """Consecutive failing checks before a target stops taking traffic."""

    @property
    def shutdown_drain_ms(self) -> int:
        """``SHUTDOWN_DRAIN_MS`` the service gives the app for this deregistration delay."""
        return round((self.deregistration_delay_s + DRAIN_AFTER_DEREGISTRATION_S) * 1000)

    @property
    def deploy_bound_s(self) -> float:
        """What each batch of a rolling deploy waits for at least: draining the old task, then
        the new one passing its health checks."""
        return self.deregistration_delay_s + self.healthy_threshold * self.health_interval_s

    def scaled(self, factor: float) -> RollTimings:
        """Every duration multiplied by ``factor`` (thresholds unchanged)."""
        return RollTimings(
            deregistration_delay_s=self.deregistration_delay_s * factor,
            health_interval_s=self.health_interval_s * factor,
            health_timeout_s=self.health_timeout_s * factor,
            healthy_threshold=self.healthy_threshold,
            unhealthy_threshold=self.unhealthy_threshold,
        )

    def health_check(self) -> HealthCheck:
        return HealthCheck(
            path="/health",
            interval_ms=round(self.health_interval_s * 1000),
            timeout_ms=round(self.health_timeout_s * 1000),
            rise=self.healthy_threshold,
            fall=self.unhealthy_threshold,
        )


CURRENT_AWS = RollTimings(30, 10, 5, 2, 3)
"""components/aws/load_balancer.py and Pulumi.yaml before issue #12: a 50 s bound."""
PROPOSED_AWS = RollTimings(15, 5, 3, 2, 3)
"""What the rolling-restart measurements support (docs/clustering.md): a 25 s bound."""
TEST_TIMINGS = PROPOSED_AWS.scaled(0.1)
"""The proposed timings at a tenth of the duration, so the test stays fast."""


@dataclass
class NodeRoll:
    """What happened to one node during the roll (seconds)."""

    node: str
    in_flight_at_deregistration: int = 0
    drained_after_s: float | None = None
    """From deregistration until the proxy had no request in flight to the node; ``None`` if
    requests were still in flight when the deregistration delay ended."""
    stop_s: float = 0.0
    """SIGTERM until the BEAM exited."""
    exit_status: int | None = None
    boot_s: float = 0.0
    """Start until /health answered 200."""
    rejoined_s: float = 0.0
    """/health 200 until the node was in a full mesh again."""
    healthy_s: float = 0.0
    """Registered until the proxy's health checks passed."""
    total_s: float = 0.0


@dataclass
class LoadResult:
    """wrk's summary: counts, socket errors, latencies in microseconds."""

    requests: int
    duration_us: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    error_statuses: int
    """Responses with status >= 400 (wrk's ``errors.status``)."""
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float

    @property
    def failures(self) -> int:
        return (
            self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.error_statuses
        )


_WRK_SCRIPT = """
local pace_ms = %d
function delay() return pace_ms end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_SUMMARY {"requests":%%d,"duration_us":%%d,"connect_errors":%%d,' ..
    '"read_errors":%%d,"write_errors":%%d,"error_statuses":%%d,"timeouts":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class WrkRun:
    process: subprocess.Popen[str]
    result: LoadResult | None = None
    output: str = ""

    def stop(self) -> LoadResult:
        """SIGINT (wrk then prints its summary) and parse the summary."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.output, _ = self.process.communicate(timeout=30)
        for line in self.output.splitlines():
            if line.startswith("WRK_SUMMARY "):
                self.result = LoadResult(**json.loads(line.removeprefix("WRK_SUMMARY ")))
                return self.result
        raise RuntimeError(f"wrk printed no summary ({self.process.returncode}):\n{self.output}")


@contextlib.contextmanager
def wrk_load(
    url: str, *, connections: int, pace_ms: int, max_duration_s: int, tmp_dir: Path
) -> Iterator[WrkRun]:
    """Run wrk against ``url`` until the block ends (or ``max_duration_s``), each connection
    waiting ``pace_ms`` between requests; yields the run, stopped and parsed on exit."""
    wrk = require_tool("wrk", WRK_HINT)
    with tempfile.NamedTemporaryFile(
        "w", dir=tmp_dir, prefix="paced-", suffix=".lua", delete=False
    ) as script:
        script.write(_WRK_SCRIPT % pace_ms)
    process = subprocess.Popen(
        [
            wrk,
            "--threads=1",
            f"--connections={connections}",
            f"--duration={max_duration_s}s",
            "--timeout=10s",
            f"--script={script.name}",
            url,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    run = WrkRun(process)
    try:
        yield run
    finally:
        if run.result is None:
            try:
                run.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(timeout=5)


@dataclass
class Rig:
    """The nodes, the proxy in front of them, and the proxy's server name for each node."""

    cluster: Cluster
    proxy: Haproxy
    timings: RollTimings
    server_names: dict[str, str] = field(default_factory=dict)

    def server(self, node: ClusterNode) -> str:
        return self.server_names[node.name]


@contextlib.contextmanager
def rolling_rig(
    timings: RollTimings, *, interval_ms: int = 500, proxy_retries: bool = False
) -> Iterator[Rig]:
    """Three clustered nodes (drain set from ``timings``, slow ``/debug/sleep?ms=N`` requests
    on) behind HAProxy health-checking them with ``timings``; every server UP before the rig
    is yielded.

    By default the proxy does not retry failed requests elsewhere, like the ALB: whatever
    the roll breaks reaches the clients. ``proxy_retries=True`` is the local target's proxy.
    """
    drain_ms = timings.shutdown_drain_ms
    with (
        running_cluster(interval_ms=interval_ms, drain_ms=drain_ms, debug_routes=True) as cluster,
        tempfile.TemporaryDirectory(prefix=f"{RELEASE_NAME}-proxy-") as tmp,
    ):
        cluster.wait_for_mesh()
        names = {node.name: f"node{i}" for i, node in enumerate(cluster.nodes, start=1)}
        servers = [
            StaticServer(names[node.name], node.address, node.http_port) for node in cluster.nodes
        ]
        proxy_port = free_port()
        admin_socket = Path(tmp) / "admin.sock"
        config = haproxy_config(
            bind_address="127.0.0.1",
            bind_port=proxy_port,
            servers=servers,
            health_check=timings.health_check(),
            admin_socket=str(admin_socket),
            log_requests=False,
            retry_elsewhere=proxy_retries,
        )
        url = f"http://127.0.0.1:{proxy_port}"
        with running_haproxy(config, admin_socket, url) as proxy:
            bound = timings.healthy_threshold * timings.health_interval_s + 10
            for name in names.values():
                proxy.wait_status(name, "UP", timeout=bound)
            yield Rig(cluster, proxy, timings, names)


def roll(rig: Rig, *, deregister: bool = True) -> list[NodeRoll]:
    """Replace every node in turn as ECS does (see the module docstring).

    ``deregister=False`` skips steps 1-2 and 5's registration: the node is SIGTERMed while
    the proxy still routes to it and only health checks and retries protect the clients
    (the bench's control experiment; ECS never does this).
    """
    proxy, timings = rig.proxy, rig.timings
    check_bound = (timings.healthy_threshold + 2) * timings.health_interval_s + 10
    figures = []
    for node in rig.cluster.nodes:
        server = rig.server(node)
        figure = NodeRoll(node=node.name)
        started = time.monotonic()
        if deregister:
            proxy.set_state(server, "drain")
            figure.in_flight_at_deregistration = int(proxy.stats()[server]["scur"])
            while time.monotonic() - started < timings.deregistration_delay_s:
                if int(proxy.stats()[server]["scur"]) == 0:
                    figure.drained_after_s = time.monotonic() - started
                    break
                time.sleep(0.005)
            remaining = timings.deregistration_delay_s - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)

        stopping = time.monotonic()
        figure.exit_status = node.stop()
        figure.stop_s = time.monotonic() - stopping

        figure.boot_s = node.start()
        booted = time.monotonic()
        rig.cluster.wait_for_mesh()
        figure.rejoined_s = time.monotonic() - booted

        registered = time.monotonic()
        if deregister:
            # A new target: no traffic until `rise` checks in a row pass. (Leaving MAINT would
            # trust the last check before the stop; DRAIN keeps checking, so this sticks.)
            proxy.command(f"set server {BACKEND}/{server} health down")
            proxy.set_state(server, "ready")
        proxy.wait_status(server, "UP", timeout=check_bound)
        figure.healthy_s = time.monotonic() - registered
        figure.total_s = time.monotonic() - started
        figures.append(figure)
    return figures
