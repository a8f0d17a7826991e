"""A stack's plan (inventory, diagram, cost) and how it reads: text, Markdown or JSON."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from plan.cost import Assumptions, Cost, estimate
from plan.diagram import diagram
from plan.inventory import Group, components, inventory
from plan.mocks import Recorded
from plan.runner import PROJECT_DIR, run_program, stack_config

LOCAL_NOTE = "local target: everything runs on your own Docker engine, nothing is billed"


class PlanError(Exception):
    """The program refused the stack (a ConfigError) or has no prices for its region."""


@dataclass
class Plan:
    stack: str
    target: str
    region: str | None
    resources: list[Recorded]
    groups: list[Group]
    cost: Cost
    diagram: str
    assumptions: Assumptions

    @property
    def resource_count(self) -> int:
        return sum(g.total for g in self.groups)

    @property
    def component_count(self) -> int:
        return len(components(self.resources))

    def to_json(self, diagram_path: str | None = None) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "target": self.target,
            "region": self.region,
            "assumptions": asdict(self.assumptions),
            "inventory": {
                "resources": self.resource_count,
                "components": [
                    {"component": g.component, "resources": g.total, "types": g.counts}
                    for g in self.groups
                ],
            },
            "cost": self.cost.to_json(),
            "diagram": {"path": diagram_path, "mermaid": self.diagram},
        }


def region_of(config: Mapping[str, Any]) -> str | None:
    """The stack's AWS region, as the provider reads it: ``aws:region``, else the environment."""
    return (
        config.get("aws:region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )


def from_run(
    stack: str,
    resources: Sequence[Recorded],
    config: Mapping[str, Any],
    assumptions: Assumptions | None = None,
) -> Plan:
    """The plan of a run that already happened (the tests reuse their runs)."""
    assumptions = assumptions or Assumptions()
    target = "aws" if any(r.type.startswith("aws:") for r in resources) else "local"
    region = region_of(config) if target == "aws" else None
    if target == "aws" and region is None:
        raise PlanError(f"stack {stack} sets no aws:region (nor AWS_REGION): no prices to use")
    cost = estimate(resources, region, assumptions)
    return Plan(
        stack=stack,
        target=target,
        region=region,
        resources=list(resources),
        groups=inventory(resources),
        cost=cost,
        diagram=diagram(resources, target),
        assumptions=assumptions,
    )


def plan_stack(
    stack: str,
    assumptions: Assumptions | None = None,
    project_dir: Path = PROJECT_DIR,
) -> Plan:
    """Runs the program of ``stack`` (in ``project_dir``) offline and plans it."""
    config = stack_config(stack, project_dir=project_dir)
    run = run_program(stack, config, project_dir=project_dir)
    if run.error is not None:
        raise PlanError(f"the program refused stack {stack}:\n{run.error}")
    return from_run(stack, run.resources, config, assumptions)


# -- rendering --------------------------------------------------------------------------------


def usd(value: float) -> str:
    return f"{value:,.2f}"


def assumption_flags(assumptions: Assumptions) -> str:
    return " ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in asdict(assumptions).items())


def _table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def render_text(plan: Plan, diagram_path: str | None = None) -> str:
    where = f"target {plan.target}" + (f", region {plan.region}" if plan.region else "")
    lines = [
        f"Plan of stack {plan.stack} ({where}): the program ran offline under mocks; "
        "nothing was created.",
        "",
        f"Resources: {plan.resource_count} in {plan.component_count} components",
    ]
    for g in plan.groups:
        lines.append(f"  {g.component} ({g.total})")
        lines += [f"    {n:>3}  {token}" for token, n in g.counts.items()]
    lines.append("")
    if diagram_path:
        lines.append(f"Diagram (Mermaid): {diagram_path}")
        lines.append("")
    lines += render_cost_text(plan)
    return "\n".join(lines) + "\n"


def render_cost_text(plan: Plan) -> list[str]:
    cost = plan.cost
    if cost.prices is None:
        return [f"Estimated monthly cost: USD 0.00 ({LOCAL_NOTE})"]
    lines = [
        f"Estimated monthly cost, USD, {cost.prices.region} prices of {cost.prices.date} "
        f"({cost.prices.path}; the source of each price is there)",
    ]
    rows = [("Component", "Item", "Quantity", "Unit price", "USD/month")]
    rows += [
        (
            i.component,
            i.item + (f" (x{i.count})" if i.count > 1 else ""),
            f"{i.quantity:,.6g}",
            f"{i.unit_usd:.6g} / {i.unit.split(' (')[0]}",
            usd(i.monthly_usd),
        )
        for i in cost.items
    ]
    rows.append(("Total", "", "", "", usd(cost.monthly_usd)))
    lines += ["  " + line for line in _table(rows, right=(2, 4))]
    lines.append("")
    lines.append(
        f"Assumptions (flags of make plan / python -m plan): {assumption_flags(plan.assumptions)}"
    )
    lines.append(
        f"Free: {len(cost.free)} resource types cost nothing by themselves "
        "(--format json says why for each). Free tiers, taxes and data transfer out are not "
        "counted."
    )
    if cost.unpriced:
        lines.append("NOT PRICED (the total leaves these out): " + "; ".join(cost.unpriced))
    return lines


def render_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment section."""
    lines = [
        f"#### Offline plan of `{plan.stack}`: {plan.resource_count} resources, "
        f"USD {usd(plan.cost.monthly_usd)} a month",
        "",
    ]
    if plan.cost.prices is None:
        lines.append(LOCAL_NOTE)
    else:
        lines += ["| Component | Item | USD/month |", "|---|---|---:|"]
        lines += [
            f"| {i.component} | {i.item}{f' (x{i.count})' if i.count > 1 else ''} | "
            f"{usd(i.monthly_usd)} |"
            for i in plan.cost.items
        ]
    return "\n".join(lines) + "\n"
