"""The guardrails of elixir-devops as Pulumi CrossGuard policies (no PolicyPack here).

Each policy encodes something this project's users rely on and that a refactor, a new
component or a hand-written resource could silently break: tasks reachable only through the
load balancer, deploys that roll back, images pinned by digest, secrets kept out of plain
environment variables, app containers whose root filesystem is read-only, HTTPS that refuses
TLS 1.0/1.1, load balancer access logs where the stack requires them, registries and logs that
do not grow forever, least-privilege IAM and, on the local target, ports published on loopback
only.

Policies read ``args.props``: the resource's inputs with the engine's camelCase names (numbers
arrive as floats). During a preview a value that depends on another resource's output may be
unknown; reading it raises ``UnknownValueError``, which the engine reports as an advisory
"can't run during preview" note rather than a violation. ``__main__.py`` wraps
:data:`ALL_POLICIES` into the pack; tests import this module only, because building a
``PolicyPack`` starts a gRPC server and blocks.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
"""An ALB/NLB; ``aws.alb`` is the provider's older module for the same resource."""
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCER, LISTENER = LOAD_BALANCERS[0], LISTENERS[0]
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ADMIN_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
"""AWS managed policies as broad as the wildcards this pack refuses (settings/task_role.py
refuses them too, before anything is created)."""
DOCKER_CONTAINER = "docker:index/container:Container"

WORLD_OPEN_PORTS = frozenset({80, 443})
"""The only ports that may be open to the whole internet: the load balancer's HTTP(S)."""
MAX_DEREGISTRATION_DELAY_SECONDS = 120
"""AWS's default is 300 s, and every deploy waits for it (Fargate's stopTimeout caps at 120)."""
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SECRET_NAME = re.compile(
    r"^(SECRET_KEY_BASE|RELEASE_COOKIE|DATABASE_URL|API_KEY"
    r"|[A-Z0-9_]*_(PASSWORD|PASSWD|PASS|TOKEN|SECRET|API_KEY|CREDENTIALS|PRIVATE_KEY))$",
    re.IGNORECASE,
)
LOOPBACK_HINT = "127.0.0.1"
READ_ONLY_CONTAINERS = frozenset({"app", "migrate"})
"""The app container and the migrate container that runs the same release before it serves."""
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
"""Listener protocols that terminate TLS with an ELB security policy (ALB HTTPS, NLB TLS)."""
MODERN_TLS_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-[A-Za-z0-9-]+$")
"""ELB security policies whose lowest protocol is TLS 1.2 or 1.3.

AWS names a policy after the lowest version it accepts: ``TLS13-1-2-*`` (TLS 1.2 and 1.3:
the recommended ``TLS13-1-2-2021-06``, ``-Res-``, ``-Ext0/1/2-``, ``-FIPS-`` and ``-PQ-``
variants), ``TLS13-1-3-*`` (1.3 only), ``TLS-1-2-*`` and ``FS-1-2-*`` (1.2 only). Refused:
``ELBSecurityPolicy-2016-08`` (the API's default when ``sslPolicy`` is unset) and
``-2015-05``, ``TLS-1-0-*``, ``TLS-1-1-*``, ``FS-2018-06``, ``FS-1-1-*``, ``TLS13-1-0-*`` and
``TLS13-1-1-*``, which all still accept TLS 1.0 or 1.1.
"""
API_DEFAULT_TLS_POLICY = "ELBSecurityPolicy-2016-08"
RECOMMENDED_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ACCESS_LOGS_TAG = ("access-logs", "required")
"""The tag (key, value) by which a stack (settings key albAccessLogs) requires access logs."""

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]


