"""The network unit's settings: a new VPC, or the ids of an existing one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config_reader import ConfigReader, cidr_problem
from settings.common import (
    MAX_VPC_PREFIX,
    SUBNET_ID,
    VPC_ID,
    NatGateways,
)


@dataclass(frozen=True)
class NetworkSettings:
    """A new VPC, or the ids of an existing one."""

    vpc_cidr: str
    availability_zones: int
    nat_gateways: NatGateways
    existing_vpc_id: str | None
    existing_public_subnet_ids: tuple[str, ...]
    existing_private_subnet_ids: tuple[str, ...]
    flow_logs: bool
    """Record the new VPC's flow logs."""


def read_network(reader: ConfigReader) -> NetworkSettings:
    vpc_cidr = reader.string("vpcCidr")
    if message := cidr_problem(vpc_cidr):
        reader.problem("vpcCidr", vpc_cidr, message)
    elif not 16 <= int(vpc_cidr.split("/")[1]) <= MAX_VPC_PREFIX:
        reader.problem(
            "vpcCidr",
            vpc_cidr,
            f"prefix length must be /16 to /{MAX_VPC_PREFIX}: subnets are 1/16 of the VPC and "
            "a load balancer subnet needs at least a /27",
        )
    zones = reader.integer("availabilityZones", minimum=2, maximum=6)
    nat = reader.string("natGateways", choices=("none", "single", "perAz"))
    vpc_id = reader.optional_string("vpcId", pattern=VPC_ID, allowed="a VPC id like vpc-0abc1234")

    def subnet(value: str) -> str | None:
        return None if re.fullmatch(SUBNET_ID, value) else "a subnet id like subnet-0abc1234"

    public = reader.string_list("publicSubnetIds", item=subnet)
    private = reader.string_list("privateSubnetIds", item=subnet)
    if vpc_id is not None:
        for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
            reader.require(len(ids) >= 2, key, list(ids), "with vpcId, list subnets in ≥ 2 AZs")
    elif public or private:
        reader.problem(
            "vpcId", None, "required when publicSubnetIds/privateSubnetIds name existing subnets"
        )
    return NetworkSettings(
        vpc_cidr=vpc_cidr,
        availability_zones=zones,
        nat_gateways=nat if nat in ("none", "single", "perAz") else "single",  # type: ignore[arg-type]
        existing_vpc_id=vpc_id,
        existing_public_subnet_ids=public,
        existing_private_subnet_ids=private,
        flow_logs=reader.boolean("vpcFlowLogs"),
    )
