"""``python -m plan <stack> [--base REF] [--format text|json|markdown] [assumptions]``.

``make plan STACK=<stack> [BASE=<ref>] [FORMAT=json]`` calls it. Without ``--base``: the
inventory, the diagram (written to ``docs/diagrams/<stack>.mmd`` unless ``--diagram`` says
otherwise) and the monthly cost. With ``--base``: what changes against that commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from plan import compare as comparison
from plan import report
from plan.cost import ASSUMPTION_HELP, Assumptions, NoPriceTable
from plan.report import PlanError
from plan.runner import PROJECT_DIR, StackNotFound


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m plan",
        description="Offline plan of a stack: what it creates, a diagram, and its monthly cost.",
    )
    p.add_argument("stack", help="a committed stack (Pulumi.<stack>.yaml)")
    p.add_argument("--base", metavar="REF", help="compare with the stack at this git commit")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--diagram",
        metavar="PATH",
        help="where to write the Mermaid diagram (default docs/diagrams/<stack>.mmd; "
        "'-' writes none)",
    )
    p.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="the checkout whose program is planned (default: this one)",
    )
    defaults = Assumptions()
    group = p.add_argument_group("assumptions (printed with the result)")
    for f in fields(Assumptions):
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=float,
            default=getattr(defaults, f.name),
            metavar="N",
            help=f"{ASSUMPTION_HELP[f.name]} (default {getattr(defaults, f.name):g})",
        )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    assumptions = Assumptions(**{f.name: getattr(args, f.name) for f in fields(Assumptions)})
    project_dir = args.project_dir.resolve()
    try:
        if args.base:
            result = comparison.compare(args.stack, args.base, assumptions, project_dir)
            output = {
                "text": comparison.render_text,
                "markdown": comparison.render_markdown,
                "json": lambda c: json.dumps(c.to_json(), indent=2) + "\n",
            }[args.format](result)
        else:
            plan = report.plan_stack(args.stack, assumptions, project_dir)
            path: str | None = args.diagram or f"docs/diagrams/{args.stack}.mmd"
            if path == "-":
                path = None
            else:
                target = project_dir / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(plan.diagram)
            output = {
                "text": lambda p: report.render_text(p, path),
                "markdown": report.render_markdown,
                "json": lambda p: json.dumps(p.to_json(path), indent=2) + "\n",
            }[args.format](plan)
    except (PlanError, StackNotFound, NoPriceTable) as exc:
        print(f"plan: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
