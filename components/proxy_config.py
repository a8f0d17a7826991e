"""HAProxy configuration in front of the app's replicas (a pure function, no resources).

One renderer, :func:`haproxy_config`, two shapes of backend:

- :class:`StaticServer` entries: explicit ``address:port`` servers. The rolling-restart test and
  benchmark put the proxy in front of release nodes on loopback addresses this way.
- :class:`DnsServerTemplate`: ``server-template`` slots filled from a DNS name. The local target
  runs its replicas under one Docker network alias and the proxy container resolves that alias
  with Docker's embedded DNS server (``127.0.0.11:53``).

Either way the proxy behaves like the AWS load balancer in front of ECS: it health-checks the
app's health path (``GET``, expects 200), round-robins over the healthy servers, and
retries a request whose connection a stopping server refused on another server
(``retries`` + ``option redispatch``), so a replica that goes away between two health checks
does not fail requests. Timeouts suit Phoenix LiveView: a websocket (``timeout tunnel``) lives
far longer than its 30 s heartbeat, idle keep-alive connections are closed by the proxy after
60 s like the ALB does. There is no ``/stats`` page; an optional admin socket (the HAProxy
runtime API on a Unix socket) lets an operator or a test drain a server.

Check a rendered file with ``haproxy -c -f <file>`` (the tests do).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

BACKEND = "app"
"""Name of the backend holding the app's servers (runtime API: ``set server app/<name> ...``)."""

FRONTEND = "http"

LIVEVIEW_HEARTBEAT_SECONDS = 30
"""Phoenix sockets send a heartbeat this often; a websocket must survive several of them."""
TUNNEL_TIMEOUT_SECONDS = 3600
"""Idle limit of an upgraded (websocket) connection; far above the LiveView heartbeat."""
CLIENT_IDLE_TIMEOUT_SECONDS = 60
"""Idle keep-alive client connections close after this, like the ALB's default idle timeout.
The app keeps idle connections 65 s, so the proxy, not the app, closes them first."""
SERVER_TIMEOUT_SECONDS = 60
"""Longest a server may take to answer (inactivity), as behind the ALB."""
CONNECT_TIMEOUT_SECONDS = 2
"""A server that does not accept within this is given up and the request redispatched."""
RETRIES = 3
"""Connection attempts after the first, each to another server (``option redispatch 1``)."""
DOCKER_DNS = "127.0.0.11"
"""Docker's embedded DNS server, reachable from every container on a user-defined network."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")


def _check_port(what: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ValueError(f"{what} must be a TCP port (1-65535), got {port}")


def _check_ipv4(what: str, address: str) -> None:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise ValueError(f"{what} must be an IPv4 address, got {address!r}") from None


@dataclass(frozen=True)
class HealthCheck:
    """How the proxy decides a server may take traffic."""

    path: str = "/health"
    """HTTP path probed with ``GET``; a server is healthy while it answers 200."""
    interval_ms: int = 5_000
    """Time between two checks of a server."""
    timeout_ms: int = 3_000
    """A check without an answer within this fails; at most ``interval_ms``."""
    rise: int = 2
    """Consecutive successful checks before a server (new, or back) gets traffic."""
    fall: int = 3
    """Consecutive failed checks before a server stops getting traffic."""

    def __post_init__(self) -> None:
        if not _PATH.match(self.path):
            raise ValueError(f"health check path must be an absolute URL path, got {self.path!r}")
        if self.interval_ms < 1:
            raise ValueError(f"health check interval_ms must be positive, got {self.interval_ms}")
        if not 1 <= self.timeout_ms <= self.interval_ms:
            raise ValueError(
                f"health check timeout_ms must be between 1 and interval_ms "
                f"({self.interval_ms}), got {self.timeout_ms}"
            )
        for what, count in (("rise", self.rise), ("fall", self.fall)):
            if not 1 <= count <= 100:
                raise ValueError(f"health check {what} must be between 1 and 100, got {count}")


@dataclass(frozen=True)
class StaticServer:
    """One server at a fixed IPv4 address."""

    name: str
    """Server name in logs and in the runtime API (letters, digits, ``_.-``)."""
    address: str
    """IPv4 address of the server."""
    port: int
    """Port of the app on that address."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"server name must be letters, digits or _.- , got {self.name!r}")
        _check_ipv4(f"server {self.name} address", self.address)
        _check_port(f"server {self.name} port", self.port)


@dataclass(frozen=True)
class DnsServerTemplate:
    """Up to ``slots`` servers: the A records of ``hostname``, re-resolved while running."""

    hostname: str
    """DNS name of the replicas (the local target: their shared Docker network alias)."""
    port: int
    """Port of the app on every replica."""
    slots: int
    """How many servers the name may fill; at least the number of replicas."""
    nameserver: str = DOCKER_DNS
    """IPv4 address of the DNS server to ask."""
    nameserver_port: int = 53
    """Its UDP port."""

    def __post_init__(self) -> None:
        if not _HOSTNAME.match(self.hostname):
            raise ValueError(f"hostname must be a DNS name, got {self.hostname!r}")
        _check_port("port", self.port)
        if not 1 <= self.slots <= 1000:
            raise ValueError(f"slots must be between 1 and 1000, got {self.slots}")
        _check_ipv4("nameserver", self.nameserver)
        _check_port("nameserver_port", self.nameserver_port)


