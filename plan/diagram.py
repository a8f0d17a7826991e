"""A Mermaid flowchart of a stack's components and how they connect.

One node per component instance the run registered (so the diagram names every component),
the outside world (the internet, alarm subscribers, chat) as round nodes, and labelled edges
for the paths a reader cares about: traffic (internet -> load balancer -> service -> database),
images and secrets into the task, metrics, and alarms -> topic -> subscribers. A component the
edge table does not know still gets edges: the dependencies the engine recorded between its
resources and other components' (dotted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from plan.inventory import Component, components, is_component, owner, short_type
from plan.mocks import Recorded

# (from, to, label, solid): between component types (short names) or outside nodes.
INTERNET = "Internet"
SUBSCRIBERS = "Subscribers"
CHAT = "Chat"
BROWSER = "Browser"
OUTSIDE = {
    INTERNET: "((Internet))",
    BROWSER: "((Your browser))",
    SUBSCRIBERS: "([Alarm subscribers])",
    CHAT: "((Chat))",
}

AWS_EDGES: tuple[tuple[str, str, str], ...] = (
    (INTERNET, "LoadBalancer", "HTTP / HTTPS"),
    ("LoadBalancer", "Service", "app port"),
    ("Service", "FargateTask", "runs"),
    ("Service", "Cluster", "runs in"),
    ("Service", "Database", "PostgreSQL 5432"),
    ("Network", "Service", "VPC, subnets"),
    ("ServiceDiscovery", "Service", "DNS_CLUSTER_QUERY"),
    ("ContainerImage", "ContainerRegistry", "push"),
    ("ContainerRegistry", "FargateTask", "image by digest"),
    ("AppSecrets", "RuntimeSecrets", "generated values"),
    ("RuntimeSecrets", "FargateTask", "secrets"),
    ("Database", "FargateTask", "DATABASE_URL secret"),
    ("FargateTask", "ManagedPrometheus", "metrics remote write"),
    ("LoadBalancer", "AccessLogBucket", "access logs"),
    ("DeploymentAlarms", "Service", "roll back a bad deploy"),
    ("DeploymentAlarms", "AlarmTopic", "alarms"),
    ("Monitoring", "AlarmTopic", "alarms"),
    ("Database", "AlarmTopic", "alarms"),
    ("ManagedPrometheus", "AlarmTopic", "alerts"),
    ("DeployEvents", "AlarmTopic", "deployment outcomes"),
    ("AlarmTopic", SUBSCRIBERS, "notifications"),
    ("AlarmTopic", "ChatForwarder", "messages"),
    ("ChatForwarder", CHAT, "webhook"),
)
LOCAL_EDGES: tuple[tuple[str, str, str], ...] = (
    (BROWSER, "ContainerService", "127.0.0.1:localAppPort"),
    ("ContainerService", "Database", "PostgreSQL"),
    ("ContainerImage", "ContainerRegistry", "push"),
    ("ContainerRegistry", "ContainerService", "image by digest"),
    ("AppSecrets", "ContainerService", "secrets"),
    ("Network", "ContainerService", "docker network"),
    ("Monitoring", "ContainerService", "scrape /metrics"),
)

SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

WHAT: dict[str, str] = {
    "elixir-devops:aws:Network": "VPC, subnets, NAT",
    "elixir-devops:aws:ContainerRegistry": "ECR repository",
    "elixir-devops:aws:LoadBalancer": "Application Load Balancer",
    "elixir-devops:aws:AccessLogBucket": "S3 access logs",
    "elixir-devops:aws:Cluster": "ECS cluster",
    "elixir-devops:aws:FargateTask": "task definition, roles, logs",
    "elixir-devops:aws:Service": "ECS service on Fargate",
    "elixir-devops:aws:RuntimeSecrets": "Secrets Manager",
    "elixir-devops:aws:ServiceDiscovery": "Cloud Map",
    "elixir-devops:aws:Database": "RDS PostgreSQL",
    "elixir-devops:aws:AlarmTopic": "SNS topic",
    "elixir-devops:aws:DeploymentAlarms": "CloudWatch alarms",
    "elixir-devops:aws:Monitoring": "CloudWatch alarms, dashboard",
    "elixir-devops:aws:ManagedPrometheus": "Amazon Managed Prometheus",
    "elixir-devops:aws:DeployEvents": "EventBridge rule",
    "elixir-devops:aws:ChatForwarder": "Lambda function",
    "elixir-devops:index:ContainerImage": "docker build",
    "elixir-devops:index:AppSecrets": "generated secrets",
    "elixir-devops:local:Network": "docker network",
    "elixir-devops:local:ContainerRegistry": "registry container",
    "elixir-devops:local:ContainerService": "app container(s)",
    "elixir-devops:local:Database": "postgres container",
    "elixir-devops:local:Monitoring": "Prometheus, Alertmanager, Grafana",
}
"""What each component is, on the node (a component not listed shows only its name)."""


def node_id(label: str) -> str:
    """Prefixed, so no component name can collide with a Mermaid keyword (end, graph...)."""
    prefix = "x_" if label in OUTSIDE else "c_"
    return prefix + re.sub(r"[^A-Za-z0-9]", "_", label)


def _node_text(component: Component, count: int) -> str:
    what = WHAT.get(component.type)
    resources = f"{count} resource{'s' if count != 1 else ''}"
    return "<br/>".join([component.label, *([what] if what else []), resources])


def _outside_text(node: str, resources: Sequence[Recorded]) -> str:
    if node != SUBSCRIBERS:
        return OUTSIDE[node]
    # A lambda subscription is the chat forwarder, drawn as its own component.
    protocols = sorted(
        {str(r.inputs.get("protocol")) for r in resources if r.type == SUBSCRIPTION} - {"lambda"}
    )
    return f'(["Alarm subscribers<br/>{", ".join(protocols) or "none configured"}"])'


def diagram(resources: Sequence[Recorded], target: str) -> str:
    """The Mermaid source (``flowchart LR``) for one run."""
    found = components(resources)
    by_urn = {r.urn: r for r in resources}
    counts: dict[str, int] = dict.fromkeys(found, 0)
    for r in resources:
        if not is_component(r) and r.type != "pulumi:pulumi:Stack":
            urn = owner(r, by_urn)
            if urn:
                counts[urn] += 1
    by_type: dict[str, list[Component]] = {}
    for c in found.values():
        by_type.setdefault(short_type(c.type), []).append(c)
    edges_table = AWS_EDGES if target == "aws" else LOCAL_EDGES

    lines = ["flowchart LR"]
    shown_outside = _endpoints(edges_table, by_type)
    lines += [f"  {node_id(n)}{_outside_text(n, resources)}" for n in sorted(shown_outside)]
    for c in sorted(found.values(), key=lambda c: c.label):
        shape = ('[("', '")]') if short_type(c.type) == "Database" else ('["', '"]')
        lines.append(f"  {node_id(c.label)}{shape[0]}{_node_text(c, counts[c.urn])}{shape[1]}")

    edges: list[str] = []
    connected: set[str] = set()

    def ends(name: str) -> list[str]:
        if name in OUTSIDE:
            return [node_id(name)] if name in shown_outside else []
        return [node_id(c.label) for c in by_type.get(name, [])]

    for source, target_name, label in edges_table:
        for a in ends(source):
            for b in ends(target_name):
                edges.append(f"  {a} -->|{label}| {b}")
                connected |= {a, b}
    # Components the table does not know: their recorded dependencies on other components.
    for urn, c in found.items():
        if node_id(c.label) in connected:
            continue
        for other in sorted(_depends_on(urn, resources, by_urn, found)):
            edges.append(f"  {node_id(c.label)} -.->|depends on| {node_id(found[other].label)}")
    lines += sorted(set(edges), key=edges.index)
    return "\n".join(lines) + "\n"


def _endpoints(
    edges_table: Sequence[tuple[str, str, str]], by_type: dict[str, list[Component]]
) -> set[str]:
    """Outside nodes whose component end of an edge exists in this stack."""
    result: set[str] = set()
    for source, target, _ in edges_table:
        if source in OUTSIDE and target in by_type:
            result.add(source)
        if target in OUTSIDE and source in by_type:
            result.add(target)
    return result


def _depends_on(
    urn: str,
    resources: Sequence[Recorded],
    by_urn: dict[str, Recorded],
    found: dict[str, Component],
) -> set[str]:
    result: set[str] = set()
    for r in resources:
        if owner(r, by_urn) != urn and r.urn != urn:
            continue
        for dependency in r.dependencies:
            if dependency in found:
                target = dependency
            elif dependency in by_urn:
                target = owner(by_urn[dependency], by_urn)
            else:
                continue
            if target and target != urn:
                result.add(target)
    return result
