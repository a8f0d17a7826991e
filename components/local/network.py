"""Network (local): the stack's private Docker network.

Creates one user-defined bridge ``docker.Network``. Its containers resolve each other by
container name (Prometheus scrapes ``<app container>:4000``, Grafana queries
``<prometheus container>:9090``) and nothing else shares it. It is not ``internal``: the app
may need the internet and Docker refuses to publish ports of containers on internal networks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.urns import component_options


@dataclass(frozen=True)
class NetworkArgs:
    labels: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags, as Docker labels."""


class Network(pulumi.ComponentResource):
    network_name: pulumi.Output[str]
    """Name containers pass in ``networks_advanced``."""
    network_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:local:Network",
            name,
            None,
            component_options(opts, "elixir-devops:index:Network"),
        )
        network = docker.Network(
            f"{name}-network",
            name=f"{name}-net",
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=key, value=value)
                for key, value in sorted(args.labels.items())
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.network_name = network.name
        self.network_id = network.id
        self.register_outputs({"network_name": self.network_name, "network_id": self.network_id})
