"""Estimated monthly cost of what a run registered, from a dated price table per region.

Every AWS type the program can register is in :data:`PRICED` (which prices make its cost) or in
:data:`FREE` (why it costs nothing by itself); a type in neither is reported as unpriced, and a
test fails when the program can register one. Usage the resources do not say (traffic, log
volume, stored images, metric series) comes from :class:`Assumptions`, printed with the result.

Free tiers are account-wide and never subtracted; taxes and data transfer out to the internet
are not counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from plan.inventory import labels
from plan.mocks import Recorded

PRICES_DIR = Path(__file__).resolve().parent / "prices"
AMP_RETENTION_DAYS = 150
"""Amazon Managed Service for Prometheus keeps samples 150 days unless told otherwise."""
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Assumptions:
    """Usage the resources do not state; each is a flag of the plan command."""

    hours: float = 730
    """Hours in a month (AWS's own convention: 24 x 365 / 12)."""
    lcu: float = 1.0
    """Average load balancer capacity units per hour (1 LCU: 25 new connections/s, 3,000
    active connections, 1 GB/hour processed, or 1,000 rule evaluations/s)."""
    nat_gb: float = 10.0
    """GB a month through the NAT gateways (image pulls, calls to AWS APIs and the internet)."""
    log_gb: float = 5.0
    """GB a month of app logs ingested into each service's log group."""
    flow_log_gb: float = 5.0
    """GB a month of VPC flow log records."""
    other_log_gb: float = 0.1
    """GB a month into any other log group (the chat forwarder's)."""
    access_log_gb: float = 1.0
    """GB a month of load balancer access logs written to S3."""
    ecr_gb: float = 1.0
    """GB of images kept in each repository (the lifecycle policy bounds it)."""
    amp_series: float = 1000
    """Active Prometheus series each scraped task exposes."""
    amp_bytes_per_sample: float = 2.0
    """Stored bytes per sample in managed Prometheus (compressed)."""
    backup_gb: float = 0.0
    """Database backup GB beyond the free allowance (100 % of the provisioned storage)."""
    grafana_editors: float = 1
    """Managed Grafana editor/admin users."""
    grafana_viewers: float = 0
    """Managed Grafana viewer users."""


ASSUMPTION_HELP = {
    # One line per field of Assumptions, for the flags' --help.
    "hours": "hours in a month (730 = 24 x 365 / 12)",
    "lcu": "average load balancer capacity units per hour",
    "nat_gb": "GB a month through the NAT gateways",
    "log_gb": "GB a month of app logs into each service's log group",
    "flow_log_gb": "GB a month of VPC flow logs",
    "other_log_gb": "GB a month into any other log group",
    "access_log_gb": "GB a month of load balancer access logs in S3",
    "ecr_gb": "GB of images kept per repository",
    "amp_series": "active Prometheus series per scraped task",
    "amp_bytes_per_sample": "stored bytes per sample in managed Prometheus",
    "backup_gb": "database backup GB beyond the free allowance",
    "grafana_editors": "managed Grafana editor/admin users",
    "grafana_viewers": "managed Grafana viewer users",
}


# -- the price table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    per: str
    source: str
    confirmed_by: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class PriceTable:
    region: str
    date: str
    path: str
    prices: Mapping[str, Price]
    rds_instance_hour: Mapping[str, float]
    rds_source: str

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


class NoPriceTable(Exception):
    def __init__(self, region: str) -> None:
        known = ", ".join(available_regions()) or "none"
        super().__init__(
            f"no price table for region {region!r} (plan/prices/<region>.yaml); "
            f"tables exist for: {known}. Add one as docs/plan.md explains, or plan another stack."
        )


def available_regions() -> list[str]:
    return sorted(p.stem for p in PRICES_DIR.glob("*.yaml"))


def load_prices(region: str) -> PriceTable:
    path = PRICES_DIR / f"{region}.yaml"
    if not path.is_file():
        raise NoPriceTable(region)
    document = yaml.safe_load(path.read_text())
    prices = {
        key: Price(
            key=key,
            usd=float(entry["usd"]),
            per=str(entry["per"]),
            source=str(entry["source"]),
            confirmed_by=entry.get("confirmed_by"),
            note=entry.get("note"),
        )
        for key, entry in document["prices"].items()
    }
    rds = document["rds_instance_hour"]
    return PriceTable(
        region=document["region"],
        date=str(document["date"]),
        path=f"plan/prices/{path.name}",
        prices=prices,
        rds_instance_hour={k: float(v) for k, v in rds["usd"].items()},
        rds_source=str(rds["source"]),
    )


# -- which types cost what --------------------------------------------------------------------

PRICED: dict[str, tuple[str, ...]] = {
    "aws:ecs/service:Service": (
        "fargate_vcpu_hour_x86",
        "fargate_gb_hour_x86",
        "fargate_vcpu_hour_arm",
        "fargate_gb_hour_arm",
        "fargate_spot_discount",
        "public_ipv4_hour",
        "cloud_map_instance_month",
    ),
    "aws:lb/loadBalancer:LoadBalancer": ("alb_hour", "alb_lcu_hour", "public_ipv4_hour"),
    "aws:ec2/natGateway:NatGateway": ("nat_gateway_hour", "nat_gateway_gb"),
    "aws:ec2/eip:Eip": ("public_ipv4_hour",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch_alarm_metric_month",),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch_dashboard_month",),
    "aws:cloudwatch/logGroup:LogGroup": ("logs_ingest_gb", "logs_storage_gb_month"),
    "aws:secretsmanager/secret:Secret": ("secret_month",),
    "aws:kms/key:Key": ("kms_key_month",),
    "aws:ecr/repository:Repository": ("ecr_gb_month",),
    "aws:amp/workspace:Workspace": ("amp_samples_10m", "amp_storage_gb_month"),
    "aws:grafana/workspace:Workspace": ("grafana_editor_month", "grafana_viewer_month"),
    "aws:rds/instance:Instance": ("rds_gp3_gb_month", "rds_backup_gb_month"),
    "aws:s3/bucket:Bucket": ("s3_standard_gb_month",),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": ("route53_hosted_zone_month",),
    "aws:route53/zone:Zone": ("route53_hosted_zone_month",),
}
"""AWS types with a cost of their own -> the price-table keys their cost is made of."""

_NO_CHARGE = "no charge of its own"
FREE: dict[str, str] = {
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": _NO_CHARGE,
    "aws:route53/record:Record": (
        "records cost nothing; alias queries to a load balancer are free, other queries "
        "USD 0.40 a million (not counted)"
    ),
    "aws:lb/listenerCertificate:ListenerCertificate": _NO_CHARGE,
    "aws:lb/listenerRule:ListenerRule": "part of the load balancer's LCUs",
    "aws:amp/alertManagerDefinition:AlertManagerDefinition": _NO_CHARGE,
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace": (
        "rule evaluation is billed as query samples processed (USD 0.10 per billion): "
        "negligible for a handful of rules"
    ),
    "aws:appautoscaling/policy:Policy": _NO_CHARGE,
    "aws:appautoscaling/target:Target": _NO_CHARGE,
    "aws:cloudwatch/eventRule:EventRule": "events of AWS services on the default bus are free",
    "aws:cloudwatch/eventTarget:EventTarget": "part of its rule",
    "aws:ec2/flowLog:FlowLog": "priced as the ingestion and storage of its log group",
    "aws:ec2/internetGateway:InternetGateway": _NO_CHARGE,
    "aws:ec2/routeTable:RouteTable": _NO_CHARGE,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _NO_CHARGE,
    "aws:ec2/securityGroup:SecurityGroup": _NO_CHARGE,
    "aws:ec2/subnet:Subnet": _NO_CHARGE,
    "aws:ec2/vpc:Vpc": _NO_CHARGE,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _NO_CHARGE,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _NO_CHARGE,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _NO_CHARGE,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _NO_CHARGE,
    "aws:ecs/cluster:Cluster": (
        "Fargate is priced on the services' tasks (the Container Insights metrics the cluster "
        "turns on are not counted: docs/plan.md)"
    ),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": _NO_CHARGE,
    "aws:ecs/taskDefinition:TaskDefinition": "priced on the service that runs it",
    "aws:iam/role:Role": "IAM is free",
    "aws:iam/rolePolicy:RolePolicy": "IAM is free",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM is free",
    "aws:iam/policy:Policy": "IAM is free",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM is free",
    "aws:kms/alias:Alias": "an alias costs nothing; its key is billed",
    "aws:s3/bucketVersioning:BucketVersioning": "a setting; the versions are the bucket's storage",
    "aws:lambda/function:Function": (
        "within Lambda's free tier (1 million requests and 400,000 GB-seconds a month): the "
        "chat forwarder runs once per alarm or deployment event"
    ),
    "aws:lambda/permission:Permission": _NO_CHARGE,
    "aws:lb/listener:Listener": "part of the load balancer's hours and LCUs",
    "aws:lb/targetGroup:TargetGroup": "part of the load balancer's hours and LCUs",
    "aws:rds/parameterGroup:ParameterGroup": _NO_CHARGE,
    "aws:rds/subnetGroup:SubnetGroup": _NO_CHARGE,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _NO_CHARGE,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _NO_CHARGE,
    "aws:s3/bucketPolicy:BucketPolicy": _NO_CHARGE,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _NO_CHARGE,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "SSE-S3 encryption is free"
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": "part of its secret's monthly price",
    "aws:servicediscovery/service:Service": "registered tasks are priced on the ECS service",
    "aws:sns/topic:Topic": (
        "the first million publishes a month are free; alarms publish a few a day"
    ),
    "aws:sns/topicPolicy:TopicPolicy": _NO_CHARGE,
    "aws:sns/topicSubscription:TopicSubscription": (
        "the first 1,000 e-mails and 100,000 HTTP(S) notifications a month are free"
    ),
}
"""AWS types that cost nothing by themselves -> why."""

