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
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def unwrap(value: Any) -> Any:
    """Plain values from mock inputs: secrets unwrapped, unknowns (previews) as the engine's
    unknown sentinel, recursively."""
    if isinstance(value, pulumi.output.Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        if _is_secret(value):
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _secret_keys(inputs: dict[str, Any]) -> list[str]:
    return sorted(key for key, value in inputs.items() if _is_secret(value))


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
        outputs: dict[str, Any] = {**inputs, "name": physical}
        resource_id = _ID_PREFIX.get(args.typ, "") + short_hash(args.name, 17)
        arn_base = f"arn:aws:{{service}}:{REGION}:{ACCOUNT}"
        elb = arn_base.format(service="elasticloadbalancing")
        short = physical[:32]
        match args.typ:
            case "aws:ecr/repository:Repository":
                outputs |= {
                    "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{physical}",
                    "arn": f"{arn_base.format(service='ecr')}:repository/{physical}",
                    "registryId": ACCOUNT,
                }
                resource_id = physical
            case "docker:index/image:Image":
                repository = inputs["imageName"].rsplit(":", 1)[0]
                digest = hashlib.sha256(inputs["imageName"].encode()).hexdigest()
                # pulumi-docker builds during a preview but pushes nothing: its repoDigest
                # is then the local image id, without a repository.
                outputs |= {
                    "repoDigest": f"sha256:{digest}"
                    if self.preview
                    else f"{repository}@sha256:{digest}"
                }
                resource_id = f"sha256:{digest}"
            case "docker:index/remoteImage:RemoteImage":
                # Like the provider: image id = local image sha256, id = imageId + name.
                reference = inputs["name"]
                digest = hashlib.sha256(reference.encode()).hexdigest()
                repository = (
                    reference.rsplit(":", 1)[0]
                    if "/" not in reference.rsplit(":", 1)[-1]
                    else reference
                )
                outputs |= {
                    "imageId": f"sha256:{digest}",
                    "repoDigest": f"{repository}@sha256:{digest}",
                }
                resource_id = f"sha256:{digest}{reference}"
            case "docker:index/container:Container":
                resource_id = hashlib.sha256(physical.encode()).hexdigest()
                if inputs.get("mustRun") is False and inputs.get("attach"):
                    # A run-to-completion container (migrations): it exited 0.
                    outputs |= {"exitCode": 0, "containerLogs": "0 migrations pending\n"}
                outputs |= {
                    "hostname": resource_id[:12],
                    "networkData": [
                        {"networkName": attachment["name"], "ipAddress": "172.18.0.2"}
                        for attachment in inputs.get("networksAdvanced", [])
                    ],
                }
            case "docker:index/network:Network":
                resource_id = hashlib.sha256(physical.encode()).hexdigest()
                outputs |= {
                    "driver": inputs.get("driver", "bridge"),
                    "scope": "local",
                    "ipamConfigs": [{"subnet": "172.18.0.0/16", "gateway": "172.18.0.1"}],
                }
            case "docker:index/volume:Volume":
                resource_id = physical
                outputs |= {
                    "driver": "local",
                    "mountpoint": f"/var/lib/docker/volumes/{physical}/_data",
                }
            case "aws:ecs/cluster:Cluster":
                outputs["arn"] = f"{arn_base.format(service='ecs')}:cluster/{physical}"
                resource_id = outputs["arn"]
            case "aws:ecs/service:Service":
                outputs["arn"] = f"{arn_base.format(service='ecs')}:service/{physical}"
                resource_id = outputs["arn"]
            case "aws:ecs/taskDefinition:TaskDefinition":
                family = inputs["family"]
                outputs |= {
                    "arn": f"{arn_base.format(service='ecs')}:task-definition/{family}:1",
                    "revision": 1,
                }
            case "aws:lb/loadBalancer:LoadBalancer":
                suffix = f"app/{short}/{short_hash(physical, 16)}"
                outputs |= {
                    "arn": f"{elb}:loadbalancer/{suffix}",
                    "arnSuffix": suffix,
                    "dnsName": f"{short}-{short_hash(physical, 10)}.{REGION}.elb.amazonaws.com",
                    "zoneId": "Z32O12XQLNTSW2",
                }
            case "aws:lb/targetGroup:TargetGroup":
                suffix = f"targetgroup/{short}/{short_hash(physical, 16)}"
                outputs |= {
                    "arn": f"{elb}:{suffix}",
                    "arnSuffix": suffix,
                }
            case "aws:lb/listener:Listener":
                outputs["arn"] = f"{elb}:listener/{args.name}"
            case "aws:cloudwatch/logGroup:LogGroup":
                outputs["arn"] = f"{arn_base.format(service='logs')}:log-group:{physical}"
                resource_id = physical
            case "aws:iam/role:Role":
                outputs["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{physical}"
                resource_id = physical
            case "aws:secretsmanager/secret:Secret":
                outputs["arn"] = (
                    f"{arn_base.format(service='secretsmanager')}:secret:{physical}-AbCdEf"
                )
                resource_id = outputs["arn"]
            case "aws:sns/topic:Topic":
                outputs["arn"] = f"{arn_base.format(service='sns')}:{physical}"
                resource_id = outputs["arn"]
            case "aws:sns/topicSubscription:TopicSubscription":
                outputs["arn"] = f"{inputs['topic']}:{short_hash(args.name, 8)}-0000-4000-8000"
                resource_id = outputs["arn"]
            case "aws:kms/key:Key":
                key_id = _uuid_like(args.name)
                outputs |= {
                    "arn": f"{arn_base.format(service='kms')}:key/{key_id}",
                    "keyId": key_id,
                }
                resource_id = key_id
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                outputs["arn"] = f"{arn_base.format(service='cloudwatch')}:alarm:{physical}"
                resource_id = physical
            case "aws:cloudwatch/dashboard:Dashboard":
                dashboard = inputs["dashboardName"]
                outputs["dashboardArn"] = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"
                resource_id = dashboard
            case "aws:amp/workspace:Workspace":
                resource_id = f"ws-{_uuid_like(args.name)}"
                outputs |= {
                    "arn": f"{arn_base.format(service='aps')}:workspace/{resource_id}",
                    "prometheusEndpoint": (
                        f"https://aps-workspaces.{REGION}.amazonaws.com/workspaces/{resource_id}/"
                    ),
                }
            case "aws:grafana/workspace:Workspace":
                resource_id = f"g-{short_hash(args.name, 10)}"
                outputs |= {
                    "arn": f"{arn_base.format(service='grafana')}:/workspaces/{resource_id}",
                    "endpoint": f"{resource_id}.grafana-workspace.{REGION}.amazonaws.com",
                }
            case "random:index/randomPassword:RandomPassword":
                length = int(inputs["length"])
                outputs["result"] = (hashlib.sha512(args.name.encode()).hexdigest() * 4)[:length]
            case "aws:rds/instance:Instance":
                identifier = inputs.get("identifier") or physical
                address = f"{identifier}.c9akciq32.{REGION}.rds.amazonaws.com"
                outputs |= {
                    "identifier": identifier,
                    "address": address,
                    "port": inputs.get("port", 5432),
                    "endpoint": f"{address}:{inputs.get('port', 5432)}",
                    "arn": f"{arn_base.format(service='rds')}:db:{identifier}",
                }
                resource_id = identifier
            case "aws:appautoscaling/target:Target":
                resource_id = inputs["resourceId"]
            case (
                "aws:ec2/vpc:Vpc" | "aws:ec2/subnet:Subnet" | "aws:ec2/securityGroup:SecurityGroup"
            ):
                kind = args.typ.split(":")[-1].lower()
                outputs["arn"] = f"{arn_base.format(service='ec2')}:{kind}/{resource_id}"
            case _:
                if args.typ.startswith("aws:") and "arn" not in outputs:
                    service = args.typ.split(":")[1].split("/")[0]
                    outputs["arn"] = f"{arn_base.format(service=service)}:{physical}"
        return resource_id, outputs

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
