"""DomainCertificate (aws): an ACM certificate for the app's domain, validated through Route 53.

Creates: the ACM certificate (DNS validation; extra names as subject alternative names), the
CNAME validation record ACM asks for per name, in the given public hosted zone, and the
validation that waits until ACM has issued the certificate (usually a few minutes once the
records resolve; the provider gives up after 75 minutes).

``certificate_arn`` resolves only once the certificate is issued, so an HTTPS listener built with
it never refers to a pending certificate (ELB refuses that). The validation CNAME is the same for
every certificate of the same name in the account, which is why its record may overwrite one a
former certificate left behind (``allow_overwrite``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.urns import component_options

VALIDATION_RECORD_TTL_SECONDS = 60


@dataclass(frozen=True)
class DomainCertificateArgs:
    domain: str
    """The name the certificate is for (the app's public host)."""
    hosted_zone_id: str
    """Route 53 public hosted zone holding ``domain``: the validation record goes there."""
    aliases: Sequence[str] = ()
    """Other names in the same zone the certificate covers (subject alternative names)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the certificate."""


def validation_record(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], domain: str
) -> dict[str, str]:
    """The DNS record ACM asks for ``domain``, from the certificate's
    ``domain_validation_options`` (a set: found by name, not by position)."""
    for option in options:
        if option.domain_name == domain:
            return {
                "name": str(option.resource_record_name),
                "type": str(option.resource_record_type),
                "value": str(option.resource_record_value),
            }
    raise ValueError(
        f"ACM asked for no validation record of {domain} yet: run `pulumi refresh` (the "
        "certificate's validation options in the state are stale), then `pulumi up` again"
    )


def check_certificate_region(certificate_arn: str) -> None:
    """An ALB takes only a certificate of its own region (ACM certificates are regional): stop
    the run before anything is registered, rather than at the HTTPS listener."""
    region = aws.get_region().region
    certificate_region = certificate_arn.split(":")[3]
    if certificate_region != region:
        raise pulumi.RunError(
            f"certificateArn = {certificate_arn!r}: a certificate of {certificate_region}, but "
            f"the stack's load balancer is in {region}; request or import the certificate in "
            f"{region} (or use hostedZoneId and let the stack issue one)"
        )


def check_hosted_zone(zone_id: str, names: Sequence[str]) -> None:
    """Looks the zone up (``route53:GetHostedZone``) and stops the run, before anything is
    registered, when a name is not in it: Route 53 would refuse the records only after the
    certificate and the rest of the stack exist."""
    zone = aws.route53.get_zone(zone_id=zone_id)
    try:
        names_in_zone(zone_id, zone.name, zone.private_zone, names)
    except ValueError as exc:
        raise pulumi.RunError(str(exc)) from None


def names_in_zone(
    zone_id: str, zone_name: str, private: bool | None, names: Sequence[str]
) -> list[str]:
    """``names`` unchanged when every one lies in the public zone ``zone_name``; otherwise the
    error Route 53 would give only after ACM has been asked for the certificate."""
    zone = zone_name.rstrip(".").lower()
    if private:
        raise ValueError(
            f"hostedZoneId = {zone_id!r}: {zone} is a private hosted zone; ACM validates and "
            "browsers resolve through public DNS: give the public zone of the domain"
        )
    outside = [n for n in names if n != zone and not n.endswith(f".{zone}")]
    if outside:
        raise ValueError(
            f"hostedZoneId = {zone_id!r} holds {zone}, not {', '.join(outside)}: set "
            "hostedZoneId to the zone of the domain, or a domain (and domainAliases) under "
            f"{zone}"
        )
    return list(names)


class DomainCertificate(pulumi.ComponentResource):
    certificate_arn: pulumi.Output[str]
    """The certificate's ARN, known once ACM has issued it."""

    def __init__(
        self, name: str, args: DomainCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:DomainCertificate", name, None, component_options(opts))
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain,
            subject_alternative_names=list(args.aliases) or None,
            validation_method="DNS",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # One record per name, known before ACM answers (so a preview shows them all); the
        # domain's keeps the name it had before aliases existed.
        fqdns: list[pulumi.Output[str]] = []
        for dns_name in (args.domain, *args.aliases):
            record = certificate.domain_validation_options.apply(
                lambda options, dns_name=dns_name: validation_record(options, dns_name)
            )
            suffix = "" if dns_name == args.domain else f"-{dns_name}"
            validation_dns = aws.route53.Record(
                f"{name}-certificate-validation{suffix}",
                zone_id=args.hosted_zone_id,
                name=record["name"],
                type=record["type"],
                records=[record["value"]],
                ttl=VALIDATION_RECORD_TTL_SECONDS,
                allow_overwrite=True,
                opts=pulumi.ResourceOptions(parent=certificate),
            )
            fqdns.append(validation_dns.fqdn)
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate",
            certificate_arn=certificate.arn,
            validation_record_fqdns=fqdns,
            opts=pulumi.ResourceOptions(parent=certificate),
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})
