"""HTTPS on the app's own domain, and what LiveView needs from the load balancer (issue 13).

With ``domain`` and ``hostedZoneId`` the aws target issues an ACM certificate, validates it by DNS
in that zone, points the domain at the load balancer, serves 443 and redirects 80; with
``certificateArn`` it uses a certificate made elsewhere. The idle timeout stays above Phoenix's
30 s socket heartbeat, and lb_cookie stickiness is there for LiveView's long-poll fallback.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bootstrap.iam_documents import preview_policy
from components.aws.certificate import validation_record
from config_reader import ConfigError
from policy import guardrails as g
from settings import load
from settings.service import LIVEVIEW_HEARTBEAT_SECONDS
from tests.conftest import AWS_STACKS, stack_run
from tests.harness import Registered, configure, run_stack, web_task
from tests.test_ci_roles_cover_the_program import allowed, scope
from tests.test_policy import evaluate, policy_resource, validate_stack

DOMAIN = "shop.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
CERTIFICATE_TYPE = "aws:acm/certificate:Certificate"
VALIDATION_TYPE = "aws:acm/certificateValidation:CertificateValidation"
RECORD_TYPE = "aws:route53/record:Record"
LISTENER_TYPE = "aws:lb/listener:Listener"

_RUNS: dict[str, Registered] = {}


def https_run() -> Registered:
    """dev with its own domain in a Route 53 zone (run once)."""
    if "https" not in _RUNS:
        _RUNS["https"] = run_stack("dev", {"domain": DOMAIN, "hostedZoneId": ZONE})
        assert _RUNS["https"].error is None, _RUNS["https"].error
    return _RUNS["https"]


def problems(**values: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as raised:
        load("test", {"target": "aws", **values})
    return raised.value.problems


def named(found: tuple[str, ...], key: str) -> list[str]:
    return [p for p in found if p.startswith(f"elixir-devops:{key} = ")]


# -- the certificate, its validation and the alias record -----------------------------------


def test_a_hosted_zone_brings_a_dns_validated_certificate_for_the_domain() -> None:
    run = https_run()
    certificate = run.one(CERTIFICATE_TYPE)
    assert certificate.inputs["domainName"] == DOMAIN
    assert certificate.inputs["validationMethod"] == "DNS"
    assert certificate.inputs["tags"]["stack"] == "dev"
    (asked,) = certificate.outputs["domainValidationOptions"]
    (record,) = [r for r in run.of_type(RECORD_TYPE) if r.inputs["type"] == "CNAME"]
    assert record.inputs["zoneId"] == ZONE
    assert record.inputs["name"] == asked["resourceRecordName"]
    assert record.inputs["records"] == [asked["resourceRecordValue"]]
    # A certificate replaced (or requested again) asks for the same CNAME: take it over.
    assert record.inputs["allowOverwrite"] is True
    validation = run.one(VALIDATION_TYPE)
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]]
    assert record.urn in validation.dependencies


def test_the_https_listener_waits_for_the_issued_certificate_and_80_redirects() -> None:
    run = https_run()
    listeners = {r.inputs["port"]: r for r in run.of_type(LISTENER_TYPE)}
    https, http = listeners[443], listeners[80]
    validation = run.one(VALIDATION_TYPE)
    # The validation's certificateArn resolves once ACM has issued the certificate; the
    # listener takes it from there, never from the pending certificate.
    assert https.inputs["certificateArn"] == validation.outputs["certificateArn"]
    assert validation.urn in https.dependencies
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (action,) = http.inputs["defaultActions"]
    assert action["type"] == "redirect"
    assert action["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    # Port 80 keeps serving until 443 listens: turning HTTPS on never strands visitors on a
    # redirect to a port nothing answers while ACM validates (minutes).
    assert https.urn in http.dependencies
    opened = {
        r.inputs["fromPort"]
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    }
    assert opened == {80, 443}


@pytest.mark.parametrize(
    "values",
    [
        {"domain": "shop.example.org"},
        {"domain": DOMAIN, "domainAliases": ["www.example.net"]},
        {"domain": "notexample.com"},
    ],
)
def test_a_name_outside_the_hosted_zone_stops_the_run_before_any_certificate(
    values: dict[str, Any],
) -> None:
    """Route 53 refuses a record outside its zone only after ACM was asked for the certificate;
    the zone's name is looked up first (the mocked account's zones are example.com)."""
    run = run_stack("dev", {"hostedZoneId": ZONE, **values})
    assert run.error is not None and "holds example.com, not" in run.error, run.error
    assert "hostedZoneId" in run.error
    assert [r.urn for r in run.resources if r.custom] == []  # nothing registered at all


def test_a_certificate_of_another_region_stops_the_run_before_anything_is_registered() -> None:
    """ACM certificates are regional and an ALB takes only its own region's (mocks: eu-west-1)."""
    other = CERTIFICATE.replace("eu-west-1", "us-east-1")
    run = run_stack("dev", {"domain": DOMAIN, "certificateArn": other})
    assert run.error is not None and "a certificate of us-east-1" in run.error, run.error
    assert "load balancer is in eu-west-1" in run.error
    assert [r.urn for r in run.resources if r.custom] == []
    assert run_stack("dev", {"domain": DOMAIN, "certificateArn": CERTIFICATE}).error is None


