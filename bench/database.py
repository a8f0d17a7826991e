"""The release with a real PostgreSQL: migration time, /visits throughput, outage recovery.

    .venv/bin/python -m bench.database [--requests 2000] [--clients 8] [--pool-size 10]
                                       [--outage 10]

Prints, against a throwaway server (tests/postgres_support.py, SCRAM, on loopback):

- `bin/migrate` on an empty database and again with nothing pending (the cost a deploy pays);
- boot -> first `/ready` 200 (the pool connected);
- POST /visits: `--requests` increments from `--clients` keep-alive clients, requests per
  second and latency percentiles, and that the final count is exact;
- recovery: after an `--outage` long enough for the reconnect backoff to reach its cap,
  database accepting connections again -> first `/ready` 200 (goal: the 5 s cap + 1 s).

Bounded: a fixed number of requests, every request and wait with a timeout. Not a timed test:
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import threading
import time

from components.database_url import database_url
from tests.app_release import build_release, http_get, running_release
from tests.postgres_support import PostgresServer, migrate, running_postgres

RECOVERY_GOAL_S = 6.0
WAIT_LIMIT_S = 30.0


def wait_for_ready(base_url: str, started: float) -> float:
    while time.monotonic() - started < WAIT_LIMIT_S:
        try:
            if http_get(base_url + "/ready", timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"/ready did not answer 200 within {WAIT_LIMIT_S} s")


def post_visits(port: int, count: int, latencies: list[float], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        mine = []
        for _ in range(count):
            started = time.perf_counter()
            conn.request("POST", "/visits", body=b"")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"POST /visits answered {response.status}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
    finally:
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench(
    server: PostgresServer, requests: int, clients: int, pool_size: int, outage: float
) -> None:
    name, password = "bench", secrets.token_urlsafe(16) + "@:/?#"
    server.create_role(name, password)
    server.create_database(name, name)
    url = database_url(
        username=name,
        password=password,
        host=server.host,
        port=server.port,
        database=name,
        ssl=False,
    )

    for label in ("empty database", "nothing pending"):
        started = time.monotonic()
        result = migrate(url)
        if result.returncode != 0:
            raise SystemExit(result.stdout + result.stderr)
        print(f"bin/migrate, {label}: {time.monotonic() - started:.2f} s", flush=True)

    env = {"DATABASE_URL": url, "POOL_SIZE": str(pool_size)}
    started = time.monotonic()
    with running_release(env=env) as release:
        print(f"boot -> /ready 200: {wait_for_ready(release.base_url, started):.2f} s")

        latencies: list[float] = []
        lock = threading.Lock()
        per_client = requests // clients
        threads = [
            threading.Thread(target=post_visits, args=(release.port, per_client, latencies, lock))
            for _ in range(clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.monotonic() - started
        total = per_client * clients
        final = json.loads(http_get(release.base_url + "/visits")[2])["visits"]
        print(
            f"POST /visits: {len(latencies)} of {total} in {elapsed:.2f} s "
            f"({len(latencies) / elapsed:.0f} req/s, {clients} clients, pool {pool_size}); "
            f"latency median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms; "
            f"final count {final} ({'exact' if final == total else 'WRONG'})"
        )

        # Long enough for the reconnect backoff to reach its 5 s cap: the worst case.
        server.stop()
        time.sleep(outage)
        server.start()  # returns once the server accepts connections
        started = time.monotonic()
        recovery = wait_for_ready(release.base_url, started)
        verdict = "met" if recovery <= RECOVERY_GOAL_S else "NOT met"
        print(
            f"database back after a {outage:.0f} s outage -> /ready 200: {recovery:.2f} s "
            f"(goal <= {RECOVERY_GOAL_S:.0f} s: {verdict})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="The release with a real PostgreSQL.")
    parser.add_argument("--requests", type=int, default=2000, help="POST /visits in total")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--pool-size", type=int, default=10, help="POOL_SIZE of the app")
    parser.add_argument("--outage", type=float, default=10, help="seconds the database is down")
    args = parser.parse_args()
    if not 1 <= args.clients <= args.requests <= 100_000:
        parser.error("need 1 <= --clients <= --requests <= 100000")
    if not 0 <= args.outage <= 120:
        parser.error("--outage is between 0 and 120 seconds")

    build_release()  # not part of the measurement
    with running_postgres() as server:
        bench(server, args.requests, args.clients, args.pool_size, args.outage)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
