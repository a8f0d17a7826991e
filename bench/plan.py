"""How long `make plan` takes per committed stack: the offline program run, and the plan itself.

    .venv/bin/python -m bench.plan [--runs 3]

Goal: a plan well under a pull request's patience (a few seconds a stack; the preview job runs
two per stack with BASE). Not a timed test: this prints the figures for the issue notes.
"""

from __future__ import annotations

import argparse
import statistics
import time

from plan.report import from_run
from plan.runner import run_program, stack_config, stacks


def main() -> int:
    parser = argparse.ArgumentParser(description="Time of the offline plan per stack.")
    parser.add_argument("--runs", type=int, default=3, help="runs per stack (default 3)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for stack in stacks():
        config = stack_config(stack)
        program, planning = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            run = run_program(stack, config)
            middle = time.perf_counter()
            plan = from_run(stack, run.resources, config)
            program.append(middle - start)
            planning.append(time.perf_counter() - middle)
        print(
            f"{stack:8} {plan.resource_count:4} resources: program run median "
            f"{statistics.median(program):.2f} s (min {min(program):.2f}), inventory + diagram "
            f"+ cost median {statistics.median(planning) * 1000:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