def test_the_preview_role_may_look_the_hosted_zone_up() -> None:
    policy = preview_policy(scope("dev"))
    for action in ("route53:GetHostedZone", "route53:ListTagsForResource"):
        assert allowed(policy, action, f"arn:aws:route53:::hostedzone/{ZONE}", {})


def test_the_domain_is_an_alias_of_the_load_balancer() -> None:
    run = https_run()
    (alias,) = [r for r in run.of_type(RECORD_TYPE) if r.inputs["type"] != "CNAME"]
    balancer = run.one("aws:lb/loadBalancer:LoadBalancer")
    # An IPv4 load balancer (no ipAddressType dualstack): an A alias only, no AAAA.
    assert balancer.inputs.get("ipAddressType", "ipv4") == "ipv4"
    assert alias.inputs["type"] == "A"
    assert (alias.inputs["zoneId"], alias.inputs["name"]) == (ZONE, DOMAIN)
    (target,) = alias.inputs["aliases"]
    assert target["name"] == balancer.outputs["dnsName"]
    assert target["zoneId"] == balancer.outputs["zoneId"]
    # A record of that name made by hand stops the update rather than being taken over.
    assert not alias.inputs.get("allowOverwrite")


def test_phx_host_and_the_url_are_the_domain() -> None:
    run = https_run()
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    (app,) = [
        c for c in json.loads(definition.inputs["containerDefinitions"]) if c["name"] == "app"
    ]
    environment = {e["name"]: e["value"] for e in app["environment"]}
    assert environment["PHX_HOST"] == DOMAIN
    assert run.outputs["url"] == f"https://{DOMAIN}"
    assert run.outputs["certificateArn"] == run.one(CERTIFICATE_TYPE).outputs["arn"]


def test_aliases_are_on_the_certificate_validated_and_pointed_at_the_load_balancer() -> None:
    www = f"www.{DOMAIN}"
    run = run_stack("dev", {"domain": DOMAIN, "hostedZoneId": ZONE, "domainAliases": [www]})
    assert run.error is None, run.error
    certificate = run.one(CERTIFICATE_TYPE)
    assert certificate.inputs["subjectAlternativeNames"] == [www]
    asked = {o["domainName"]: o for o in certificate.outputs["domainValidationOptions"]}
    validations = {r.name: r for r in run.of_type(RECORD_TYPE) if r.inputs["type"] == "CNAME"}
    # The domain's record keeps its name (and URN) whether or not aliases are added.
    primary = validations[f"{run.prefix}-certificate-validation"]
    extra = validations[f"{run.prefix}-certificate-validation-{www}"]
    assert primary.inputs["name"] == asked[DOMAIN]["resourceRecordName"]
    assert extra.inputs["name"] == asked[www]["resourceRecordName"]
    fqdns = run.one(VALIDATION_TYPE).inputs["validationRecordFqdns"]
    assert fqdns == [primary.outputs["fqdn"], extra.outputs["fqdn"]]
    aliases = {
        r.inputs["name"]: r.name for r in run.of_type(RECORD_TYPE) if r.inputs["type"] == "A"
    }
    assert aliases == {DOMAIN: f"{run.prefix}-alias", www: f"{run.prefix}-alias-{www}"}
    # PHX_HOST stays the one canonical name.
    definition = web_task(run).one("aws:ecs/taskDefinition:TaskDefinition")
    assert f'"value": "{DOMAIN}"' in json.dumps(
        json.loads(definition.inputs["containerDefinitions"])
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"domainAliases": ["www.shop.example.com"], "domain": DOMAIN}, "needs hostedZoneId"),
        ({"domainAliases": ["WWW.example.com"]}, "lowercase host name"),
        ({"domainAliases": [DOMAIN]}, "not domain itself"),
        ({"domainAliases": ["a.example.com", "a.example.com"]}, "each name once"),
        ({"domainAliases": [f"n{i}.example.com" for i in range(10)]}, "at most 9"),
    ],
)
def test_bad_domain_aliases_are_refused(values: dict[str, Any], expected: str) -> None:
    zone = {} if "needs hostedZoneId" in expected else {"hostedZoneId": ZONE, "domain": DOMAIN}
    found = named(problems(**{**zone, **values}), "domainAliases")
    assert any(expected in p for p in found), found