NOT_AWS = {
    "docker:": "runs on your own Docker engine (local target, image builds)",
    "random:": "values made by Pulumi itself",
    "pulumi:": "Pulumi engine resources",
    "elixir-devops:": "this program's components (their resources are counted)",
}


def free_reason(token: str) -> str | None:
    for prefix, reason in NOT_AWS.items():
        if token.startswith(prefix):
            return reason
    return FREE.get(token)


# -- line items -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    component: str
    item: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    price: str
    """Price-table key the figure comes from."""
    note: str = ""
    count: int = 1
    """How many resources this line adds up (identical lines are merged)."""


@dataclass
class Cost:
    region: str | None
    items: list[LineItem] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    """What has no price: types (a test keeps this empty) or, e.g., an RDS class the table
    lacks. The total leaves them out and says so."""
    free: dict[str, str] = field(default_factory=dict)
    """Types registered that cost nothing by themselves -> why."""
    prices: PriceTable | None = None

    @property
    def monthly_usd(self) -> float:
        return round(sum(i.monthly_usd for i in self.items), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "monthly_usd": self.monthly_usd,
            "complete": not self.unpriced,
            "items": [asdict(i) for i in self.items],
            "unpriced": self.unpriced,
            "free": self.free,
            "price_table": None
            if self.prices is None
            else {"path": self.prices.path, "date": self.prices.date},
        }


