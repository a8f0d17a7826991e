"""ServiceDiscovery (aws): a private DNS name that answers every running task of a service.

Creates a Cloud Map private DNS namespace in the stack's VPC and a service in it with
multivalue A records (TTL 10 s) that the ECS service registers its tasks in. The app's
``DNS_CLUSTER_QUERY`` is that name: ``dns_cluster`` (or the sample's equivalent) connects the
nodes it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

RECORD_TTL_SECONDS = 10
"""Short, so a new task is found within a poll or two and a stopped one is forgotten."""


@dataclass(frozen=True)
class ServiceDiscoveryArgs:
    namespace: str
    """Private DNS domain, e.g. ``elixir-app-prod.internal``."""
    service_name: str
    """The name under it that answers the tasks (``app``)."""
    vpc_id: pulumi.Input[str]
    """The VPC whose resolver answers the namespace."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class ServiceDiscovery(pulumi.ComponentResource):
    registry_arn: pulumi.Output[str]
    """What the ECS service registers its tasks in."""
    query: pulumi.Output[str]
    """The DNS name answering every task (``DNS_CLUSTER_QUERY``)."""

    def __init__(
        self, name: str, args: ServiceDiscoveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:ServiceDiscovery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace",
            name=args.namespace,
            vpc=args.vpc_id,
            description="Tasks of the app, for BEAM clustering",
            tags=dict(args.tags),
            opts=child,
        )
        service = aws.servicediscovery.Service(
            f"{name}-discovery",
            name=args.service_name,
            description="Every running task of the app (A records)",
            dns_config=aws.servicediscovery.ServiceDnsConfigArgs(
                namespace_id=namespace.id,
                routing_policy="MULTIVALUE",
                dns_records=[
                    aws.servicediscovery.ServiceDnsConfigDnsRecordArgs(
                        type="A", ttl=RECORD_TTL_SECONDS
                    )
                ],
            ),
            # Destroying the stack must not wait for ECS to deregister every instance.
            force_destroy=True,
            tags=dict(args.tags),
            opts=child,
        )
        self.registry_arn = service.arn
        self.query = pulumi.Output.concat(args.service_name, ".", namespace.name)
        self.register_outputs({"registry_arn": self.registry_arn, "query": self.query})
