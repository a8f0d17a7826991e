"""Cluster (aws): the ECS cluster every service and one-off task of the stack runs in.

Creates the cluster (Container Insights on) and its capacity providers: Fargate, and Fargate
Spot for the share of tasks a service allows on it (never the first task).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.urns import LEGACY_SERVICE_TYPE, former_parent


def capacity_strategy(fargate_spot: bool, on_demand_base: int = 1) -> list[tuple[str, int, int]]:
    """(provider, base, weight): the first ``on_demand_base`` tasks on on-demand Fargate; beyond
    them, 3 of 4 on Spot when allowed. A base of 0 with Spot puts every task on Spot (the
    pull-request environments: interruptions are acceptable there, the price is not)."""
    if not fargate_spot:
        return [("FARGATE", 1, 1)]
    if on_demand_base == 0:
        return [("FARGATE_SPOT", 0, 1)]
    return [("FARGATE", on_demand_base, 1), ("FARGATE_SPOT", 0, 3)]


@dataclass(frozen=True)
class ClusterArgs:
    fargate_spot: bool = False
    """Default capacity strategy of the cluster: Spot beyond the first task when True."""
    on_demand_base: int = 1
    """With Spot: tasks that always run on on-demand Fargate (0: every task on Spot)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    """Resolves once the capacity providers are attached: a service naming FARGATE_SPOT
    before that fails to create."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:Cluster", name, None, opts)
        self._name = name
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=dict(args.tags),
            opts=self._child(),
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=provider, base=base, weight=weight
                )
                for provider, base, weight in capacity_strategy(
                    args.fargate_spot, args.on_demand_base
                )
            ],
            opts=self._child(),
        )
        self.cluster_name = cluster.name
        self.cluster_arn = pulumi.Output.all(cluster.arn, capacity.id).apply(lambda v: v[0])
        self.register_outputs({"cluster_name": self.cluster_name, "cluster_arn": self.cluster_arn})

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        # Before the units were split, these were children of ContainerService (same names).
        return pulumi.ResourceOptions(
            parent=self, aliases=[former_parent(LEGACY_SERVICE_TYPE, self._name)], **kwargs
        )