@dataclass(frozen=True)
class _Context:
    resources: Sequence[Recorded]
    prices: PriceTable
    assume: Assumptions
    component: Mapping[str, str]
    unpriced: list[str] = field(default_factory=list)
    """What an estimator could not price (left out of the total, and said so)."""

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def item(
        self,
        r: Recorded,
        item: str,
        quantity: float,
        price_key: str,
        factor: float = 1.0,
        note: str = "",
    ) -> LineItem:
        price = self.prices[price_key]
        unit_usd = price.usd * factor
        return LineItem(
            component=self.component.get(r.urn, "stack"),
            item=item,
            quantity=quantity,
            unit=price.per,
            unit_usd=round(unit_usd, 8),
            monthly_usd=round(quantity * unit_usd, 2),
            price=price_key,
            note=note,
        )


def _count(value: Any, default: float = 0) -> float:
    return float(value) if isinstance(value, int | float) else default


def split_by_capacity(tasks: float, strategies: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """How ECS places ``tasks`` on capacity providers: each provider's ``base`` first (in
    order), the rest in proportion to the weights."""
    placed: dict[str, float] = {s["capacityProvider"]: 0.0 for s in strategies}
    left = tasks
    for s in strategies:
        base = min(left, _count(s.get("base")))
        placed[s["capacityProvider"]] += base
        left -= base
    weights = sum(_count(s.get("weight")) for s in strategies)
    for s in strategies:
        if weights:
            placed[s["capacityProvider"]] += left * _count(s.get("weight")) / weights
    return placed


def _task_definition(ctx: _Context, arn: Any) -> Recorded | None:
    for td in ctx.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if td.outputs.get("arn") == arn:
            return td
    return None


def _scrape_interval_seconds(task_definition: Recorded) -> float | None:
    """The collector sidecar's scrape interval, from its configuration (AOT_CONFIG_CONTENT)."""
    definitions = task_definition.inputs.get("containerDefinitions")
    if not isinstance(definitions, str):
        return None
    for container in json.loads(definitions):
        for variable in container.get("environment") or []:
            if variable.get("name") != "AOT_CONFIG_CONTENT":
                continue
            config = yaml.safe_load(variable["value"])
            scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
            return float(str(scrape["scrape_interval"]).removesuffix("s"))
    return None


def _service(ctx: _Context, r: Recorded) -> list[LineItem]:
    hours = ctx.assume.hours
    tasks = _count(r.inputs.get("desiredCount"))
    td = _task_definition(ctx, r.inputs.get("taskDefinition"))
    if td is None:
        ctx.unpriced.append(f"ECS service {r.name}: its task definition is not in the run")
        return []
    vcpu = float(td.inputs["cpu"]) / 1024
    gb = float(td.inputs["memory"]) / 1024
    arch = (td.inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    kind = "arm" if arch == "ARM64" else "x86"
    strategies = r.inputs.get("capacityProviderStrategies") or [
        {"capacityProvider": "FARGATE", "base": 0, "weight": 1}
    ]
    placed = split_by_capacity(tasks, strategies)
    discount = ctx.prices["fargate_spot_discount"].usd
    items: list[LineItem] = []
    for provider, count in placed.items():
        if not count:
            continue
        spot = provider == "FARGATE_SPOT"
        factor = 1 - discount if spot else 1.0
        label = "Spot" if spot else "on-demand"
        shape = f"{count:g} task(s) x {vcpu:g} vCPU / {gb:g} GB {kind}, {label}"
        items.append(
            ctx.item(
                r,
                f"Fargate vCPU: {shape}",
                count * vcpu * hours,
                f"fargate_vcpu_hour_{kind}",
                factor,
            )
        )
        items.append(
            ctx.item(
                r, f"Fargate memory: {shape}", count * gb * hours, f"fargate_gb_hour_{kind}", factor
            )
        )
    network = (r.inputs.get("networkConfiguration") or {}).get("assignPublicIp")
    if network and tasks:
        items.append(
            ctx.item(r, f"public IPv4 of {tasks:g} task(s)", tasks * hours, "public_ipv4_hour")
        )
    if r.inputs.get("serviceRegistries") and tasks:
        items.append(
            ctx.item(
                r, f"Cloud Map: {tasks:g} registered task(s)", tasks, "cloud_map_instance_month"
            )
        )
    return items


def _load_balancer(ctx: _Context, r: Recorded) -> list[LineItem]:
    hours = ctx.assume.hours
    items = [
        ctx.item(r, "load balancer hours", hours, "alb_hour"),
        ctx.item(
            r, f"LCUs ({ctx.assume.lcu:g} on average)", ctx.assume.lcu * hours, "alb_lcu_hour"
        ),
    ]
    if not r.inputs.get("internal"):
        zones = len(r.inputs.get("subnets") or [])
        items.append(
            ctx.item(r, f"public IPv4: one per zone ({zones})", zones * hours, "public_ipv4_hour")
        )
    return items


def _nat_gateway(ctx: _Context, r: Recorded) -> list[LineItem]:
    share = ctx.assume.nat_gb / len(ctx.of_type(r.type))
    return [
        ctx.item(r, "NAT gateway hours", ctx.assume.hours, "nat_gateway_hour"),
        ctx.item(r, "NAT data processed (nat_gb, shared)", share, "nat_gateway_gb"),
    ]


def _eip(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [ctx.item(r, "Elastic IP (public IPv4)", ctx.assume.hours, "public_ipv4_hour")]


def _alarm(ctx: _Context, r: Recorded) -> list[LineItem]:
    queries = r.inputs.get("metricQueries") or []
    metrics = sum(1 for q in queries if q.get("metric")) or 1
    return [ctx.item(r, "CloudWatch alarm metrics", metrics, "cloudwatch_alarm_metric_month")]


def _dashboard(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [ctx.item(r, "dashboard", 1, "cloudwatch_dashboard_month")]


def _log_role(ctx: _Context, r: Recorded) -> tuple[str, float]:
    arn = r.outputs.get("arn")
    if any(f.inputs.get("logDestination") == arn for f in ctx.of_type("aws:ec2/flowLog:FlowLog")):
        return "VPC flow logs", ctx.assume.flow_log_gb
    name = r.outputs.get("name")
    for td in ctx.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        definitions = td.inputs.get("containerDefinitions")
        if isinstance(definitions, str) and any(
            ((c.get("logConfiguration") or {}).get("options") or {}).get("awslogs-group") == name
            for c in json.loads(definitions)
        ):
            return "app logs", ctx.assume.log_gb
    return "logs", ctx.assume.other_log_gb


def _log_group(ctx: _Context, r: Recorded) -> list[LineItem]:
    role, gb = _log_role(ctx, r)
    days = _count(r.inputs.get("retentionInDays"))
    kept_months = days / DAYS_PER_MONTH if days else 12
    kept = "never expire: a year shown" if not days else f"kept {days:g} days"
    return [
        ctx.item(r, f"{role}: {gb:g} GB ingested", gb, "logs_ingest_gb"),
        ctx.item(
            r,
            f"{role}: stored ({kept})",
            gb * kept_months,
            "logs_storage_gb_month",
            note="steady state, uncompressed: an upper bound",
        ),
    ]


def _secret(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [ctx.item(r, "secret", 1, "secret_month")]


def _kms_key(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [ctx.item(r, "KMS key", 1, "kms_key_month")]


def _repository(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [
        ctx.item(r, f"images stored ({ctx.assume.ecr_gb:g} GB)", ctx.assume.ecr_gb, "ecr_gb_month")
    ]


def _amp_workspace(ctx: _Context, r: Recorded) -> list[LineItem]:
    seconds = ctx.assume.hours * 3600
    samples = 0.0
    scraped = 0.0
    for service in ctx.of_type("aws:ecs/service:Service"):
        td = _task_definition(ctx, service.inputs.get("taskDefinition"))
        interval = _scrape_interval_seconds(td) if td is not None else None
        if interval:
            tasks = _count(service.inputs.get("desiredCount"))
            scraped += tasks
            samples += tasks * ctx.assume.amp_series * seconds / interval
    # AMP bills storage in GiB: "1GB is 2^30 bytes" (aws.amazon.com/prometheus/pricing).
    stored_gb = samples * ctx.assume.amp_bytes_per_sample / 2**30 * AMP_RETENTION_DAYS / 30
    return [
        ctx.item(
            r,
            f"samples ingested ({scraped:g} task(s) x {ctx.assume.amp_series:g} series)",
            samples / 1e7,
            "amp_samples_10m",
        ),
        ctx.item(
            r, f"metrics stored ({AMP_RETENTION_DAYS} days)", stored_gb, "amp_storage_gb_month"
        ),
    ]


def _grafana(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [
        ctx.item(r, "Grafana editors", ctx.assume.grafana_editors, "grafana_editor_month"),
        ctx.item(r, "Grafana viewers", ctx.assume.grafana_viewers, "grafana_viewer_month"),
    ]


def _database(ctx: _Context, r: Recorded) -> list[LineItem]:
    instance_class = str(r.inputs.get("instanceClass"))
    copies = 2 if r.inputs.get("multiAz") else 1
    az = "Multi-AZ (x2)" if copies == 2 else "Single-AZ"
    items: list[LineItem] = []
    hourly = ctx.prices.rds_instance_hour.get(instance_class)
    if hourly is None:
        ctx.unpriced.append(f"RDS instance class {instance_class} (not in {ctx.prices.path})")
    else:
        unit = hourly * copies
        items.append(
            LineItem(
                component=ctx.component.get(r.urn, "stack"),
                item=f"PostgreSQL {instance_class}, {az}",
                quantity=ctx.assume.hours,
                unit="instance-hour",
                unit_usd=unit,
                monthly_usd=round(ctx.assume.hours * unit, 2),
                price=f"rds_instance_hour.{instance_class}",
            )
        )
    storage = _count(r.inputs.get("allocatedStorage"))
    if r.inputs.get("storageType", "gp3") != "gp3":
        ctx.unpriced.append(f"RDS storage type {r.inputs.get('storageType')}")
    else:
        items.append(
            ctx.item(
                r, f"gp3 storage {storage:g} GB, {az}", storage, "rds_gp3_gb_month", factor=copies
            )
        )
    items.append(
        ctx.item(
            r,
            f"backups beyond the free allowance ({ctx.assume.backup_gb:g} GB)",
            ctx.assume.backup_gb,
            "rds_backup_gb_month",
        )
    )
    return items


def _bucket(ctx: _Context, r: Recorded) -> list[LineItem]:
    name = r.outputs.get("bucket")
    access_logs = any(
        (lb.inputs.get("accessLogs") or {}).get("bucket") == name
        for lb in ctx.of_type("aws:lb/loadBalancer:LoadBalancer")
    )
    if not access_logs:
        return [ctx.item(r, "bucket (no usage assumed)", 0, "s3_standard_gb_month")]
    days = 0.0
    for lifecycle in ctx.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ):
        if lifecycle.inputs.get("bucket") == name:
            days = max(
                _count((rule.get("expiration") or {}).get("days"))
                for rule in lifecycle.inputs.get("rules") or [{}]
            )
    months = days / DAYS_PER_MONTH if days else 12
    gb = ctx.assume.access_log_gb * months
    return [
        ctx.item(
            r, f"access logs stored ({gb:g} GB, kept {days:g} days)", gb, "s3_standard_gb_month"
        )
    ]


def _hosted_zone(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [ctx.item(r, "Route 53 hosted zone", 1, "route53_hosted_zone_month")]


def _namespace(ctx: _Context, r: Recorded) -> list[LineItem]:
    return [
        ctx.item(
            r, "private DNS namespace (a Route 53 hosted zone)", 1, "route53_hosted_zone_month"
        )
    ]


ESTIMATORS = {
    "aws:ecs/service:Service": _service,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:kms/key:Key": _kms_key,
    "aws:ecr/repository:Repository": _repository,
    "aws:amp/workspace:Workspace": _amp_workspace,
    "aws:grafana/workspace:Workspace": _grafana,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _namespace,
    "aws:rds/instance:Instance": _database,
    "aws:route53/zone:Zone": _hosted_zone,
}


def merge(items: Sequence[LineItem]) -> list[LineItem]:
    """Identical lines of several resources (three NAT gateways, seven alarms) as one line."""
    merged: dict[tuple[str, str, str, float], LineItem] = {}
    for i in items:
        key = (i.component, i.item, i.price, i.unit_usd)
        if key in merged:
            m = merged[key]
            merged[key] = replace(m, quantity=m.quantity + i.quantity, count=m.count + i.count)
        else:
            merged[key] = i
    return [
        replace(i, quantity=round(i.quantity, 6), monthly_usd=round(i.quantity * i.unit_usd, 2))
        for i in merged.values()
    ]


def estimate(
    resources: Sequence[Recorded], region: str | None, assume: Assumptions | None = None
) -> Cost:
    """The monthly cost of ``resources``. ``region`` None (the local target): nothing in AWS."""
    assume = assume or Assumptions()
    cost = Cost(region)
    aws = [r for r in resources if r.type.startswith("aws:")]
    for r in resources:
        reason = free_reason(r.type)
        if reason is not None:
            cost.free.setdefault(r.type, reason)
    if not aws:
        return cost
    if region is None:
        raise ValueError("AWS resources need a region for their prices (aws:region)")
    prices = load_prices(region)
    cost.prices = prices
    ctx = _Context(resources, prices, assume, labels(resources))
    for r in aws:
        if r.type in ESTIMATORS:
            cost.items += ESTIMATORS[r.type](ctx, r)
        elif r.type not in FREE:
            ctx.unpriced.append(f"type {r.type} ({r.name})")
    cost.items = merge(cost.items)
    cost.unpriced = ctx.unpriced
    return cost
