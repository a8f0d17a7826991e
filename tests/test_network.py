"""Network (aws): subnet layout, NAT strategies, existing VPCs."""

from __future__ import annotations

import ipaddress

import pulumi
import pytest

from components.aws.network import Network, NetworkArgs, subnet_cidrs
from tests.harness import COMPONENT_TAGS as TAGS
from tests.harness import configure, run_components


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
    settings = configure(availabilityZones=3, natGateways="perAz").network
    run = run_components(lambda: [Network("n", NetworkArgs(settings=settings, tags=TAGS)).vpc_id])
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
    settings = configure(availabilityZones=2, natGateways="single").network
    run = run_components(lambda: [Network("s", NetworkArgs(settings=settings)).vpc_id])
    (nat,) = run.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [
        t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    assert [t.inputs["routes"][0]["natGatewayId"] for t in private_tables] == [nat.id, nat.id]


def test_existing_vpc_creates_nothing_and_uses_the_given_subnets() -> None:
    settings = configure(
        vpcId="vpc-0abc1234",
        publicSubnetIds=["subnet-0aaa1111", "subnet-0bbb2222"],
        privateSubnetIds=["subnet-0ccc3333", "subnet-0ddd4444"],
    ).network
    holder: dict[str, Network] = {}

    def build() -> list[pulumi.Output[object]]:
        holder["n"] = Network("e", NetworkArgs(settings=settings))
        return [holder["n"].vpc_id]

    run = run_components(build)
    assert run.custom() == []
    assert holder["n"].assign_public_ip is False


@pytest.mark.parametrize("nat", ["single", "perAz"])
def test_nat_gateways_and_their_addresses_wait_for_the_internet_gateway(nat: str) -> None:
    """AWS refuses a public NAT gateway in a VPC whose internet gateway is not attached yet."""
    settings = configure(availabilityZones=2, natGateways=nat).network
    run = run_components(lambda: [Network("g", NetworkArgs(settings=settings)).vpc_id])
    gateway = run.one("aws:ec2/internetGateway:InternetGateway")
    waiting = run.of_type("aws:ec2/natGateway:NatGateway") + run.of_type("aws:ec2/eip:Eip")
    assert waiting
    for resource in waiting:
        assert gateway.urn in resource.dependencies, resource.urn