def _on(resource_types: str | Sequence[str], check: Validate) -> Validate:
    """Runs ``check`` only for resources of the given type(s)."""
    types = {resource_types} if isinstance(resource_types, str) else set(resource_types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type in types:
            check(args, report_violation)

    return validate


def _items(value: Any) -> list[Any]:
    """A list input as a list (absent -> empty); a single value as a one-item list."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(args: ResourceValidationArgs | PolicyResource) -> str:
    return f"{args.resource_type.rsplit(':', 1)[-1]} '{args.name}'"


# 1. Only the load balancer's HTTP(S) ports may be open to the world --------------------------


def _is_world(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _world_exposure(protocol: Any, from_port: Any, to_port: Any) -> str | None:
    """What a rule open to the world exposes beyond TCP/UDP 80 and 443, or None."""
    proto = str(protocol).lower()
    if proto in ("-1", "all"):
        return "every protocol and port"
    if proto not in ("tcp", "udp", "6", "17"):
        return f"protocol {protocol}"
    low, high = _number(from_port), _number(to_port)
    if low is None or high is None:
        return "an unspecified port range"
    if low == high and int(low) in WORLD_OPEN_PORTS:
        return None
    return f"ports {int(low)}-{int(high)}" if low != high else f"port {int(low)}"


def _report_world_rule(
    args: ResourceValidationArgs,
    report_violation: ReportViolation,
    where: str,
    cidrs: Sequence[Any],
    protocol: Any,
    from_port: Any,
    to_port: Any,
) -> None:
    world = [str(c) for c in cidrs if _is_world(c)]
    if not world:
        return
    exposed = _world_exposure(protocol, from_port, to_port)
    if exposed is not None:
        report_violation(
            f"{_label(args)}{where} opens {exposed} to {', '.join(world)}. Only the load "
            f"balancer's ports {sorted(WORLD_OPEN_PORTS)} may be open to the world; tasks take "
            "traffic from the load balancer's security group only (referencedSecurityGroupId), "
            "or narrow the CIDR (ingressCidrs).",
            args.urn,
        )


def _check_ingress_rule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    _report_world_rule(
        args,
        report_violation,
        "",
        [props.get("cidrIpv4"), props.get("cidrIpv6")],
        props.get("ipProtocol"),
        props.get("fromPort"),
        props.get("toPort"),
    )


def _check_security_group_rule(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    props = args.props
    if props.get("type") != "ingress":
        return
    _report_world_rule(
        args,
        report_violation,
        "",
        [*_items(props.get("cidrBlocks")), *_items(props.get("ipv6CidrBlocks"))],
        props.get("protocol"),
        props.get("fromPort"),
        props.get("toPort"),
    )


def _check_inline_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for index, rule in enumerate(_items(args.props.get("ingress"))):
        _report_world_rule(
            args,
            report_violation,
            f" (ingress[{index}])",
            [*_items(rule.get("cidrBlocks")), *_items(rule.get("ipv6CidrBlocks"))],
            rule.get("protocol"),
            rule.get("fromPort"),
            rule.get("toPort"),
        )


no_world_open_ports = ResourceValidationPolicy(
    name="no-world-open-ports",
    description=(
        "Security groups open only ports 80/443 (the load balancer's) to 0.0.0.0/0 or ::/0; "
        "the container port is reachable from the load balancer's security group only."
    ),
    enforcement_level=MANDATORY,
    validate=[
        _on(INGRESS_RULE, _check_ingress_rule),
        _on(SECURITY_GROUP_RULE, _check_security_group_rule),
        _on(SECURITY_GROUP, _check_inline_ingress),
    ],
)


# 2. ECS deploys roll back by themselves -----------------------------------------------------


def _check_circuit_breaker(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    controller = args.props.get("deploymentController") or {}
    if str(controller.get("type") or "ECS") != "ECS":
        args.not_applicable("the circuit breaker applies to the ECS deployment controller only")
    breaker = args.props.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        report_violation(
            f"{_label(args)} has no deployment circuit breaker with rollback "
            f"(deploymentCircuitBreaker={dict(breaker)}): a release that cannot start would be "
            "retried forever. Set deployment_circuit_breaker={'enable': True, 'rollback': True}.",
            args.urn,
        )


ecs_circuit_breaker_rollback = ResourceValidationPolicy(
    name="ecs-circuit-breaker-rollback",
    description="ECS services enable the deployment circuit breaker with rollback.",
    enforcement_level=MANDATORY,
    validate=_on(ECS_SERVICE, _check_circuit_breaker),
)


# 3. Container definitions -------------------------------------------------------------------


def _containers(args: ResourceValidationArgs) -> Iterator[Mapping[str, Any]]:
    """The task definition's containers (``containerDefinitions`` is a JSON string)."""
    raw = args.props.get("containerDefinitions")
    if raw is None:
        return
    definitions = json.loads(raw) if isinstance(raw, str) else raw
    for container in _items(definitions):
        if isinstance(container, Mapping):
            yield container


def _unpinned_images(
    args: ResourceValidationArgs, report_violation: ReportViolation, *, essential: bool
) -> None:
    for container in _containers(args):
        if bool(container.get("essential", True)) is not essential:
            continue
        image = str(container.get("image", ""))
        if not DIGEST.search(image):
            report_violation(
                f"{_label(args)}: container '{container.get('name')}' runs image '{image}', "
                "which is not pinned by digest. A tag can move under a running service and "
                "makes identical deploys churn; reference the image as "
                "'<repository>[:tag]@sha256:<digest>' (the build's repoDigest).",
                args.urn,
            )


def _check_plain_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in _containers(args):
        for variable in _items(container.get("environment")):
            name = str(variable.get("name", ""))
            if SECRET_NAME.match(name):
                report_violation(
                    f"{_label(args)}: container '{container.get('name')}' sets {name} in plain "
                    "'environment' (visible in the task definition and the console). Store it in "
                    "Secrets Manager or SSM and pass it in 'secrets' (config key 'secrets' with "
                    "the ARN).",
                    args.urn,
                )


def _check_awslogs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in _containers(args):
        driver = (container.get("logConfiguration") or {}).get("logDriver")
        if driver != "awslogs":
            report_violation(
                f"{_label(args)}: container '{container.get('name')}' logs with "
                f"{driver or 'no log driver'}; its output would not reach the stack's log group. "
                "Set logConfiguration.logDriver to 'awslogs' with the log group, region and a "
                "stream prefix.",
                args.urn,
            )


def _check_image_digest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _unpinned_images(args, report_violation, essential=True)


def _check_sidecar_digest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _unpinned_images(args, report_violation, essential=False)


ecs_image_pinned_by_digest = ResourceValidationPolicy(
    name="ecs-image-pinned-by-digest",
    description="Every essential container (the app) references its image by @sha256 digest.",
    enforcement_level=MANDATORY,
    validate=_on(TASK_DEFINITION, _check_image_digest),
)

# Advisory: a non-essential sidecar (the metrics collector) is a third-party image whose
# digest the project cannot verify offline; it is pinned to a version tag by default and the
# settings key collectorImage takes a digest-pinned reference once you have checked one.
ecs_sidecar_image_pinned_by_digest = ResourceValidationPolicy(
    name="ecs-sidecar-image-pinned-by-digest",
    description="Non-essential containers (sidecars) should reference their image by digest too.",
    enforcement_level=ADVISORY,
    validate=_on(TASK_DEFINITION, _check_sidecar_digest),
)

ecs_no_plaintext_secrets = ResourceValidationPolicy(
    name="ecs-no-plaintext-secrets",
    description=(
        "Secret-looking variables (SECRET_KEY_BASE, RELEASE_COOKIE, DATABASE_URL, API_KEY, "
        "*_PASSWORD, *_PASS, *_TOKEN, *_SECRET, *_API_KEY, *_CREDENTIALS, *_PRIVATE_KEY) come "
        "from 'secrets', never plain 'environment'."
    ),
    enforcement_level=MANDATORY,
    validate=_on(TASK_DEFINITION, _check_plain_secrets),
)


def _check_read_only_root(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in _containers(args):
        name = container.get("name")
        # ECS defaults "essential" to true: an essential container is the app under any name.
        if name not in READ_ONLY_CONTAINERS and not bool(container.get("essential", True)):
            continue
        if container.get("readonlyRootFilesystem") is not True:
            report_violation(
                f"{_label(args)}: container '{name}' has a writable root filesystem "
                f"(readonlyRootFilesystem={container.get('readonlyRootFilesystem')}), so "
                "whoever gets code execution in the release can rewrite it. Set "
                "readonlyRootFilesystem: true and give it a task volume mounted on /tmp for "
                "what the BEAM writes at run time.",
                args.urn,
            )


ecs_app_read_only_root_filesystem = ResourceValidationPolicy(
    name="ecs-app-read-only-root-filesystem",
    description=(
        "The app container ('app', and any essential one) and the 'migrate' container set "
        "readonlyRootFilesystem: true; non-essential sidecars (the metrics collector) may write."
    ),
    enforcement_level=MANDATORY,
    validate=_on(TASK_DEFINITION, _check_read_only_root),
)

ecs_awslogs_driver = ResourceValidationPolicy(
    name="ecs-awslogs-driver",
    description="Every container logs to CloudWatch Logs with the awslogs driver.",
    enforcement_level=ADVISORY,
    validate=_on(TASK_DEFINITION, _check_awslogs),
)


# 4. ECR: scanned on push, and never growing forever -----------------------------------------


def _check_scan_on_push(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    scanning = args.props.get("imageScanningConfiguration") or {}
    if scanning.get("scanOnPush") is not True:
        report_violation(
            f"{_label(args)} does not scan images on push, so known vulnerabilities reach the "
            "service unnoticed. Set image_scanning_configuration={'scan_on_push': True}.",
            args.urn,
        )


ecr_scan_on_push = ResourceValidationPolicy(
    name="ecr-scan-on-push",
    description="ECR repositories scan every pushed image.",
    enforcement_level=MANDATORY,
    validate=_on(ECR_REPOSITORY, _check_scan_on_push),
)


def _known(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]``, or None when it is absent or unknown (preview)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _covered_repositories(lifecycle: PolicyResource) -> tuple[set[str], set[str]]:
    """(repository names, repository URNs) a lifecycle policy applies to."""
    names = {str(n) for n in [_known(lifecycle.props, "repository")] if n}
    urns = {r.urn for r in lifecycle.property_dependencies.get("repository", [])}
    urns |= {r.urn for r in lifecycle.dependencies if r.resource_type == ECR_REPOSITORY}
    return names, urns


def _check_lifecycle_policies(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    names: set[str] = set()
    urns: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == ECR_LIFECYCLE_POLICY:
            covered_names, covered_urns = _covered_repositories(resource)
            names |= covered_names
            urns |= covered_urns
    for repository in args.resources:
        if repository.resource_type != ECR_REPOSITORY or repository.urn in urns:
            continue
        if _known(repository.props, "name") in names:
            continue
        report_violation(
            f"{_label(repository)} has no lifecycle policy, so it keeps every image it is ever "
            "pushed (and bills for it). Add an aws.ecr.LifecyclePolicy for it that expires "
            "untagged images and keeps the newest tagged ones.",
            repository.urn,
        )


ecr_lifecycle_policy = StackValidationPolicy(
    name="ecr-lifecycle-policy",
    description="Every ECR repository of the stack has a lifecycle policy.",
    enforcement_level=ADVISORY,
    validate=_check_lifecycle_policies,
)


# 5. Log groups expire --------------------------------------------------------------------------


def _check_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    days = _number(args.props.get("retentionInDays"))
    if not days:
        report_violation(
            f"{_label(args)} keeps logs forever (retentionInDays not set). Set "
            "retention_in_days (config key logRetentionDays).",
            args.urn,
        )


log_group_retention = ResourceValidationPolicy(
    name="log-group-retention",
    description="CloudWatch log groups set retentionInDays.",
    enforcement_level=ADVISORY,
    validate=_on(LOG_GROUP, _check_retention),
)


# 6. Target groups can be replaced and drain quickly -------------------------------------------


def _check_target_group(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if props.get("name"):
        report_violation(
            f"{_label(args)} has the fixed name '{props.get('name')}': a change that replaces it "
            "fails while the listener still holds the old one. Use name_prefix instead.",
            args.urn,
        )
    delay = _number(props.get("deregistrationDelay"))
    if delay is None or delay > MAX_DEREGISTRATION_DELAY_SECONDS:
        shown = "unset (AWS default 300 s)" if delay is None else f"{int(delay)} s"
        report_violation(
            f"{_label(args)} has deregistration delay {shown}; every deploy waits for it. Set "
            f"deregistration_delay <= {MAX_DEREGISTRATION_DELAY_SECONDS} "
            "(config key deregistrationDelaySeconds), below the container's stopTimeout.",
            args.urn,
        )


target_group_replaceable_and_quick = ResourceValidationPolicy(
    name="target-group-replaceable-and-quick",
    description=(
        "Target groups use namePrefix (not a fixed name) and a deregistration delay "
        f"<= {MAX_DEREGISTRATION_DELAY_SECONDS} s."
    ),
    enforcement_level=ADVISORY,
    validate=_on(TARGET_GROUP, _check_target_group),
)


# 7. Load balancer: modern TLS, and access logs where the stack requires them ------------------


def _check_listener_tls(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    protocol = str(args.props.get("protocol") or "").upper()
    if protocol not in TLS_PROTOCOLS:
        return
    policy = args.props.get("sslPolicy")
    if policy is not None and MODERN_TLS_POLICY.match(str(policy)):
        return
    shown = f"'{policy}'" if policy else f"no sslPolicy (AWS then applies {API_DEFAULT_TLS_POLICY})"
    report_violation(
        f"{_label(args)} ({protocol}) uses {shown}, which still accepts TLS 1.0/1.1. Set "
        f"ssl_policy to a TLS 1.2+ policy such as '{RECOMMENDED_TLS_POLICY}' "
        "(ELBSecurityPolicy-TLS13-1-2-*, -TLS13-1-3-*, -TLS-1-2-* or -FS-1-2-*).",
        args.urn,
    )


lb_https_listener_modern_tls = ResourceValidationPolicy(
    name="lb-https-listener-modern-tls",
    description=(
        "HTTPS (and TLS) listeners use an ELB security policy that refuses TLS 1.0 and 1.1 "
        f"(recommended: {RECOMMENDED_TLS_POLICY})."
    ),
    enforcement_level=MANDATORY,
    validate=_on(LISTENERS, _check_listener_tls),
)


def _balancer_of(listener: PolicyResource) -> str | None:
    """The load balancer a listener belongs to: its ARN, or in a preview (ARN unknown) the URN
    of the load balancer it depends on."""
    arn = _known(listener.props, "loadBalancerArn")
    if arn:
        return str(arn)
    for dependency in [
        *listener.property_dependencies.get("loadBalancerArn", []),
        *listener.dependencies,
    ]:
        if dependency.resource_type in LOAD_BALANCERS:
            return dependency.urn
    return None


def _redirects_to_https(listener: PolicyResource, https_ports: set[str]) -> bool:
    """Every default action redirects to HTTPS on a port the load balancer serves HTTPS on (a
    redirect without a port keeps the request's own, #{port}: https://host:80 answers nothing)."""
    actions = _items(_known(listener.props, "defaultActions"))
    return bool(actions) and all(
        isinstance(action, Mapping)
        and action.get("type") == "redirect"
        and str((action.get("redirect") or {}).get("protocol") or "").upper() == "HTTPS"
        and _port((action.get("redirect") or {}).get("port")) in https_ports
        for action in actions
    )


def _check_http_redirects(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    by_balancer: dict[str, list[PolicyResource]] = {}
    for resource in args.resources:
        if resource.resource_type in LISTENERS:
            balancer = _balancer_of(resource)
            if balancer is not None:
                by_balancer.setdefault(balancer, []).append(resource)
    for listeners in by_balancer.values():
        https_ports = {
            _port(_known(r.props, "port"))
            for r in listeners
            if str(_known(r.props, "protocol") or "").upper() == "HTTPS"
        }
        if not https_ports:
            continue
        for listener in listeners:
            if str(_known(listener.props, "protocol") or "").upper() != "HTTP":
                continue
            if not _redirects_to_https(listener, https_ports):
                report_violation(
                    f"{_label(listener)} serves plain HTTP on a load balancer that has a "
                    "certificate: requests (and session cookies) travel unencrypted. Make its "
                    "default action a redirect to HTTPS on the HTTPS listener's port (type "
                    f"'redirect', protocol 'HTTPS', port {' or '.join(sorted(https_ports))}, "
                    "status HTTP_301).",
                    listener.urn,
                )


lb_http_redirects_to_https = StackValidationPolicy(
    name="lb-http-redirects-to-https",
    description=(
        "On a load balancer with an HTTPS listener, every HTTP listener redirects to HTTPS."
    ),
    enforcement_level=MANDATORY,
    validate=_check_http_redirects,
)


def _check_access_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    key, value = ACCESS_LOGS_TAG
    tags = args.props.get("tags") or {}
    if tags.get(key) != value:
        args.not_applicable(f"access logs are required only of load balancers tagged {key}")
    logs = args.props.get("accessLogs") or {}
    enabled = logs.get("enabled") is True
    try:
        has_bucket = bool(logs.get("bucket"))
    except UnknownValueError:
        has_bucket = True  # the stack's own bucket, whose name is known once it exists
    if not (enabled and has_bucket):
        report_violation(
            f"{_label(args)} is tagged {key}={value} but does not write access logs "
            f"(accessLogs.enabled={logs.get('enabled')}, "
            f"bucket={'set' if has_bucket else 'missing'}). Set access_logs="
            "{'bucket': <the log bucket>, 'enabled': True, 'prefix': ...} "
            "(settings key albAccessLogs).",
            args.urn,
        )


lb_access_logs_when_required = ResourceValidationPolicy(
    name="lb-access-logs-when-required",
    description=(
        f"A load balancer tagged {ACCESS_LOGS_TAG[0]}={ACCESS_LOGS_TAG[1]} (settings key "
        "albAccessLogs) has accessLogs enabled with a bucket."
    ),
    enforcement_level=MANDATORY,
    validate=_on(LOAD_BALANCERS, _check_access_logs),
)


# 8. IAM: no admin wildcards ------------------------------------------------------------------


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    if not isinstance(document, Mapping):
        return []
    return [s for s in _items(document.get("Statement")) if isinstance(s, Mapping)]


def _wildcard_grants(document: Any) -> list[str]:
    """Human-readable descriptions of the admin wildcards an Allow statement grants."""
    found: list[str] = []
    for index, statement in enumerate(_statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        actions = {str(a).lower() for a in _items(statement.get("Action"))}
        resources = {str(r) for r in _items(statement.get("Resource"))}
        where = f"statement {statement.get('Sid') or index}"
        if actions & {"*", "*:*"}:
            found.append(f'{where} allows "Action": "*"')
        elif "iam:*" in actions and "*" in resources:
            found.append(f'{where} allows "iam:*" on "Resource": "*"')
    return found


def _report_wildcards(
    args: ResourceValidationArgs, report_violation: ReportViolation, where: str, document: Any
) -> None:
    for grant in _wildcard_grants(document):
        report_violation(
            f"{_label(args)}{where}: {grant}. Grant the specific actions on the specific "
            "resources the task needs (least privilege).",
            args.urn,
        )


def _check_policy_document(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _report_wildcards(args, report_violation, "", args.props.get("policy"))


def _check_inline_policies(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for inline in _items(args.props.get("inlinePolicies")):
        where = f" (inline policy '{inline.get('name')}')"
        _report_wildcards(args, report_violation, where, inline.get("policy"))


def _check_attached_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    arn = str(args.props.get("policyArn") or "")
    name = arn.rsplit("/", 1)[-1]
    if re.fullmatch(r"arn:aws[a-z-]*:iam::aws:policy/.+", arn) and name in ADMIN_MANAGED_POLICIES:
        report_violation(
            f"{_label(args)} attaches AWS's {name}: grant the specific actions on the specific "
            "resources the task needs (least privilege).",
            args.urn,
        )


iam_no_admin_wildcards = ResourceValidationPolicy(
    name="iam-no-admin-wildcards",
    description=(
        'IAM policies never allow "Action": "*", nor "iam:*" on "Resource": "*" '
        "(role policies, managed policies and a role's inline policies), and no role gets "
        "AWS's AdministratorAccess, PowerUserAccess or IAMFullAccess."
    ),
    enforcement_level=MANDATORY,
    validate=[
        _on([ROLE_POLICY, MANAGED_POLICY], _check_policy_document),
        _on(ROLE, _check_inline_policies),
        _on(ROLE_POLICY_ATTACHMENT, _check_attached_policy),
    ],
)


# 9. Local target: nothing listens beyond loopback ---------------------------------------------


def _is_loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address)).is_loopback
    except ValueError:
        return False


def _port(value: Any) -> str:
    number = _number(value)
    return str(value) if number is None else str(int(number))


def _check_loopback_ports(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if props.get("networkMode") == "host":
        report_violation(
            f"{_label(args)} uses network_mode 'host': every port it listens on is reachable "
            "from the network. Use the stack's private network and publish ports on "
            f"{LOOPBACK_HINT}.",
            args.urn,
        )
    for port in _items(props.get("ports")):
        address = port.get("ip")
        if not _is_loopback(address):
            shown = f"'{address}'" if address else "every address (no ip set)"
            report_violation(
                f"{_label(args)} publishes port {_port(port.get('internal'))} on {shown}, "
                "reachable from the network (the local registry has no authentication). "
                f"Set ip='{LOOPBACK_HINT}'.",
                args.urn,
            )


docker_ports_on_loopback = ResourceValidationPolicy(
    name="docker-ports-on-loopback",
    description="Local Docker containers publish ports on 127.0.0.1 only.",
    enforcement_level=MANDATORY,
    validate=_on(DOCKER_CONTAINER, _check_loopback_ports),
)


ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    no_world_open_ports,
    ecs_circuit_breaker_rollback,
    ecs_image_pinned_by_digest,
    ecs_sidecar_image_pinned_by_digest,
    ecs_no_plaintext_secrets,
    ecs_app_read_only_root_filesystem,
    ecs_awslogs_driver,
    ecr_scan_on_push,
    ecr_lifecycle_policy,
    log_group_retention,
    target_group_replaceable_and_quick,
    lb_https_listener_modern_tls,
    lb_http_redirects_to_https,
    lb_access_logs_when_required,
    iam_no_admin_wildcards,
    docker_ports_on_loopback,
]
"""Every policy of the pack, in the order the docs list them (docs/policy.md)."""