def test_a_certificate_made_elsewhere_creates_no_certificate_nor_records() -> None:
    run = run_stack("dev", {"domain": DOMAIN, "certificateArn": CERTIFICATE})
    assert run.error is None, run.error
    assert run.of_type(CERTIFICATE_TYPE) == run.of_type(RECORD_TYPE) == []
    (https,) = [r for r in run.of_type(LISTENER_TYPE) if r.inputs["port"] == 443]
    assert https.inputs["certificateArn"] == CERTIFICATE
    assert run.outputs["url"] == f"https://{DOMAIN}"
    assert "certificateArn" not in run.outputs


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_stacks_without_a_hosted_zone_stay_as_they_were(stack: str) -> None:
    """No certificate, no record, the load balancer's idle timeout and the target group as
    before (the URNs themselves are held by tests/test_upgrade_keeps_urns.py)."""
    run = stack_run(stack)
    assert run.of_type(CERTIFICATE_TYPE) == run.of_type(RECORD_TYPE) == []
    assert run.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"] == 60
    stickiness = run.one("aws:lb/targetGroup:TargetGroup").inputs["stickiness"]
    assert stickiness == {"enabled": False, "type": "lb_cookie"}


def test_stickiness_set_back_to_zero_is_turned_off_not_left_as_it_was() -> None:
    """The provider keeps a removed stickiness block's last state: off must be said."""
    run = run_stack("dev", {"loadBalancerStickinessSeconds": 0})
    stickiness = run.one("aws:lb/targetGroup:TargetGroup").inputs["stickiness"]
    assert stickiness == {"enabled": False, "type": "lb_cookie"}


def test_the_validation_record_is_found_by_name_in_the_set_acm_returns() -> None:
    import pulumi_aws as aws

    option = aws.acm.outputs.CertificateDomainValidationOption
    options = [
        option(
            domain_name="www.example.com",
            resource_record_name="_b.www.example.com.",
            resource_record_type="CNAME",
            resource_record_value="_y.acm-validations.aws.",
        ),
        option(
            domain_name="example.com",
            resource_record_name="_a.example.com.",
            resource_record_type="CNAME",
            resource_record_value="_x.acm-validations.aws.",
        ),
    ]
    assert validation_record(options, "example.com") == {
        "name": "_a.example.com.",
        "type": "CNAME",
        "value": "_x.acm-validations.aws.",
    }
    with pytest.raises(ValueError, match=r"other\.example\.com"):
        validation_record(options, "other.example.com")


# -- settings --------------------------------------------------------------------------------


def test_a_hosted_zone_needs_the_domain() -> None:
    (problem,) = named(problems(hostedZoneId=ZONE), "domain")
    assert "required with hostedZoneId" in problem


def test_hosted_zone_and_certificate_arn_are_exclusive() -> None:
    (problem,) = named(
        problems(hostedZoneId=ZONE, certificateArn=CERTIFICATE, domain=DOMAIN), "certificateArn"
    )
    assert "not both" in problem and "hostedZoneId" in problem


@pytest.mark.parametrize("zone", ["/hostedzone/Z0123456789ABCDEFGHIJ", "z0123", "Z" + "A" * 32])
def test_a_hosted_zone_id_is_what_route53_prints(zone: str) -> None:
    (problem,) = named(problems(hostedZoneId=zone, domain=DOMAIN), "hostedZoneId")
    assert "Route 53 hosted zone id" in problem


def test_a_domain_longer_than_acm_takes_is_refused_with_a_hosted_zone() -> None:
    long_domain = "a" * 60 + ".example.com"
    (problem,) = named(problems(hostedZoneId=ZONE, domain=long_domain), "domain")
    assert "at most 64 characters" in problem
    # A certificate made elsewhere may carry the long name as a SAN.
    assert configure(certificateArn=CERTIFICATE, domain=long_domain).service.https


@pytest.mark.parametrize("domain", ["shop.xn--p1ai", "xn--80ak6aa92e.xn--fiqs8s"])
def test_a_domain_under_an_internationalised_tld_is_accepted(domain: str) -> None:
    assert configure(domain=domain, hostedZoneId=ZONE).service.domain == domain


