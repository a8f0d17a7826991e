"""Network (aws): where the load balancer and the tasks live.

Either a new VPC across N availability zones, with one public subnet (load balancer, NAT) and
one private subnet (tasks) per zone, an internet gateway and NAT (``none`` | ``single`` |
``perAz``); or the ids of an existing VPC and its subnets.
With ``none`` the tasks run in the public subnets with public IPs (cheap dev setting); their
security group still admits only the load balancer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document
from components.urns import component_options

MAX_ZONES = 6
PRIVATE_BLOCK_OFFSET = 8
NatGateways = Literal["none", "single", "perAz"]


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(public, private) CIDRs, one of each per zone.

    The VPC is always cut into 16 equal blocks (a /16 gives /20s): public subnets take blocks
    0-5, private ones 8-13, so adding a zone later never renumbers an existing subnet.
    """
    if not 1 <= zones <= MAX_ZONES:
        raise ValueError(f"zones must be 1-{MAX_ZONES}, got {zones}")
    blocks = [str(block) for block in ipaddress.IPv4Network(vpc_cidr).subnets(prefixlen_diff=4)]
    return blocks[:zones], blocks[PRIVATE_BLOCK_OFFSET : PRIVATE_BLOCK_OFFSET + zones]


def tasks_in_public_subnets(nat_gateways: NatGateways, existing_vpc: bool) -> bool:
    """Without NAT, tasks in a new VPC need public IPs to pull images: they run in the public
    subnets (their security group still admits only the load balancer). An existing VPC's
    private subnets are assumed to have their own way out."""
    return not existing_vpc and nat_gateways == "none"


@dataclass(frozen=True)
class NetworkArgs:
    vpc_cidr: str
    """CIDR block of a new VPC (/16 to /23); each subnet is 1/16 of it."""
    availability_zones: int
    """Zones a new VPC spans (2-6), with one public and one private subnet in each."""
    nat_gateways: NatGateways
    """How private subnets reach the internet: ``none`` (the tasks run in the public subnets),
    ``single`` (one NAT gateway) or ``perAz`` (one per zone)."""
    existing_vpc_id: pulumi.Input[str] | None = None
    """Use this VPC instead of creating one (None - create one); needs the subnet ids below."""
    existing_public_subnet_ids: Sequence[pulumi.Input[str]] = ()
    """With ``existing_vpc_id``: subnets of the internet-facing load balancer."""
    existing_private_subnet_ids: Sequence[pulumi.Input[str]] = ()
    """With ``existing_vpc_id``: subnets of the tasks."""
    flow_log_retention_days: int | None = None
    """Record the new VPC's flow logs to a log group kept this long (None: no flow logs)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets of the internet-facing load balancer."""
    task_subnet_ids: pulumi.Output[list[str]]
    """Subnets the tasks run in: private ones, unless NAT is ``none``."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets (with or without NAT): databases and anything a user adds."""
    assign_public_ip: bool
    """Whether tasks need a public IP (only when they run in public subnets)."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:Network",
            name,
            None,
            component_options(opts, "elixir-devops:index:Network"),
        )
        existing = args.existing_vpc_id is not None
        self.assign_public_ip = tasks_in_public_subnets(args.nat_gateways, existing)
        if args.existing_vpc_id is not None:
            self.vpc_id = pulumi.Output.from_input(args.existing_vpc_id)
            self.public_subnet_ids = pulumi.Output.all(*args.existing_public_subnet_ids)
            self.private_subnet_ids = pulumi.Output.all(*args.existing_private_subnet_ids)
            self.task_subnet_ids = self.private_subnet_ids
        else:
            self._create_vpc(name, args, dict(args.tags))
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "task_subnet_ids": self.task_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _create_vpc(self, name: str, args: NetworkArgs, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        zones = aws.get_availability_zones_output(state="available")
        public_cidrs, private_cidrs = subnet_cidrs(args.vpc_cidr, args.availability_zones)
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for index in range(args.availability_zones):
            zone = zones.names.apply(lambda names, i=index: names[i])
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-public-{index}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=child,
            )
            public_subnets.append(public)
            private_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-private-{index}",
                    vpc_id=vpc.id,
                    cidr_block=private_cidrs[index],
                    availability_zone=zone,
                    tags={**tags, "Name": f"{name}-private-{index}", "tier": "private"},
                    opts=child,
                )
            )
        self._route_private_subnets(
            name, args.nat_gateways, tags, vpc, gateway, public_subnets, private_subnets
        )
        if args.flow_log_retention_days is not None:
            self._record_flow_logs(name, vpc, args.flow_log_retention_days, tags)
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        task_subnets = public_subnets if self.assign_public_ip else private_subnets
        self.task_subnet_ids = pulumi.Output.all(*[s.id for s in task_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])

    def _route_private_subnets(
        self,
        name: str,
        nat_gateways: NatGateways,
        tags: dict[str, str],
        vpc: aws.ec2.Vpc,
        gateway: aws.ec2.InternetGateway,
        public_subnets: list[aws.ec2.Subnet],
        private_subnets: list[aws.ec2.Subnet],
    ) -> None:
        """One route table per private subnet, through its zone's NAT (or the single one).

        A public NAT gateway (and its address) needs the VPC's internet gateway attached first;
        nothing in their inputs says so, hence the explicit dependency."""
        child = pulumi.ResourceOptions(parent=self)
        nat_opts = pulumi.ResourceOptions(parent=self, depends_on=[gateway])
        nat_count = {"none": 0, "single": 1, "perAz": len(public_subnets)}[nat_gateways]
        nats = []
        for index in range(nat_count):
            address = aws.ec2.Eip(
                f"{name}-nat-{index}",
                domain="vpc",
                tags={**tags, "Name": f"{name}-nat-{index}"},
                opts=nat_opts,
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=address.allocation_id,
                    subnet_id=public_subnets[index].id,
                    tags={**tags, "Name": f"{name}-nat-{index}"},
                    opts=nat_opts,
                )
            )
        for index, subnet in enumerate(private_subnets):
            routes = (
                [
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nats[index % nat_count].id
                    )
                ]
                if nats
                else []
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=routes,
                tags={**tags, "Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child,
            )

    def _record_flow_logs(
        self, name: str, vpc: aws.ec2.Vpc, retention_days: int, tags: dict[str, str]
    ) -> None:
        """All traffic (accepted and rejected) of the VPC to a log group with retention; the
        flow-log service may write exactly that group, for this account only."""
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name_prefix=f"/vpc/{name}-flow-logs-",
            retention_in_days=retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="VPC flow logs: write to the one log group",
            assume_role_policy=caller.account_id.apply(flow_logs_trust_policy),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(flow_logs_policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            tags={**tags, "Name": f"{name}-flow-logs"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


FLOW_LOGS_PRINCIPAL = "vpc-flow-logs.amazonaws.com"


def flow_logs_trust_policy(account_id: str) -> str:
    """Only the flow-log service, acting for this account, may assume the role."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": FLOW_LOGS_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]
    )


def flow_logs_policy(log_group_arn: str) -> str:
    """What publishing flow logs to CloudWatch Logs takes, on the one log group."""
    return policy_document(
        [
            {
                "Sid": "WriteFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": f"{log_group_arn}:*",
            },
            {
                "Sid": "FindLogGroup",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                # DescribeLogGroups has no resource-level permissions.
                "Resource": "*",
            },
        ]
    )
