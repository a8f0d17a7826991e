"""LoadBalancer (aws) on its own, under mocks: listeners, security group, target group."""

from __future__ import annotations

import pulumi

from components.aws.load_balancer import LoadBalancer
from program import load_balancer_args
from settings import ServiceSettings
from tests.conftest import stack_run
from tests.harness import Registered, configure, run_components, run_stack, web_service

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
TAGS = {"stack": "test", "managed-by": "pulumi"}


def build(name: str, settings: ServiceSettings) -> tuple[Registered, dict[str, str]]:
    resolved: dict[str, str] = {}

    def program() -> list[pulumi.Output[object]]:
        balancer = LoadBalancer(
            name,
            load_balancer_args(settings, "vpc-0abc1234", SUBNETS, TAGS),
        )
        return [
            balancer.url.apply(lambda v: resolved.setdefault("url", v)),
            balancer.host.apply(lambda v: resolved.setdefault("host", v)),
            balancer.target_group_arn.apply(lambda v: resolved.setdefault("tg", v)),
        ]

    return run_components(program), resolved


def test_plain_http_forwards_port_80_to_the_container_port() -> None:
    run, resolved = build("lb-http", configure(ingressCidrs=["10.1.0.0/16"]).service)
    (listener,) = run.of_type("aws:lb/listener:Listener")
    assert listener.inputs["port"] == 80 and listener.inputs["protocol"] == "HTTP"
    assert listener.inputs["defaultActions"][0]["type"] == "forward"
    target_group = run.one("aws:lb/targetGroup:TargetGroup")
    assert target_group.inputs["port"] == 4000
    assert resolved["tg"] == target_group.outputs["arn"]
    (rule,) = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule.inputs["fromPort"], rule.inputs["cidrIpv4"]) == (80, "10.1.0.0/16")
    dns = run.one("aws:lb/loadBalancer:LoadBalancer").outputs["dnsName"]
    assert resolved["url"] == f"http://{dns}"
    assert resolved["host"] == dns


def test_a_certificate_brings_https_and_a_permanent_redirect() -> None:
    settings = configure(
        certificateArn=CERTIFICATE,
        domain="app.example.com",
        ingressCidrs=["0.0.0.0/0", "192.0.2.0/24"],
    ).service
    run, resolved = build("lb-https", settings)
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type("aws:lb/listener:Listener")}
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[443]["certificateArn"] == CERTIFICATE
    assert listeners[80]["defaultActions"][0]["redirect"]["statusCode"] == "HTTP_301"
    opened = sorted(
        (r.inputs["fromPort"], r.inputs["cidrIpv4"])
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    )
    assert opened == [
        (80, "0.0.0.0/0"),
        (80, "192.0.2.0/24"),
        (443, "0.0.0.0/0"),
        (443, "192.0.2.0/24"),
    ]
    assert resolved["url"] == "https://app.example.com"
    assert resolved["host"] == "app.example.com"


def test_the_load_balancer_is_public_hardened_and_in_the_given_subnets() -> None:
    run, _ = build("lb-hard", configure(albDeletionProtection=True).service)
    balancer = run.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["internal"] is False
    assert balancer["subnets"] == SUBNETS
    assert balancer["dropInvalidHeaderFields"] is True
    assert balancer["enableDeletionProtection"] is True
    assert balancer["tags"] == TAGS


def test_the_ecs_service_waits_for_the_listeners() -> None:
    """ECS rejects a target group that no listener uses yet: the service must come after."""
    run = stack_run("dev")
    service = web_service(run).one("aws:ecs/service:Service")
    listeners = {r.urn for r in run.of_type("aws:lb/listener:Listener")}
    assert listeners and listeners <= set(service.dependencies)


def test_the_metrics_endpoint_is_answered_404_by_the_load_balancer_on_every_aws_stack(
    aws_run: Registered,
) -> None:
    """The collector scrapes /metrics on localhost inside the task: BEAM internals, routes and
    database pool figures are nobody else's business, so the public listener never forwards it."""
    (rule,) = aws_run.of_type("aws:lb/listenerRule:ListenerRule")
    serving = next(
        r
        for r in aws_run.of_type("aws:lb/listener:Listener")
        if r.inputs["defaultActions"][0]["type"] == "forward"
    )
    assert rule.inputs["listenerArn"] == serving.outputs["arn"]
    (condition,) = rule.inputs["conditions"]
    assert sorted(condition["pathPattern"]["values"]) == ["/metrics", "/metrics/*"]
    (action,) = rule.inputs["actions"]
    assert action["type"] == "fixed-response"
    assert action["fixedResponse"]["statusCode"] == "404"


def test_a_custom_metrics_path_is_the_one_kept_private_behind_https() -> None:
    run = run_stack(
        "dev",
        {
            "metricsPath": "/internal/prom",
            "certificateArn": CERTIFICATE,
            "domain": "app.example.com",
        },
    )
    assert run.error is None, run.error
    (rule,) = run.of_type("aws:lb/listenerRule:ListenerRule")
    https = next(r for r in run.of_type("aws:lb/listener:Listener") if r.inputs["port"] == 443)
    assert rule.inputs["listenerArn"] == https.outputs["arn"]
    values = rule.inputs["conditions"][0]["pathPattern"]["values"]
    assert sorted(values) == ["/internal/prom", "/internal/prom/*"]
