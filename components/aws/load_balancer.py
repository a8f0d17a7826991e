"""LoadBalancer (aws): the app's public entry point, an Application Load Balancer.

Creates: the load balancer's security group (80, and 443 with a certificate, from the allowed
CIDRs), the internet-facing ALB in the public subnets, the ``ip`` target group on the container
port (health check on the health path, short deregistration delay, ``name_prefix``) and either
an HTTP listener or an HTTPS listener plus an 80 -> 443 redirect; with a Route 53 hosted zone,
the alias record pointing the domain at the load balancer.

The idle timeout stays above Phoenix's 30 s socket heartbeat (settings refuse less), so idle
LiveView sockets live; optional lb_cookie stickiness serves LiveView's long-poll fallback.

Built before the service: the deployment alarms watch this load balancer and target group, and
the ECS service must name those alarms when it is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.urns import component_options

HTTP_PORT = 80
HTTPS_PORT = 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_CHECK_INTERVAL_SECONDS = 5
PRIVATE_PATHS_RULE_PRIORITY = 10
"""Evaluated before the default action; room below it for rules a user adds by hand."""


@dataclass(frozen=True)
class LoadBalancerArgs:
    container_port: int
    """Port of the targets (the app container's port)."""
    health_check_path: str
    """Path the target group probes; must answer 200."""
    deregistration_delay_seconds: int
    """How long a deregistered target keeps its in-flight requests."""
    ingress_cidrs: Sequence[str]
    """Clients allowed on 80 (and 443)."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer's security group and target group."""
    public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Subnets of the internet-facing load balancer (two zones at least)."""
    domain: str | None = None
    """Public host name; None - the load balancer's DNS name."""
    certificate_arn: pulumi.Input[str] | None = None
    """ACM certificate: HTTPS on 443, and 80 redirects to it."""
    alias_zone_id: str | None = None
    """Route 53 hosted zone of ``domain``: an alias A record points the domain here."""
    domain_aliases: Sequence[str] = ()
    """Other names in that zone pointed here too (with ``alias_zone_id``)."""
    idle_timeout_seconds: int = 60
    """How long an idle connection (a LiveView socket between heartbeats) stays open."""
    stickiness_seconds: int | None = None
    """lb_cookie stickiness of the target group this long (None: off)."""
    private_paths: Sequence[str] = ()
    """Paths the load balancer answers 404 itself, never forwarded: the metrics endpoint, which
    the collector scrapes on localhost inside the task and the internet has no business reading."""
    deletion_protection: bool = False
    """Refuse to delete the load balancer."""
    access_log_retention_days: int | None = None
    """Write access logs to a bucket made for them, kept this long (None: no access logs)."""
    keep_access_logs: bool = False
    """Keep (and protect) the access-log bucket when the stack is destroyed."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class LoadBalancer(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """Where the app answers (https://domain, or http://<load balancer DNS name>)."""
    host: pulumi.Output[str]
    """The public host name (PHX_HOST): the domain, or the load balancer's DNS name."""
    dns_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    """The group the tasks admit their container port from."""
    target_group_arn: pulumi.Output[str]
    """Resolves once the listeners exist: ECS refuses a target group no listener uses."""
    load_balancer_arn_suffix: pulumi.Output[str]
    """CloudWatch dimension ``LoadBalancer``."""
    target_group_arn_suffix: pulumi.Output[str]
    """CloudWatch dimension ``TargetGroup``."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:LoadBalancer",
            name,
            None,
            component_options(opts, "elixir-devops:index:LoadBalancer"),
        )
        self._name = name
        self._tags = dict(args.tags)
        security_group = self._create_security_group(args)
        load_balancer, target_group, listeners = self._create_load_balancer(args, security_group)
        host = pulumi.Output.from_input(args.domain or load_balancer.dns_name)
        scheme = "https" if args.certificate_arn else "http"
        self.url = pulumi.Output.concat(scheme, "://", host)
        self.host = host
        self.dns_name = load_balancer.dns_name
        self.security_group_id = security_group.id
        self.target_group_arn = pulumi.Output.all(
            target_group.arn, *[listener.arn for listener in listeners]
        ).apply(lambda arns: arns[0])
        self.load_balancer_arn_suffix = load_balancer.arn_suffix
        self.target_group_arn_suffix = target_group.arn_suffix
        if args.alias_zone_id is not None and args.domain is not None:
            for dns_name in (args.domain, *args.domain_aliases):
                suffix = "" if dns_name == args.domain else f"-{dns_name}"
                self._create_alias_record(
                    f"{self._name}-alias{suffix}", args.alias_zone_id, dns_name, load_balancer
                )
        self.register_outputs(
            {
                "url": self.url,
                "host": self.host,
                "dns_name": self.dns_name,
                "security_group_id": self.security_group_id,
                "target_group_arn": self.target_group_arn,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "target_group_arn_suffix": self.target_group_arn_suffix,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child: parented to this component unless another parent is given."""
        return pulumi.ResourceOptions(**{"parent": self, **kwargs})

    def _create_security_group(self, args: LoadBalancerArgs) -> aws.ec2.SecurityGroup:
        security_group = aws.ec2.SecurityGroup(
            f"{self._name}-alb-sg",
            vpc_id=args.vpc_id,
            description="Load balancer: HTTP(S) from the allowed CIDRs",
            tags=self._tags,
            opts=self._child(),
        )
        ports = [HTTP_PORT, HTTPS_PORT] if args.certificate_arn else [HTTP_PORT]
        for port in ports:
            for index, cidr in enumerate(args.ingress_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{self._name}-alb-in-{port}-{index}",
                    security_group_id=security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    description=f"Clients on {port}",
                    tags=self._tags,
                    opts=self._child(parent=security_group),
                )
        return security_group

    def _create_load_balancer(
        self, args: LoadBalancerArgs, alb_sg: aws.ec2.SecurityGroup
    ) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup, list[aws.lb.Listener]]:
        access_logs = None
        lb_tags = dict(self._tags)
        if args.access_log_retention_days is not None:
            logs = AccessLogBucket(
                self._name,
                AccessLogBucketArgs(
                    retention_days=args.access_log_retention_days,
                    keep=args.keep_access_logs,
                    tags=self._tags,
                ),
                opts=self._child(),
            )
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(
                bucket=logs.bucket_name, prefix=logs.prefix, enabled=True
            )
            # The policy pack's lb-access-logs-when-required rule keeps it that way.
            lb_tags["access-logs"] = "required"
        load_balancer = aws.lb.LoadBalancer(
            f"{self._name}-alb",
            access_logs=access_logs,
            load_balancer_type="application",
            internal=False,
            security_groups=[alb_sg.id],
            subnets=args.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            idle_timeout=args.idle_timeout_seconds,
            tags=lb_tags,
            opts=self._child(),
        )
        target_group = aws.lb.TargetGroup(
            f"{self._name}-tg",
            # A fixed name could not be replaced while the listener holds it.
            name_prefix="app-",
            target_type="ip",
            protocol="HTTP",
            port=args.container_port,
            vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay_seconds,
            health_check={
                "enabled": True,
                "path": args.health_check_path,
                "protocol": "HTTP",
                "port": "traffic-port",
                "matcher": "200",
                # A new task is healthy after 2 x 5 s; with the 15 s deregistration delay a
                # rolling deploy moves one task in about 25 s (docs/clustering.md measures it).
                "interval": HEALTH_CHECK_INTERVAL_SECONDS,
                "timeout": 3,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            # Off is said explicitly: the provider keeps a removed block's last state (computed
            # attribute, terraform-provider-aws#4691), so turning stickiness off would not.
            stickiness=(
                aws.lb.TargetGroupStickinessArgs(
                    enabled=True, type="lb_cookie", cookie_duration=args.stickiness_seconds
                )
                if args.stickiness_seconds is not None
                else aws.lb.TargetGroupStickinessArgs(enabled=False, type="lb_cookie")
            ),
            tags=self._tags,
            opts=self._child(),
        )
        forward = [
            aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
        ]
        if args.certificate_arn:
            https = aws.lb.Listener(
                f"{self._name}-https",
                load_balancer_arn=load_balancer.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=forward,
                tags=self._tags,
                opts=self._child(parent=load_balancer),
            )
            redirect = aws.lb.Listener(
                f"{self._name}-http",
                load_balancer_arn=load_balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                        ),
                    )
                ],
                tags=self._tags,
                # Port 80 turns into a redirect only once 443 listens: the HTTPS listener waits
                # for the certificate's validation (minutes), and traffic keeps flowing till then.
                opts=self._child(parent=load_balancer, depends_on=[https]),
            )
            listeners = [https, redirect]
            serving = https
        else:
            listeners = [
                aws.lb.Listener(
                    f"{self._name}-http",
                    load_balancer_arn=load_balancer.arn,
                    port=HTTP_PORT,
                    protocol="HTTP",
                    default_actions=forward,
                    tags=self._tags,
                    opts=self._child(parent=load_balancer),
                )
            ]
            serving = listeners[0]
        if args.private_paths:
            self._create_private_paths_rule(serving, args.private_paths)
        return load_balancer, target_group, listeners

    def _create_private_paths_rule(
        self, listener: aws.lb.Listener, paths: Sequence[str]
    ) -> aws.lb.ListenerRule:
        """404 from the load balancer for ``paths`` (and anything below them), before forwarding."""
        patterns = sorted({pattern for path in paths for pattern in (path, f"{path}/*")})
        return aws.lb.ListenerRule(
            f"{self._name}-private-paths",
            listener_arn=listener.arn,
            priority=PRIVATE_PATHS_RULE_PRIORITY,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=patterns)
                )
            ],
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                        content_type="text/plain", message_body="Not Found", status_code="404"
                    ),
                )
            ],
            tags=self._tags,
            opts=self._child(parent=listener),
        )

    def _create_alias_record(
        self, name: str, zone_id: str, domain: str, load_balancer: aws.lb.LoadBalancer
    ) -> aws.route53.Record:
        """``domain`` answers with the load balancer's addresses (an alias: no charge per query,
        follows the load balancer's IPs). A only: the load balancer is IPv4 (no dualstack),
        so an AAAA alias would have nothing to point at. No ``allow_overwrite``: a record of
        that name made by hand stops the update instead of being silently taken over."""
        return aws.route53.Record(
            name,
            zone_id=zone_id,
            name=domain,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=load_balancer.dns_name,
                    zone_id=load_balancer.zone_id,
                    evaluate_target_health=True,
                )
            ],
            opts=self._child(parent=load_balancer),
        )
