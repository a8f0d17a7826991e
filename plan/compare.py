"""The plan of a stack at another commit (``BASE=<ref>``) against this checkout's.

The other commit is checked out into a temporary, detached worktree (removed afterwards; no
branch of the repository is touched), its program runs there under this checkout's mocks, and
the two plans are compared: resources added and removed (by URN; a resource whose aliases name
an old URN is the same resource, as for the engine) and the monthly cost difference.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plan.cost import Assumptions
from plan.inventory import labels, resources_only
from plan.mocks import Recorded
from plan.report import Plan, PlanError, plan_stack, usd
from plan.runner import PROJECT_DIR, StackNotFound


@dataclass
class Change:
    component: str
    type: str
    name: str


@dataclass
class Comparison:
    base_ref: str
    base_commit: str
    base: Plan | None
    """None: the stack did not exist at the base (or the program refused it: base_error)."""
    base_error: str | None
    head: Plan
    added: list[Change]
    removed: list[Change]

    @property
    def base_usd(self) -> float:
        return self.base.cost.monthly_usd if self.base else 0.0

    @property
    def delta_usd(self) -> float:
        return round(self.head.cost.monthly_usd - self.base_usd, 2)

    def component_deltas(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for item in self.head.cost.items:
            totals[item.component] += item.monthly_usd
        for item in self.base.cost.items if self.base else []:
            totals[item.component] -= item.monthly_usd
        return {k: round(v, 2) for k, v in sorted(totals.items()) if round(v, 2)}

    def to_json(self) -> dict[str, Any]:
        return {
            "base": {
                "ref": self.base_ref,
                "commit": self.base_commit,
                "error": self.base_error,
                "monthly_usd": self.base_usd,
                "resources": self.base.resource_count if self.base else 0,
            },
            "head": self.head.to_json(),
            "added": [c.__dict__ for c in self.added],
            "removed": [c.__dict__ for c in self.removed],
            "monthly_usd_delta": self.delta_usd,
            "component_deltas": self.component_deltas(),
        }


def _git(project_dir: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(project_dir), *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise PlanError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def changes(base: list[Recorded], head: list[Recorded]) -> tuple[list[Change], list[Change]]:
    """(added, removed) between two runs' resources."""
    base_urns = {r.urn for r in resources_only(base)}
    head_only = resources_only(head)
    matched = {r.urn for r in head_only} | {a for r in head_only for a in r.aliases}
    head_labels, base_labels = labels(head), labels(base)
    added = [
        Change(head_labels[r.urn], r.type, r.name)
        for r in head_only
        if r.urn not in base_urns and not base_urns & set(r.aliases)
    ]
    removed = [
        Change(base_labels[r.urn], r.type, r.name)
        for r in resources_only(base)
        if r.urn not in matched
    ]
    key = lambda c: (c.component, c.type, c.name)  # noqa: E731
    return sorted(added, key=key), sorted(removed, key=key)


def compare(
    stack: str,
    base_ref: str,
    assumptions: Assumptions | None = None,
    project_dir: Path = PROJECT_DIR,
) -> Comparison:
    commit = _git(project_dir, "rev-parse", "--verify", f"{base_ref}^{{commit}}")
    scratch = Path(tempfile.mkdtemp(prefix="plan-base-"))
    worktree = scratch / "base"
    base: Plan | None = None
    base_error: str | None = None
    _git(project_dir, "worktree", "add", "--detach", str(worktree), commit)
    try:
        try:
            base = plan_stack(stack, assumptions, worktree)
        except StackNotFound:
            base_error = f"stack {stack} does not exist at {base_ref}"
        except PlanError as exc:
            base_error = str(exc)
    finally:
        _git(project_dir, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(scratch, ignore_errors=True)
    head = plan_stack(stack, assumptions, project_dir)
    added, removed = changes(base.resources if base else [], head.resources)
    return Comparison(base_ref, commit, base, base_error, head, added, removed)


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}{usd(abs(value))}"


def render_text(c: Comparison) -> str:
    lines = [
        f"Stack {c.head.stack} compared with {c.base_ref} ({c.base_commit[:12]}):",
    ]
    if c.base_error:
        lines.append(f"  base: {c.base_error}")
    lines.append(f"  {len(c.added)} resource(s) added, {len(c.removed)} removed")
    lines += [f"  + {x.component}: {x.type} {x.name}" for x in c.added]
    lines += [f"  - {x.component}: {x.type} {x.name}" for x in c.removed]
    lines.append(
        f"  monthly cost: USD {usd(c.base_usd)} -> USD {usd(c.head.cost.monthly_usd)} "
        f"({_signed(c.delta_usd)})"
    )
    lines += [f"    {k}: {_signed(v)}" for k, v in c.component_deltas().items()]
    return "\n".join(lines) + "\n"


def render_markdown(c: Comparison) -> str:
    """The comparison as a pull-request comment section."""
    head = c.head
    lines = [
        f"#### Offline plan of `{head.stack}` against `{c.base_commit[:12]}`: "
        f"{len(c.added)} added, {len(c.removed)} removed, USD {usd(c.base_usd)} -> "
        f"USD {usd(head.cost.monthly_usd)} a month ({_signed(c.delta_usd)})",
        "",
    ]
    if c.base_error:
        lines += [f"Base: {c.base_error}", ""]
    if c.added or c.removed:
        lines += ["| | Component | Type | Name |", "|---|---|---|---|"]
        lines += [f"| + | {x.component} | `{x.type}` | {x.name} |" for x in c.added]
        lines += [f"| - | {x.component} | `{x.type}` | {x.name} |" for x in c.removed]
        lines.append("")
    deltas = c.component_deltas()
    if deltas:
        lines += ["| Component | USD/month |", "|---|---:|"]
        lines += [f"| {k} | {_signed(v)} |" for k, v in deltas.items()]
        lines.append("")
    lines.append(
        "Estimated from "
        + (head.cost.prices.path if head.cost.prices else "no prices (local)")
        + "; assumptions and sources: docs/plan.md."
    )
    return "\n".join(lines) + "\n"
