"""Pulumi mocks whose outputs look like AWS's and Docker's, and a monitor that records options.

Outputs are shaped like the real ones (ARNs, repository URLs, DNS names, ``repo@sha256:``
digests, ``vpc-``/``subnet-``/``sg-`` ids) so that code parsing them is exercised. The monitor
also records what the engine would see but ``Mocks.new_resource`` does not: parent, protect,
retainOnDelete, ignoreChanges, replaceOnChanges, deleteBeforeReplace, dependencies and the
alias URNs the engine would derive.

URNs are built as the Pulumi engine builds them (the parent's whole qualified type chain, the
root stack left out), not as ``MockMonitor.make_urn`` does (only the parent's last type): an
upgrade test that compares URNs must compare the ones real stacks hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
HOSTED_ZONE = "example.com"
"""The name of every Route 53 hosted zone the mocked account looks up (aws.route53.get_zone)."""


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# What the engine sends a monitor is wire data: secrets arrive as ``{<sig key>: <secret sig>,
# "value": ...}`` dicts and unknowns as a sentinel string. The SDK has no public API for reading
# them (``pulumi.runtime.rpc`` is outside ``pulumi.runtime.__all__``): this module is the one
# place that does, with rpc's own helpers, so an SDK change breaks here and nowhere else.

UNKNOWN = rpc.UNKNOWN
"""How an unknown value (a preview's computed output) reads in recorded inputs."""


def unwrap(value: Any) -> Any:
    """Plain values from mock inputs: secrets unwrapped, unknowns (previews) as the engine's
    unknown sentinel, recursively."""
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        if rpc.is_rpc_secret(value):
            return unwrap(rpc.unwrap_rpc_secret(value))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def _secret_keys(inputs: dict[str, Any]) -> list[str]:
    return sorted(key for key, value in inputs.items() if rpc.is_rpc_secret(value))


@dataclass
class Recorded:
    """One registered resource as the engine would see it."""

    type: str
    name: str
    urn: str
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    parent: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    secret_inputs: list[str] = field(default_factory=list)
    """Top-level inputs the program marked secret (the engine encrypts them in the state)."""
    aliases: list[str] = field(default_factory=list)
    """Alias URNs as the engine derives them (own aliases and those inherited from parents)."""
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
}


def _uuid_like(text: str) -> str:
    digest = short_hash(text, 32)
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


@dataclass(frozen=True)
class NewResource:
    """What a type's output function gets: the registration, with the values every type uses."""

    type: str
    name: str
    inputs: dict[str, Any]
    """Unwrapped inputs (wire names, camelCase)."""
    physical: str
    """The physical name: ``name`` input, ``namePrefix`` + hash, or logical name + hash."""
    preview: bool

    @property
    def default_id(self) -> str:
        return _ID_PREFIX.get(self.type, "") + short_hash(self.name, 17)

    @property
    def short(self) -> str:
        """What AWS keeps of a load balancer's or target group's name (32 characters)."""
        return self.physical[:32]


Answer = tuple[str, dict[str, Any]]
"""(id, outputs beyond the inputs and ``name``)."""


def _ecr_repository(r: NewResource) -> Answer:
    return r.physical, {
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{r.physical}",
        "arn": _arn("ecr", f"repository/{r.physical}"),
        "registryId": ACCOUNT,
    }


def _docker_image(r: NewResource) -> Answer:
    repository = r.inputs["imageName"].rsplit(":", 1)[0]
    digest = hashlib.sha256(r.inputs["imageName"].encode()).hexdigest()
    # pulumi-docker builds during a preview but pushes nothing: its repoDigest is then the
    # local image id, without a repository.
    repo_digest = f"sha256:{digest}" if r.preview else f"{repository}@sha256:{digest}"
    return f"sha256:{digest}", {"repoDigest": repo_digest}


def _docker_remote_image(r: NewResource) -> Answer:
    # Like the provider: image id = local image sha256, id = imageId + name.
    reference = r.inputs["name"]
    digest = hashlib.sha256(reference.encode()).hexdigest()
    tail = reference.rsplit(":", 1)
    repository = tail[0] if "/" not in tail[-1] else reference
    return f"sha256:{digest}{reference}", {
        "imageId": f"sha256:{digest}",
        "repoDigest": f"{repository}@sha256:{digest}",
    }


def _docker_container(r: NewResource) -> Answer:
    container_id = hashlib.sha256(r.physical.encode()).hexdigest()
    outputs: dict[str, Any] = {
        "hostname": container_id[:12],
        "networkData": [
            {"networkName": attachment["name"], "ipAddress": "172.18.0.2"}
            for attachment in r.inputs.get("networksAdvanced", [])
        ],
    }
    if r.inputs.get("mustRun") is False and r.inputs.get("attach"):
        # A run-to-completion container (migrations): it exited 0.
        outputs |= {"exitCode": 0, "containerLogs": "0 migrations pending\n"}
    return container_id, outputs


