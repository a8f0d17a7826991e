"""ContainerRegistry (local): a ``registry:2`` container the Docker engine pushes the app to.

Creates: ``docker.RemoteImage`` (the pinned registry image), ``docker.Volume`` (image storage,
so pushed images survive container replacement and restarts) and ``docker.Container``
(published on ``127.0.0.1:<registryPort>``, health-checked). Docker treats ``localhost``
registries as insecure-allowed by default, so no TLS or daemon configuration is needed.

``repository_url`` is derived from the container, so whatever pushes to it (the image build)
waits until the registry container exists and is healthy (``wait``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.local.containers import named_volume, pinned_image, stack_container
from components.urns import component_options

REGISTRY_IMAGE = "registry:2.8.3"
"""Pinned: a moving tag would replace the registry (and its health) behind our back."""
REGISTRY_PORT = 5000
"""Where ``registry:2`` listens inside its container."""
STORAGE_PATH = "/var/lib/registry"


def registry_health_check() -> docker.ContainerHealthcheckArgs:
    # registry:2 is Alpine-based: busybox wget is there, curl is not. /v2/ answers 200 without auth.
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", "wget", "-q", "--spider", f"http://127.0.0.1:{REGISTRY_PORT}/v2/"],
        interval="5s",
        timeout="3s",
        retries=5,
        start_period="5s",
    )


@dataclass(frozen=True)
class ContainerRegistryArgs:
    repository: str
    """Repository name inside the registry (the app's name)."""
    network_name: pulumi.Input[str]
    """The stack's private network."""
    host_port: int
    """Published port on the Docker host; images are named ``localhost:<host_port>/...``."""
    bind_address: str
    """Host address the port is published on (loopback: the registry has no authentication)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags, as Docker labels."""
    retain_on_delete: bool = False
    """Keep (and protect) the image volume when the stack is destroyed."""


class ContainerRegistry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    """``localhost:<port>/<repository>``: where the image is pushed (no tag)."""
    registry_address: pulumi.Output[str]
    """``localhost:<port>``: the registry's address for ``docker push``/``pull``."""
    container_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:local:ContainerRegistry",
            name,
            None,
            component_options(opts, "elixir-devops:index:ContainerRegistry"),
        )
        image = pinned_image(f"{name}-registry-image", REGISTRY_IMAGE, self)
        volume = named_volume(
            f"{name}-registry-data", args.labels, self, keep=args.retain_on_delete
        )
        container = docker.Container(
            f"{name}-registry",
            name=f"{name}-registry",
            image=image.image_id,
            envs=["REGISTRY_STORAGE_DELETE_ENABLED=true"],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume.name, container_path=STORAGE_PATH)
            ],
            **stack_container(
                network_name=args.network_name,
                alias="registry",
                internal_port=REGISTRY_PORT,
                host_port=args.host_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            healthcheck=registry_health_check(),
            # Create completes only once the registry answers, so the push after it succeeds.
            wait=True,
            wait_timeout=60,
            opts=pulumi.ResourceOptions(parent=self),
        )
        address = f"localhost:{args.host_port}"
        self.registry_address = container.name.apply(lambda _: address)
        self.repository_url = container.name.apply(lambda _: f"{address}/{args.repository}")
        self.container_name = container.name
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "registry_address": self.registry_address,
                "container_name": self.container_name,
            }
        )
