"""Real clustered release nodes on loopback: the set-up of tests/test_app_cluster.py,
tests/test_rolling_restart.py and bench/rolling_restart.py.

Each node is the prod release (``bin/<release> start``) with the environment the
infrastructure sets on ECS, on its own loopback address standing in for a task IP:

- ``RELEASE_DISTRIBUTION=name``, ``RELEASE_NODE=<release>@<address>``, ``RELEASE_COOKIE``;
- ``DNS_CLUSTER_QUERY`` answered by a real dnsmasq (``tests.dns_support``), which the node's
  ``:inet_res`` asks because ``ERL_INETRC`` says so;
- ``ERL_AFLAGS="-start_epmd false -erl_epmd_port <port>"``: distribution on one fixed port
  without EPMD (docs/clustering.md), bound here to the node's own address;
- ``BIND_ADDRESS=<address>`` and the same HTTP ``PORT`` on every node, as on ECS.

EPMD-less is also what makes this possible on one host: EPMD registers nodes by the part of the
name before the ``@``, so one EPMD would refuse a second ``<release>`` node on the same
machine, whatever its address.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.app_release import (
    BOOT_TIMEOUT_S,
    RELEASE_NAME,
    ReleaseError,
    build_release,
    free_port,
    group_processes,
    http_get,
    release_env,
)
from tests.dns_support import DnsServer, dns_server, erlang_inetrc

QUERY = "elixir-app.cluster.test"
"""The DNS name every node is given as DNS_CLUSTER_QUERY (a Cloud Map service name on ECS)."""
NODE_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
"""Stand-ins for three task IPs."""
OUTSIDER_ADDRESS = "127.0.0.5"
"""A fourth address, for a node that must not join."""
STOP_TIMEOUT_S = 30.0

# Without busy-waiting schedulers, idle nodes leave the CI machine's few cores to the others.
# Behaviour is unchanged; only idle CPU use is.
QUIET_SCHEDULERS = "+sbwt none +sbwtdcpu none +sbwtdio none"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class ClusterNode:
    """One release node; ``start``/``stop`` may be called again and again (restarts)."""

    address: str
    http_port: int
    dist_port: int
    cookie: str
    inetrc: Path
    tmp_dir: Path
    interval_ms: int
    drain_ms: int
    debug_routes: bool = False
    """Serve /debug/sleep (slow requests for the rolling-restart load)."""
    query: str = QUERY
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    boot_seconds: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{RELEASE_NAME}@{self.address}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.tmp_dir / f"{self.address}.log"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def env(self) -> dict[str, str]:
        ip_tuple = "{" + self.address.replace(".", ",") + "}"
        node_tmp = self.tmp_dir / f"{self.address}-tmp"
        node_tmp.mkdir(exist_ok=True)
        return release_env(
            self.http_port,
            node_tmp,
            {
                "RELEASE_DISTRIBUTION": "name",
                "RELEASE_NODE": self.name,
                "RELEASE_COOKIE": self.cookie,
                "ERL_INETRC": str(self.inetrc),
                "ERL_AFLAGS": (
                    f"-start_epmd false -erl_epmd_port {self.dist_port} "
                    f"-kernel inet_dist_use_interface {ip_tuple} {QUIET_SCHEDULERS}"
                ),
                "DNS_CLUSTER_QUERY": self.query,
                "DNS_CLUSTER_INTERVAL_MS": str(self.interval_ms),
                "BIND_ADDRESS": self.address,
                "SHUTDOWN_DRAIN_MS": str(self.drain_ms),
                "ELIXIR_APP_DEBUG_ROUTES": "true" if self.debug_routes else "false",
            },
        )

    def start(self) -> float:
        """Start the node and wait until its /health answers 200; returns the boot time."""
        if self.process is not None and self.process.poll() is None:
            raise ReleaseError(f"{self.name} is already running")
        root = build_release()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"=== start {self.starts} ===\n".encode())
            log.flush()
            started = time.monotonic()
            self.process = subprocess.Popen(
                [str(root / "bin" / RELEASE_NAME), "start"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,
            )
        deadline = started + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReleaseError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.output()}"
                )
            with contextlib.suppress(OSError):
                if http_get(self.base_url + "/health", timeout=1.0)[0] == 200:
                    self.boot_seconds.append(time.monotonic() - started)
                    return self.boot_seconds[-1]
            time.sleep(0.02)
        self.kill()
        raise ReleaseError(f"{self.name}: no /health 200 in {BOOT_TIMEOUT_S} s:\n{self.output()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the BEAM (what ECS and `docker stop` send) and return its exit status."""
        process = self.process
        if process is None:
            raise ReleaseError(f"{self.name} was never started")
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ReleaseError(f"{self.name} ignored SIGTERM for {timeout} s") from None
        self._reap_group(process.pid)
        return status

    def kill(self) -> None:
        """SIGKILL the node's whole process group (cleanup after a failure)."""
        if self.process is not None:
            _kill_group(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            self._reap_group(self.process.pid)

    @staticmethod
    def _reap_group(pgid: int) -> None:
        deadline = time.monotonic() + 5
        while group_processes(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if group_processes(pgid):
            _kill_group(pgid)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cluster(self) -> dict[str, Any]:
        """The node's ``GET /cluster`` document."""
        status, _headers, body = http_get(self.base_url + "/cluster", timeout=5.0)
        if status != 200:
            raise ReleaseError(f"{self.name}: GET /cluster answered {status}: {body!r}")
        return json.loads(body)

    def peers(self) -> set[str]:
        return set(self.cluster()["nodes"])

    def metric(self, name: str) -> float:
        """The value of an unlabelled gauge from the node's /metrics."""
        _status, _headers, body = http_get(self.base_url + "/metrics", timeout=5.0)
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return sample.value
        raise ReleaseError(f"{self.name}: no {name} in /metrics")


@dataclass
class Cluster:
    """Nodes, the DNS server answering their query, and what a new node needs to join."""

    nodes: list[ClusterNode]
    dns: DnsServer
    http_port: int
    dist_port: int
    cookie: str
    inetrc: Path
    tmp_dir: Path
    interval_ms: int
    drain_ms: int
    debug_routes: bool = False

    def node(self, address: str, cookie: str | None = None) -> ClusterNode:
        """A node (not started) on ``address``, sharing the cluster's ports and settings."""
        return ClusterNode(
            address=address,
            http_port=self.http_port,
            dist_port=self.dist_port,
            cookie=cookie or self.cookie,
            inetrc=self.inetrc,
            tmp_dir=self.tmp_dir,
            interval_ms=self.interval_ms,
            drain_ms=self.drain_ms,
            debug_routes=self.debug_routes,
        )

    def publish(self, addresses: Sequence[str]) -> None:
        """Make the DNS query answer exactly ``addresses``."""
        self.dns.set_records(QUERY, addresses)

    def outputs(self) -> str:
        """Every node's log and the DNS server's, for failure messages."""
        parts = [f"--- {node.name} ---\n{node.output()}" for node in self.nodes]
        return "\n".join([*parts, f"--- dnsmasq ---\n{self.dns.output()}"])

    def wait_for_mesh(
        self, nodes: Sequence[ClusterNode] | None = None, timeout: float = 20.0
    ) -> float:
        """Wait until each of ``nodes`` (default: all running ones) is connected to exactly
        the others; returns how long it took."""
        members = [n for n in (nodes or self.nodes) if n.running]
        names = {n.name for n in members}
        started = time.monotonic()
        seen: dict[str, Any] = {}
        while time.monotonic() - started < timeout:
            with contextlib.suppress(OSError, ReleaseError, ValueError):
                seen = {n.name: sorted(n.peers()) for n in members}
                if all(set(peers) == names - {name} for name, peers in seen.items()):
                    return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(
            f"no full mesh of {sorted(names)} within {timeout} s; peers seen: {seen}\n"
            f"{self.outputs()}"
        )


@contextlib.contextmanager
def running_cluster(
    addresses: Sequence[str] = NODE_ADDRESSES,
    *,
    interval_ms: int = 300,
    drain_ms: int = 5_000,
    debug_routes: bool = False,
) -> Iterator[Cluster]:
    """Start dnsmasq and one node per address, all in DNS; stop them all on exit (SIGTERM,
    then SIGKILL of whatever is left)."""
    build_release()
    with (
        tempfile.TemporaryDirectory(prefix=f"{RELEASE_NAME}-cluster-") as tmp,
        dns_server(Path(tmp), {QUERY: list(addresses)}) as dns,
    ):
        tmp_dir = Path(tmp)
        inetrc = tmp_dir / "inetrc"
        inetrc.write_text(erlang_inetrc(dns))
        cluster = Cluster(
            nodes=[],
            dns=dns,
            http_port=free_port(),
            dist_port=free_port(),
            cookie=secrets.token_urlsafe(32),
            inetrc=inetrc,
            tmp_dir=tmp_dir,
            interval_ms=interval_ms,
            drain_ms=drain_ms,
            debug_routes=debug_routes,
        )
        cluster.nodes = [cluster.node(address) for address in addresses]
        try:
            for node in cluster.nodes:
                node.start()
            yield cluster
        finally:
            for node in cluster.nodes:
                if node.running:
                    with contextlib.suppress(ReleaseError):
                        node.stop()
                node.kill()