def _docker_network(r: NewResource) -> Answer:
    return hashlib.sha256(r.physical.encode()).hexdigest(), {
        "driver": r.inputs.get("driver", "bridge"),
        "scope": "local",
        "ipamConfigs": [{"subnet": "172.18.0.0/16", "gateway": "172.18.0.1"}],
    }


def _docker_volume(r: NewResource) -> Answer:
    return r.physical, {
        "driver": "local",
        "mountpoint": f"/var/lib/docker/volumes/{r.physical}/_data",
    }


def _arn_is_id(service: str, kind: str) -> Callable[[NewResource], Answer]:
    """Resources whose id is their ARN ``<kind><physical name>`` (ECS, SNS, Secrets Manager)."""

    def answer(r: NewResource) -> Answer:
        arn = _arn(service, f"{kind}{r.physical}")
        return arn, {"arn": arn}

    return answer


def _name_is_id(arn: Callable[[str], str]) -> Callable[[NewResource], Answer]:
    """Resources whose id is their physical name (log groups, roles, alarms)."""

    def answer(r: NewResource) -> Answer:
        return r.physical, {"arn": arn(r.physical)}

    return answer


def _task_definition(r: NewResource) -> Answer:
    arn = _arn("ecs", f"task-definition/{r.inputs['family']}:1")
    return r.default_id, {"arn": arn, "revision": 1}


def _load_balancer(r: NewResource) -> Answer:
    suffix = f"app/{r.short}/{short_hash(r.physical, 16)}"
    return r.default_id, {
        "arn": _arn("elasticloadbalancing", f"loadbalancer/{suffix}"),
        "arnSuffix": suffix,
        "dnsName": f"{r.short}-{short_hash(r.physical, 10)}.{REGION}.elb.amazonaws.com",
        "zoneId": "Z32O12XQLNTSW2",
    }


def _target_group(r: NewResource) -> Answer:
    suffix = f"targetgroup/{r.short}/{short_hash(r.physical, 16)}"
    return r.default_id, {"arn": _arn("elasticloadbalancing", suffix), "arnSuffix": suffix}


def _listener(r: NewResource) -> Answer:
    return r.default_id, {"arn": _arn("elasticloadbalancing", f"listener/{r.name}")}


def _secret(r: NewResource) -> Answer:
    arn = _arn("secretsmanager", f"secret:{r.physical}-AbCdEf")
    return arn, {"arn": arn}


def _topic_subscription(r: NewResource) -> Answer:
    arn = f"{r.inputs['topic']}:{short_hash(r.name, 8)}-0000-4000-8000"
    return arn, {"arn": arn}


def _kms_key(r: NewResource) -> Answer:
    key_id = _uuid_like(r.name)
    return key_id, {"arn": _arn("kms", f"key/{key_id}"), "keyId": key_id}


