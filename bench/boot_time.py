"""Boot time of the real release: process start -> first `/health` 200, over N runs.

    .venv/bin/python -m bench.boot_time [--runs 5]

Goal on our machines: median <= 3 s (the ECS health-check grace period is sized from it).
Not a timed test: timings depend on the machine; this prints them for the issue notes.
"""

from __future__ import annotations

import argparse
import statistics

from tests.app_release import build_release, running_release

GOAL_SECONDS = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description="Boot time of the real release.")
    parser.add_argument("--runs", type=int, default=5, help="number of boots (default 5)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    build_release()  # not part of the measurement
    timings = []
    for run in range(1, args.runs + 1):
        with running_release() as release:
            timings.append(release.boot_seconds)
        print(f"run {run}: {release.boot_seconds:.3f} s", flush=True)

    median = statistics.median(timings)
    print(
        f"boot -> /health 200 over {len(timings)} runs: "
        f"min {min(timings):.3f} s, median {median:.3f} s, max {max(timings):.3f} s "
        f"(goal <= {GOAL_SECONDS:.0f} s: {'met' if median <= GOAL_SECONDS else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
