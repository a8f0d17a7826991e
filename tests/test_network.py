"""Network (aws): subnet layout, NAT strategies, existing VPCs."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest

from components.aws.network import Network, NetworkArgs, subnet_cidrs
from program import network_args
from tests.harness import COMPONENT_TAGS as TAGS
from tests.harness import configure, run_components

EXISTING = {
    "existing_vpc_id": "vpc-0abc1234",
    "existing_public_subnet_ids": ["subnet-0aaa1111", "subnet-0bbb2222"],
    "existing_private_subnet_ids": ["subnet-0ccc3333", "subnet-0ddd4444"],
}


def new_vpc(zones: int, nat: Any, **overrides: Any) -> NetworkArgs:
    return NetworkArgs(
        vpc_cidr="10.0.0.0/16", availability_zones=zones, nat_gateways=nat, **overrides
    )


@pytest.mark.parametrize("zones", [2, 3, 4, 6])
def test_subnets_do_not_overlap_and_fit_the_vpc(zones: int) -> None:
    public, private = subnet_cidrs("10.0.0.0/16", zones)
    assert len(public) == len(private) == zones
    networks = [ipaddress.IPv4Network(c) for c in public + private]
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    assert all(n.subnet_of(vpc) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_adding_a_zone_keeps_existing_subnets() -> None:
    two = subnet_cidrs("10.0.0.0/16", 2)
    three = subnet_cidrs("10.0.0.0/16", 3)
    assert three[0][:2] == two[0] and three[1][:2] == two[1]


def test_nat_per_zone_routes_each_private_subnet_through_its_own_zone() -> None:
    run = run_components(lambda: [Network("n", new_vpc(3, "perAz", tags=TAGS)).vpc_id])
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    public_ids = {s.id for s in run.of_type("aws:ec2/subnet:Subnet") if "public" in s.name}
    assert {n.inputs["subnetId"] for n in nats} == public_ids
    routed = [
        t.inputs["routes"][0]["natGatewayId"]
        for t in run.of_type("aws:ec2/routeTable:RouteTable")
        if "private" in t.name
    ]
    assert sorted(routed) == sorted(str(n.id) for n in nats)


def test_single_nat_serves_every_private_subnet() -> None:
    run = run_components(lambda: [Network("s", new_vpc(2, "single")).vpc_id])
    (nat,) = run.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [
        t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    assert [t.inputs["routes"][0]["natGatewayId"] for t in private_tables] == [nat.id, nat.id]


def test_existing_vpc_creates_nothing_and_uses_the_given_subnets() -> None:
    settings = configure(
        natGateways="none",
        vpcId="vpc-0abc1234",
        publicSubnetIds=["subnet-0aaa1111", "subnet-0bbb2222"],
        privateSubnetIds=["subnet-0ccc3333", "subnet-0ddd4444"],
    ).network
    holder: dict[str, Network] = {}
    resolved: dict[str, object] = {}

    def build() -> list[pulumi.Output[object]]:
        network = holder["n"] = Network("e", network_args(settings, TAGS))
        return [
            network.vpc_id.apply(lambda v: resolved.setdefault("vpc", v)),
            network.public_subnet_ids.apply(lambda v: resolved.setdefault("public", v)),
            network.task_subnet_ids.apply(lambda v: resolved.setdefault("tasks", v)),
        ]

    run = run_components(build)
    assert run.custom() == []
    assert resolved == {
        "vpc": EXISTING["existing_vpc_id"],
        "public": EXISTING["existing_public_subnet_ids"],
        "tasks": EXISTING["existing_private_subnet_ids"],
    }
    # natGateways: none applies to a new VPC only: the given private subnets keep the tasks.
    assert holder["n"].assign_public_ip is False


def test_without_nat_the_tasks_of_a_new_vpc_run_in_its_public_subnets_with_public_ips() -> None:
    holder: dict[str, Network] = {}
    resolved: dict[str, object] = {}

    def build() -> list[pulumi.Output[object]]:
        network = holder["n"] = Network("p", new_vpc(2, "none"))
        return [
            network.public_subnet_ids.apply(lambda v: resolved.setdefault("public", v)),
            network.task_subnet_ids.apply(lambda v: resolved.setdefault("tasks", v)),
        ]

    run = run_components(build)
    assert not run.of_type("aws:ec2/natGateway:NatGateway")
    assert resolved["tasks"] == resolved["public"]
    assert holder["n"].assign_public_ip is True


@pytest.mark.parametrize("nat", ["single", "perAz"])
def test_nat_gateways_and_their_addresses_wait_for_the_internet_gateway(nat: str) -> None:
    """AWS refuses a public NAT gateway in a VPC whose internet gateway is not attached yet."""
    run = run_components(lambda: [Network("g", new_vpc(2, nat)).vpc_id])
    gateway = run.one("aws:ec2/internetGateway:InternetGateway")
    waiting = run.of_type("aws:ec2/natGateway:NatGateway") + run.of_type("aws:ec2/eip:Eip")
    assert waiting
    for resource in waiting:
        assert gateway.urn in resource.dependencies, resource.urn