@pytest.mark.parametrize("domain", ["shop.", "shop.c", "shop.xn--", "-shop.example.com"])
def test_a_malformed_domain_is_refused(domain: str) -> None:
    assert named(problems(hostedZoneId=ZONE, domain=domain), "domain")


def test_a_hosted_zone_makes_the_service_https() -> None:
    service = configure(domain=DOMAIN, hostedZoneId=ZONE).service
    assert service.https and service.hosted_zone_id == ZONE and service.certificate_arn is None


# -- LiveView: idle timeout and stickiness ---------------------------------------------------


def test_the_idle_timeout_defaults_above_the_liveview_heartbeat() -> None:
    service = configure().service
    assert service.load_balancer_idle_timeout_seconds == 60 > LIVEVIEW_HEARTBEAT_SECONDS
    assert service.stickiness_seconds is None


@pytest.mark.parametrize("seconds", [1, 15, 30])
def test_an_idle_timeout_at_or_below_the_heartbeat_is_refused_with_why(seconds: int) -> None:
    (problem,) = named(problems(loadBalancerIdleTimeout=seconds), "loadBalancerIdleTimeout")
    assert "must be above 30 s, Phoenix's socket heartbeat" in problem
    assert "LiveView" in problem


@pytest.mark.parametrize("seconds", [0, 4001])
def test_an_idle_timeout_outside_what_aws_accepts_is_refused(seconds: int) -> None:
    (problem,) = named(problems(loadBalancerIdleTimeout=seconds), "loadBalancerIdleTimeout")
    assert "between 1 and 4000" in problem


def test_31_seconds_is_the_shortest_idle_timeout_accepted() -> None:
    assert configure(loadBalancerIdleTimeout=31).service.load_balancer_idle_timeout_seconds == 31


@pytest.mark.parametrize("seconds", [-1, 604_801])
def test_stickiness_outside_one_second_to_a_week_is_refused(seconds: int) -> None:
    found = named(problems(loadBalancerStickinessSeconds=seconds), "loadBalancerStickinessSeconds")
    assert found and "between 0 and 604800" in found[0]


def test_idle_timeout_and_stickiness_reach_the_load_balancer_and_target_group() -> None:
    run = run_stack("dev", {"loadBalancerIdleTimeout": 3600, "loadBalancerStickinessSeconds": 900})
    assert run.error is None, run.error
    assert run.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"] == 3600
    stickiness = run.one("aws:lb/targetGroup:TargetGroup").inputs["stickiness"]
    assert stickiness == {"enabled": True, "type": "lb_cookie", "cookieDuration": 900}


# -- the policy pack: HTTP redirects wherever HTTPS is served --------------------------------


def _listener(name: str, protocol: str, actions: list[dict[str, Any]], balancer: str = "lb-1"):
    props = {
        "protocol": protocol,
        "port": 443.0 if protocol == "HTTPS" else 80.0,
        "loadBalancerArn": f"arn:{balancer}",
        "defaultActions": actions,
    }
    return policy_resource(g.LISTENER, props, name)


FORWARD = [{"type": "forward", "targetGroupArn": "arn:tg"}]
REDIRECT = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}]


def test_the_pack_refuses_plain_http_next_to_https_on_one_load_balancer() -> None:
    https = _listener("https", "HTTPS", FORWARD)
    assert (
        validate_stack(g.lb_http_redirects_to_https, [https, _listener("http", "HTTP", REDIRECT)])
        == []
    )
    found = validate_stack(
        g.lb_http_redirects_to_https, [https, _listener("plain", "HTTP", FORWARD)]
    )
    (message, urn) = found[0]
    assert len(found) == 1 and "'plain'" in message and "redirect to HTTPS" in message
    assert urn is not None and urn.endswith("::plain")
    # HTTP without a certificate, or on another load balancer, is not this rule's business.
    other = _listener("other", "HTTP", FORWARD, balancer="lb-2")
    assert validate_stack(g.lb_http_redirects_to_https, [https, other]) == []


def test_the_pack_refuses_a_redirect_to_https_that_keeps_port_80() -> None:
    """A redirect without a port keeps the request's (#{port}): https://host:80 answers nothing."""
    https = _listener("https", "HTTPS", FORWARD)
    for redirect in ({"protocol": "HTTPS"}, {"protocol": "HTTPS", "port": "#{port}"}):
        kept = _listener("kept", "HTTP", [{"type": "redirect", "redirect": redirect}])
        (found,) = validate_stack(g.lb_http_redirects_to_https, [https, kept])
        assert "'kept'" in found[0] and "port 443" in found[0]


def test_the_programs_https_stack_passes_the_whole_pack() -> None:
    assert evaluate(https_run().resources) == []
