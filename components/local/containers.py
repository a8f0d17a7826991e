"""What every container of the local target has in common (pure helpers, no resources).

Published ports listen on loopback only, every container joins the stack's private network,
restarts with the Docker engine unless someone stopped it, and carries the stack's tags as
labels, so ``docker ps --filter label=stack=local`` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

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


class StackContainerArgs(TypedDict):
    """The ``docker.Container`` arguments every container of the stack shares."""

    ports: Sequence[docker.ContainerPortArgs]
    networks_advanced: Sequence[docker.ContainerNetworksAdvancedArgs]
    restart: str
    labels: Sequence[docker.ContainerLabelArgs]


def stack_container(
    *,
    network_name: pulumi.Input[str],
    alias: str,
    internal_port: int,
    host_port: int,
    bind_address: str,
    tags: Mapping[str, str],
) -> StackContainerArgs:
    """One published port on ``bind_address``, the private network, the restart policy, labels."""
    return StackContainerArgs(
        ports=[published_port(internal_port, host_port, bind_address)],
        networks_advanced=[network_attachment(network_name, alias)],
        restart=RESTART_POLICY,
        labels=container_labels(tags),
    )


def pinned_image(
    name: str, reference: pulumi.Input[str], parent: pulumi.Resource
) -> docker.RemoteImage:
    """Pulls an image by a pinned reference (version tag or digest); kept locally on destroy.

    Containers must run ``image_id`` of the result: the provider stores a container's image as
    its id (``sha256:...``), and any other reference reads back different, replacing the
    container on every ``pulumi up``.
    """
    return docker.RemoteImage(
        name, name=reference, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent)
    )


def named_volume(
    name: str, tags: Mapping[str, str], parent: pulumi.Resource, *, keep: bool = False
) -> docker.Volume:
    """A named volume; ``keep`` retains (and protects) it when the stack is destroyed."""
    return docker.Volume(
        name,
        name=name,
        labels=[
            docker.VolumeLabelArgs(label=key, value=value) for key, value in sorted(tags.items())
        ],
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=keep, protect=keep),
    )
