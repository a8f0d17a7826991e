"""Security-group rules between units, created where the units are composed.

A rule pair admits ``port`` (or a range) on the receiving group from the sending group and lets
the sender's group send it: both sides name each other's group, never a CIDR.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def allow(
    name: str,
    *,
    receiver: aws.ec2.SecurityGroup | pulumi.Input[str],
    sender_id: pulumi.Input[str],
    from_port: int,
    to_port: int | None = None,
    description: str,
    sender_description: str,
    tags: Mapping[str, str],
    egress_name: str | None = None,
    parent: pulumi.Resource | None = None,
) -> None:
    """Ingress on ``receiver`` from ``sender_id`` and the matching egress on the sender's group.

    Both rules are children of the receiving group (they live and die with it), or of
    ``parent`` when the receiver is a group this stack does not own (given by id). EC2 accepts
    only ``a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*`` in descriptions: no apostrophes.
    """
    ports = {"ip_protocol": "tcp", "from_port": from_port, "to_port": to_port or from_port}
    if isinstance(receiver, aws.ec2.SecurityGroup):
        receiver_id: pulumi.Input[str] = receiver.id
        opts = pulumi.ResourceOptions(parent=parent or receiver)
    else:
        receiver_id = receiver
        opts = pulumi.ResourceOptions(parent=parent)
    aws.vpc.SecurityGroupIngressRule(
        name,
        security_group_id=receiver_id,
        referenced_security_group_id=sender_id,
        description=description,
        tags=dict(tags),
        opts=opts,
        **ports,
    )
    aws.vpc.SecurityGroupEgressRule(
        egress_name or f"{name}-out",
        security_group_id=sender_id,
        referenced_security_group_id=receiver_id,
        description=sender_description,
        tags=dict(tags),
        opts=opts,
        **ports,
    )
