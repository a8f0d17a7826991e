"""The app's runtime environment, shared by both targets (pure functions, no resources).

Both the Fargate task definition and the local container set exactly these variables, so a
release behaves the same on either target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RELEASE_DIR = "/app"
"""Where the image holds the release: the WORKDIR of ``mix phx.gen.release --docker``'s
Dockerfile and of the sample's (``/app/bin/server``, ``/app/bin/migrate``)."""
WRITABLE_DIR = "/tmp"
"""The only writable path of the app's container (an ephemeral volume or a tmpfs)."""
DRAIN_MARGIN_SECONDS = 5
"""The BEAM finishes draining this long before the container's stop timeout kills it (the app
reads ``SHUTDOWN_DRAIN_MS``)."""


def runtime_variables(
    *,
    container_port: int,
    stop_timeout_seconds: int,
    host: Any,
    environment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a Phoenix release needs at boot plus the stack's own variables (which cannot
    override these: settings refuse the names)."""
    drain_ms = max(stop_timeout_seconds - DRAIN_MARGIN_SECONDS, 1) * 1000
    return {
        **(environment or {}),
        "PORT": str(container_port),
        "PHX_SERVER": "true",
        "PHX_HOST": host,
        "SHUTDOWN_DRAIN_MS": str(drain_ms),
        # The root filesystem is read-only on both targets: the release's own tmp files and a
        # crash dump go to /tmp, the one writable mount.
        "RELEASE_TMP": WRITABLE_DIR,
        "ERL_CRASH_DUMP": f"{WRITABLE_DIR}/erl_crash.dump",
    }


def cluster_environment(query: Any, distribution_port: int) -> dict[str, Any]:
    """What the app's dns_cluster and release need to connect its nodes (docs/clustering.md):
    the DNS name answering every node, long node names, distribution on one port, no EPMD."""
    return {
        "DNS_CLUSTER_QUERY": query,
        "RELEASE_DISTRIBUTION": "name",
        "ERL_AFLAGS": f"-start_epmd false -erl_epmd_port {distribution_port}",
    }


def remote_console(release_name: str) -> str:
    """The release's remote shell into the running node (``bin/<release> remote``)."""
    return f"{RELEASE_DIR}/bin/{release_name} remote"
