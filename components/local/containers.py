"""What every container of the local target has in common (pure helpers, no resources).

Published ports listen on loopback only, every container joins the stack's private network,
restarts with the Docker engine unless someone stopped it, and carries the stack's tags as
labels, so ``docker ps --filter label=stack=local`` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

RESTART_POLICY = "unless-stopped"
"""Come back after a crash or a Docker restart, but stay down after ``docker stop``."""


def container_labels(tags: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [
        docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(tags.items())
    ]


def published_port(internal: int, external: int, bind_address: str) -> docker.ContainerPortArgs:
    """``bind_address:external`` on the Docker host → ``internal`` in the container."""
    return docker.ContainerPortArgs(internal=internal, external=external, ip=bind_address)


def network_attachment(
    network_name: pulumi.Input[str], alias: str
) -> docker.ContainerNetworksAdvancedArgs:
    """Membership of the private network; peers reach the container by name or by ``alias``."""
    return docker.ContainerNetworksAdvancedArgs(name=network_name, aliases=[alias])


def env_list(variables: Mapping[str, str]) -> list[str]:
    """``NAME=value`` entries, sorted so identical settings never replace the container."""
    return [f"{name}={value}" for name, value in sorted(variables.items())]
