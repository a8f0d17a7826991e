"""Rolling restart under load: requests, failures and latency while three clustered release
nodes behind HAProxy are replaced one by one the way ECS does it.

    .venv/bin/python -m bench.rolling_restart [--timings proposed|current|test] [--no-deregister]
                                              [--connections 4] [--pace-ms 10]
                                              [--slow-ms 500] [--slow-connections 4]

`--timings` picks the deregistration delay and health check (interval, timeout, thresholds):
`proposed` (default) are the AWS defaults docs/clustering.md recommends, at full length;
`current` the ones before issue #12; `test` the proposed ones at a tenth, as the test runs them.
`--no-deregister` is the control experiment: SIGTERM each node while the proxy still routes to
it, with only health checks to protect the clients. The proxy does not retry a failed request
on another node, like the ALB, unless `--proxy-retries` (what the local target's proxy does).
Besides the quick `GET /` load, `--slow-connections` connections send `GET /debug/sleep` requests
of `--slow-ms` each back to back, so requests are in flight when nodes are deregistered.

Goal: zero failed requests during the roll (the test asserts it; this prints the figures that
size the defaults). Not a timed test: latencies depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

from tests.app_release import build_release
from tests.rolling_support import (
    CURRENT_AWS,
    PROPOSED_AWS,
    TEST_TIMINGS,
    RollTimings,
    roll,
    rolling_rig,
    wrk_load,
)

TIMINGS: dict[str, RollTimings] = {
    "proposed": PROPOSED_AWS,
    "current": CURRENT_AWS,
    "test": TEST_TIMINGS,
}


def ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f} ms"


def drained(seconds: float | None, deregister: bool) -> str:
    if not deregister:
        return "- (not deregistered)"
    return "NOT within the delay" if seconds is None else f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description="Rolling restart under load (prints figures).")
    parser.add_argument("--timings", choices=sorted(TIMINGS), default="proposed")
    parser.add_argument("--no-deregister", action="store_true")
    parser.add_argument(
        "--proxy-retries",
        action="store_true",
        help="let HAProxy retry failed requests on another node (the local target's proxy); "
        "by default it does not, like the ALB",
    )
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pace-ms", type=int, default=10, help="pause between requests")
    parser.add_argument("--slow-ms", type=int, default=500, help="duration of a slow request")
    parser.add_argument("--slow-connections", type=int, default=4, help="0: no slow load")
    args = parser.parse_args()
    if args.connections < 1 or args.pace_ms < 0 or args.slow_connections < 0:
        parser.error("--connections must be >= 1, --pace-ms and --slow-connections >= 0")
    if not 1 <= args.slow_ms <= 60_000:
        parser.error("--slow-ms must be between 1 and 60000")
    timings = TIMINGS[args.timings]
    deregister = not args.no_deregister

    build_release()  # not part of the measurement
    print(
        f"timings {args.timings}: deregistration delay {timings.deregistration_delay_s:g} s, "
        f"health check every {timings.health_interval_s:g} s (timeout "
        f"{timings.health_timeout_s:g} s), healthy after {timings.healthy_threshold}, "
        f"unhealthy after {timings.unhealthy_threshold}, SHUTDOWN_DRAIN_MS "
        f"{timings.shutdown_drain_ms}; deploy bound per batch {timings.deploy_bound_s:g} s; "
        f"{'deregister first (as ECS)' if deregister else 'NO deregistration (control)'}, "
        f"proxy retries {'on' if args.proxy_retries else 'off (as the ALB)'}",
        flush=True,
    )
    # wrk stops by itself after this, whatever happens to the roll.
    max_load_s = int(3 * (timings.deploy_bound_s + timings.shutdown_drain_ms / 1000 + 30))
    with (
        rolling_rig(timings, proxy_retries=args.proxy_retries) as rig,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as loads,
    ):
        load = loads.enter_context(
            wrk_load(
                rig.proxy.url + "/",
                connections=args.connections,
                pace_ms=args.pace_ms,
                max_duration_s=max_load_s,
                tmp_dir=Path(tmp),
            )
        )
        slow_load = None
        if args.slow_connections:
            slow_load = loads.enter_context(
                wrk_load(
                    f"{rig.proxy.url}/debug/sleep?ms={args.slow_ms}",
                    connections=args.slow_connections,
                    pace_ms=0,
                    max_duration_s=max_load_s,
                    tmp_dir=Path(tmp),
                )
            )
        time.sleep(1 + args.slow_ms / 1000)
        started = time.monotonic()
        figures = roll(rig, deregister=deregister)
        roll_s = time.monotonic() - started
        time.sleep(1)
        results = [("quick GET /", load.stop())]
        if slow_load is not None:
            results.append((f"slow GET /debug/sleep?ms={args.slow_ms}", slow_load.stop()))
        backend = rig.proxy.backend_stats()

    for f in figures:
        print(
            f"{f.node}: in flight at deregistration {f.in_flight_at_deregistration}, "
            f"drained in {drained(f.drained_after_s, deregister)}, SIGTERM->exit {f.stop_s:.2f} s "
            f"(status {f.exit_status}), boot {f.boot_s:.2f} s, rejoined the mesh "
            f"{f.rejoined_s:.2f} s later, healthy in the proxy {f.healthy_s:.2f} s after "
            f"registration; {f.total_s:.1f} s in all"
        )
    print(
        f"roll of {len(figures)} nodes: {roll_s:.1f} s; proxy retries {backend['wretr']}, "
        f"redispatches {backend['wredis']}"
    )
    for label, result in results:
        print(
            f"{label}: {result.duration_us / 1e6:.1f} s, requests {result.requests}, failures "
            f"{result.failures} (connect {result.connect_errors}, read {result.read_errors}, "
            f"write {result.write_errors}, timeout {result.timeouts}, status>=400 "
            f"{result.error_statuses}); latency p50 {ms(result.p50_us)}, p90 "
            f"{ms(result.p90_us)}, p99 {ms(result.p99_us)}, max {ms(result.max_us)}"
        )
    failures = sum(result.failures for _label, result in results)
    print(f"zero failed requests: {'met' if failures == 0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
