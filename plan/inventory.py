"""What a run registered, grouped by the component (unit) each resource belongs to.

A resource belongs to its nearest ancestor that is one of this program's components
(``elixir-devops:*`` types); components themselves are listed, not counted as resources.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plan.mocks import Recorded

COMPONENT_PREFIX = "elixir-devops:"
STACK_TYPE = "pulumi:pulumi:Stack"
STACK_COMPONENT = "stack"
"""Where a resource registered directly on the stack (no component) is listed."""


def is_component(resource: Recorded) -> bool:
    return resource.type.startswith(COMPONENT_PREFIX)


def short_type(token: str) -> str:
    """``elixir-devops:aws:LoadBalancer`` -> ``LoadBalancer``."""
    return token.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Component:
    """One component instance of the stack."""

    urn: str
    type: str
    name: str
    label: str
    """Its type's short name, with its name when the stack has several of that type."""
    parent: str
    """URN of the component it belongs to ("" at the top)."""


def components(resources: Sequence[Recorded]) -> dict[str, Component]:
    """Every component of the run by URN, in registration order."""
    found = [r for r in resources if is_component(r)]
    per_type = Counter(short_type(r.type) for r in found)
    by_urn = {r.urn: r for r in resources}
    result: dict[str, Component] = {}
    for r in found:
        label = short_type(r.type)
        if per_type[label] > 1:
            label = f"{label} {r.name}"
        parent = r.parent
        while parent and parent in by_urn and not is_component(by_urn[parent]):
            parent = by_urn[parent].parent
        parent = parent if parent in by_urn and is_component(by_urn[parent]) else ""
        result[r.urn] = Component(r.urn, r.type, r.name, label, parent)
    return result


def owner(resource: Recorded, by_urn: dict[str, Recorded]) -> str:
    """URN of the component a resource belongs to ("" - the stack itself)."""
    parent = resource.parent
    while parent in by_urn:
        if is_component(by_urn[parent]):
            return parent
        parent = by_urn[parent].parent
    return ""


@dataclass(frozen=True)
class Group:
    component: str
    """The component's label (``stack`` for resources outside any component)."""
    counts: dict[str, int]
    """Resource type token -> how many."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def resources_only(resources: Iterable[Recorded]) -> list[Recorded]:
    """What the stack creates: neither components nor the stack resource itself."""
    return [r for r in resources if not is_component(r) and r.type != STACK_TYPE]


def inventory(resources: Sequence[Recorded]) -> list[Group]:
    """Counts per type, per component, in the order components were registered."""
    by_urn = {r.urn: r for r in resources}
    found = components(resources)
    counts: dict[str, Counter[str]] = {urn: Counter() for urn in found}
    counts[""] = Counter()
    for r in resources_only(resources):
        counts[owner(r, by_urn)][r.type] += 1
    groups = [
        Group(found[urn].label if urn else STACK_COMPONENT, dict(sorted(c.items())))
        for urn, c in counts.items()
        if c
    ]
    return groups


def labels(resources: Sequence[Recorded]) -> dict[str, str]:
    """URN of every resource -> the label of the component it belongs to."""
    by_urn = {r.urn: r for r in resources}
    found = components(resources)
    return {
        r.urn: found[urn].label if (urn := owner(r, by_urn)) else STACK_COMPONENT for r in resources
    }