def _dashboard(r: NewResource) -> Answer:
    dashboard = r.inputs["dashboardName"]
    return dashboard, {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"}


def _amp_workspace(r: NewResource) -> Answer:
    workspace_id = f"ws-{_uuid_like(r.name)}"
    return workspace_id, {
        "arn": _arn("aps", f"workspace/{workspace_id}"),
        "prometheusEndpoint": (
            f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/{workspace_id}/"
        ),
    }


def _grafana_workspace(r: NewResource) -> Answer:
    workspace_id = f"g-{short_hash(r.name, 10)}"
    return workspace_id, {
        "arn": _arn("grafana", f"/workspaces/{workspace_id}"),
        "endpoint": f"{workspace_id}.grafana-workspace.{REGION}.amazonaws.com",
    }


def _random_password(r: NewResource) -> Answer:
    length = int(r.inputs["length"])
    return r.default_id, {"result": (hashlib.sha512(r.name.encode()).hexdigest() * 4)[:length]}


def _s3_bucket(r: NewResource) -> Answer:
    name = r.inputs.get("bucket") or f"{r.inputs.get('bucketPrefix', '')}{short_hash(r.name, 26)}"
    return name, {"bucket": name, "arn": f"arn:aws:s3:::{name}", "id": name}


def _random_id(r: NewResource) -> Answer:
    hex_digits = hashlib.sha256(r.name.encode()).hexdigest()[: 2 * int(r.inputs["byteLength"])]
    return hex_digits, {"hex": hex_digits, "dec": str(int(hex_digits, 16))}


def _rds_instance(r: NewResource) -> Answer:
    identifier = r.inputs.get("identifier") or r.physical
    port = r.inputs.get("port", 5432)
    address = f"{identifier}.c9akciq32.{REGION}.rds.amazonaws.com"
    return identifier, {
        "identifier": identifier,
        "address": address,
        "port": port,
        "endpoint": f"{address}:{port}",
        "arn": _arn("rds", f"db:{identifier}"),
    }


def _scaling_target(r: NewResource) -> Answer:
    return r.inputs["resourceId"], {}


def _ec2_with_arn(r: NewResource) -> Answer:
    kind = r.type.split(":")[-1].lower()
    return r.default_id, {"arn": _arn("ec2", f"{kind}/{r.default_id}")}


def _acm_certificate(r: NewResource) -> Answer:
    """ACM's answer to a DNS-validated request: one CNAME to create per name it covers."""
    certificate_id = _uuid_like(r.name)
    arn = _arn("acm", f"certificate/{certificate_id}")
    names = [r.inputs["domainName"], *r.inputs.get("subjectAlternativeNames", [])]
    options = [
        {
            "domainName": name,
            "resourceRecordName": f"_{short_hash(name, 32)}.{name}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{short_hash(arn + name, 32)}.mhbtsbpdnt.acm-validations.aws.",
        }
        for name in names
    ]
    return arn, {"arn": arn, "domainValidationOptions": options, "status": "PENDING_VALIDATION"}


def _route53_record(r: NewResource) -> Answer:
    fqdn = str(r.inputs["name"]).rstrip(".")
    return f"{r.inputs['zoneId']}_{fqdn}_{r.inputs['type']}", {"fqdn": fqdn}


def _generic(r: NewResource) -> Answer:
    """Any other type: its inputs echoed, and an ARN for AWS resources that have none."""
    if r.type.startswith("aws:") and "arn" not in r.inputs:
        return r.default_id, {"arn": _arn(r.type.split(":")[1].split("/")[0], r.physical)}
    return r.default_id, {}


OUTPUTS: dict[str, Callable[[NewResource], Answer]] = {
    "aws:ecr/repository:Repository": _ecr_repository,
    "docker:index/image:Image": _docker_image,
    "docker:index/remoteImage:RemoteImage": _docker_remote_image,
    "docker:index/container:Container": _docker_container,
    "docker:index/network:Network": _docker_network,
    "docker:index/volume:Volume": _docker_volume,
    "aws:ecs/cluster:Cluster": _arn_is_id("ecs", "cluster/"),
    "aws:ecs/service:Service": _arn_is_id("ecs", "service/"),
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:cloudwatch/logGroup:LogGroup": _name_is_id(lambda name: _arn("logs", f"log-group:{name}")),
    "aws:iam/role:Role": _name_is_id(lambda name: f"arn:aws:iam::{ACCOUNT}:role/{name}"),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:sns/topic:Topic": _arn_is_id("sns", ""),
    "aws:sns/topicSubscription:TopicSubscription": _topic_subscription,
    "aws:kms/key:Key": _kms_key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _name_is_id(
        lambda name: _arn("cloudwatch", f"alarm:{name}")
    ),
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:amp/workspace:Workspace": _amp_workspace,
    "aws:grafana/workspace:Workspace": _grafana_workspace,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:ec2/vpc:Vpc": _ec2_with_arn,
    "aws:ec2/subnet:Subnet": _ec2_with_arn,
    "aws:ec2/securityGroup:SecurityGroup": _ec2_with_arn,
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:route53/record:Record": _route53_record,
}
"""Type token -> the (id, outputs) a provider would answer; other types get :func:`_generic`."""


class AwsLikeMocks(pulumi.runtime.Mocks):
    def __init__(self, preview: bool = False) -> None:
        super().__init__()
        self.preview = preview
        """Answer as providers do during ``pulumi preview``."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap(args.inputs)
        token = short_hash(f"{args.typ}/{args.name}")
        physical = inputs.get("name") or (
            f"{inputs['namePrefix']}{token}" if inputs.get("namePrefix") else f"{args.name}-{token}"
        )
        registration = NewResource(args.typ, args.name, inputs, physical, self.preview)
        resource_id, outputs = OUTPUTS.get(args.typ, _generic)(registration)
        return resource_id, {**inputs, "name": physical, **outputs}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                result = {
                    "accountId": ACCOUNT,
                    "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                    "userId": "AIDAEXAMPLE",
                    "id": ACCOUNT,
                }
            case "aws:index/getPartition:getPartition":
                result = {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
            case "aws:index/getRegion:getRegion":
                result = {"region": REGION, "name": REGION, "id": REGION}
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                result = {"names": ZONES, "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"]}
            case "aws:elb/getServiceAccount:getServiceAccount":
                # eu-west-1's Elastic Load Balancing account (AWS's access-log documentation).
                result = {"arn": "arn:aws:iam::156460612806:root", "id": "156460612806"}
            case "aws:route53/getZone:getZone":
                # Every hosted zone of the mocked account is the public zone of HOSTED_ZONE.
                zone_id = args.args.get("zoneId") or "Z0123456789ABCDEFGHIJ"
                result = {
                    "zoneId": zone_id,
                    "id": zone_id,
                    "name": HOSTED_ZONE,
                    "privateZone": False,
                    "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
                }
            case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                result = {
                    "userName": "AWS",
                    "password": "mock-ecr-password",
                    "authorizationToken": "QVdTOm1vY2s=",
                    "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
                    "id": REGION,
                }
            case _:
                raise NotImplementedError(f"no mock for invoke {args.token}")
        return result, []


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def _urn_parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of a URN."""
    head, project, qualified_type, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, qualified_type, name


def engine_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """The URN the engine gives a resource: parent's qualified type chain + ``$`` + type."""
    if parent:
        parent_type = _urn_parts(parent)[2]
        if parent_type != ROOT_STACK_TYPE:
            type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _inherited_child_alias(child_type: str, child_name: str, parent_name: str, alias: str) -> str:
    """The engine's ``inheritedChildAlias``: a child of an aliased parent is aliased too."""
    stack, project, _, alias_name = _urn_parts(alias)
    name = child_name
    if child_name.startswith(parent_name):
        name = alias_name + child_name[len(parent_name) :]
    return engine_urn(stack, project, alias, child_type, name)


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration with its resource options."""

    def __init__(self, mocks: AwsLikeMocks) -> None:
        super().__init__(mocks)
        self._options: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, list[str]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(pulumi.get_stack(), pulumi.get_project(), parent, type_, name)

    def _alias_urns(self, request: Any) -> list[str]:
        """The engine's ``generateAliases``: the request's alias specs collapsed to URNs, then
        multiplied out by every alias of the parent."""
        stack, project = pulumi.get_stack(), pulumi.get_project()

        def collapse(alias: Any) -> str:
            if alias.urn:
                return alias.urn
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            return engine_urn(
                spec.stack or stack,
                spec.project or project,
                parent,
                spec.type or request.type,
                spec.name or request.name,
            )

        own = [collapse(alias) for alias in request.aliases]
        own += list(request.aliasURNs)
        result = list(own)
        if request.parent:
            parent_name = _urn_parts(request.parent)[3]
            for parent_alias in self._aliases.get(request.parent, []):
                result.append(
                    _inherited_child_alias(request.type, request.name, parent_name, parent_alias)
                )
                for alias in own:
                    _, _, alias_type, alias_name = _urn_parts(alias)
                    result.append(
                        _inherited_child_alias(
                            alias_type.split("$")[-1], alias_name, parent_name, parent_alias
                        )
                    )
        return list(dict.fromkeys(result))

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        aliases = self._alias_urns(request)
        self._aliases[response.urn] = aliases
        self._options[response.urn] = {
            "aliases": aliases,
            "replace_on_changes": list(request.replaceOnChanges),
            "delete_before_replace": bool(request.deleteBeforeReplace),
            "inputs": unwrap(rpc.deserialize_properties(request.object)),
            "parent": request.parent,
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
            "ignore_changes": list(request.ignoreChanges),
            "dependencies": list(request.dependencies),
            "custom": bool(request.custom),
            "secret_inputs": _secret_keys(rpc.deserialize_properties(request.object)),
            "type": request.type,
            "name": request.name,
        }
        return response

    def recorded(self) -> list[Recorded]:
        result = []
        for urn, registration in self.resources.items():
            options = self._options.get(urn, {})
            state = unwrap(dict(registration.state or {}))
            result.append(
                Recorded(
                    type=options.get("type", ""),
                    name=options.get("name", ""),
                    urn=urn,
                    id=registration.id,
                    inputs=options.get("inputs", state),
                    outputs=state,
                    custom=options.get("custom", True),
                    parent=options.get("parent", ""),
                    protect=options.get("protect", False),
                    retain_on_delete=options.get("retain_on_delete", False),
                    ignore_changes=options.get("ignore_changes", []),
                    dependencies=options.get("dependencies", []),
                    secret_inputs=options.get("secret_inputs", []),
                    aliases=options.get("aliases", []),
                    replace_on_changes=options.get("replace_on_changes", []),
                    delete_before_replace=options.get("delete_before_replace", False),
                )
            )
        return result

    def clear(self) -> None:
        self.resources.clear()
        self._options.clear()
        self._aliases.clear()