def haproxy_config(
    *,
    bind_address: str,
    bind_port: int,
    servers: Sequence[StaticServer] | DnsServerTemplate,
    health_check: HealthCheck | None = None,
    admin_socket: str | None = None,
    log_requests: bool = True,
    retry_elsewhere: bool = True,
) -> str:
    """The whole ``haproxy.cfg``: one HTTP frontend on ``bind_address:bind_port``, one backend.

    ``admin_socket`` (a file path) enables the runtime API there, at admin level: whoever can
    open the socket can drain, disable or re-enable servers. ``log_requests`` adds one log line
    per request on stdout (``option httplog``); health-check changes are logged either way.
    ``retry_elsewhere=False`` turns retries off, as the AWS ALB has none: a request sent to a
    server that fails is answered 502/503. The rolling-restart proof runs that way, so that
    deregistration and draining alone, not the proxy, keep requests from failing.
    """
    health = health_check or HealthCheck()
    _check_ipv4("bind_address", bind_address)
    _check_port("bind_port", bind_port)
    if isinstance(servers, DnsServerTemplate):
        template: DnsServerTemplate | None = servers
        static: list[StaticServer] = []
    else:
        template, static = None, list(servers)
        if not static:
            raise ValueError("servers must list at least one server")
        names = [server.name for server in static]
        if len(set(names)) != len(names):
            raise ValueError(f"server names must be unique, got {names}")
    if admin_socket is not None and (not admin_socket.startswith("/") or " " in admin_socket):
        raise ValueError(f"admin_socket must be an absolute path without spaces: {admin_socket!r}")

    lines = [
        "# Rendered by components/proxy_config.py; check with `haproxy -c -f <this file>`.",
        "global",
        "    log stdout format raw local0 info",
        "    maxconn 4096",
    ]
    if admin_socket is not None:
        lines.append(f"    stats socket {admin_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        "    log global",
        *(["    option httplog"] if log_requests else []),
        "    option dontlognull",
        "    option forwardfor",
        *(
            [
                # A connection refused (or timed out) by a stopping server is retried on
                # another one.
                f"    retries {RETRIES}",
                "    option redispatch 1",
                # Also replay a request whose kept-alive server connection closed without an
                # answer; only for methods safe to send twice (`disable-l7-retry` below).
                "    retry-on conn-failure empty-response",
            ]
            if retry_elsewhere
            else ["    retries 0", "    retry-on none"]
        ),
        f"    timeout connect {CONNECT_TIMEOUT_SECONDS}s",
        "    timeout http-request 10s",
        f"    timeout http-keep-alive {CLIENT_IDLE_TIMEOUT_SECONDS}s",
        f"    timeout client {CLIENT_IDLE_TIMEOUT_SECONDS}s",
        f"    timeout server {SERVER_TIMEOUT_SECONDS}s",
        f"    timeout tunnel {TUNNEL_TIMEOUT_SECONDS}s",
        "    timeout client-fin 5s",
        "    timeout queue 5s",
        f"    timeout check {health.timeout_ms}ms",
    ]
    if template is not None:
        lines += [
            "",
            "resolvers dns",
            f"    nameserver dns1 {template.nameserver}:{template.nameserver_port}",
            "    accepted_payload_size 8192",
            "    resolve_retries 3",
            "    timeout resolve 1s",
            "    timeout retry 1s",
            # A replica gone from DNS leaves its slot after this; health checks stop traffic
            # to it sooner.
            "    hold obsolete 5s",
            "    hold valid 5s",
            "    hold nx 5s",
        ]
    lines += [
        "",
        f"frontend {FRONTEND}",
        f"    bind {bind_address}:{bind_port}",
        "    http-request set-header X-Forwarded-Proto http",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance roundrobin",
        *(
            ["    http-request disable-l7-retry unless METH_GET || METH_HEAD"]
            if retry_elsewhere
            else []
        ),
        "    option httpchk",
        f"    http-check send meth GET uri {health.path} ver HTTP/1.1 hdr host localhost",
        "    http-check expect status 200",
        f"    default-server check inter {health.interval_ms}ms rise {health.rise} "
        f"fall {health.fall}",
    ]
    if template is not None:
        lines.append(
            f"    server-template replica 1-{template.slots} {template.hostname}:{template.port} "
            "resolvers dns resolve-prefer ipv4 init-addr none"
        )
    else:
        lines += [f"    server {s.name} {s.address}:{s.port}" for s in static]
    return "\n".join(lines) + "\n"
