"""Test helpers: a real ``prometheus`` process on a loopback port, and its HTTP API."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from components.observability import (
    ScrapeTarget,
    iter_target_exprs,
    prometheus_config,
    render_yaml,
)
from tests.app_release import free_port, require_tool
from tests.promql_support import interpolate, metric_references

T = TypeVar("T")

STARTUP_TIMEOUT_SECONDS = 30.0


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
    details: Callable[[], str] = str,
) -> T:
    """Call ``check`` until it returns something other than ``None``; fail after ``timeout``.

    Network and API errors count as "not yet"; the last one and ``details()`` go into the failure.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result is not None:
                return result
        except (OSError, urllib.error.URLError, ValueError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            pytest.fail(
                f"timed out after {timeout:.0f}s waiting for {what} "
                f"(last error: {last_error})\n{details()}"
            )
        time.sleep(interval)


def loopback_scrape_config(job: str, port: int) -> dict[str, Any]:
    """``prometheus.yml`` scraping ``127.0.0.1:port`` every second as ``job``, and nothing else."""
    target = ScrapeTarget(
        job_name=job,
        targets=(f"127.0.0.1:{port}",),
        scrape_interval_seconds=1,
        scrape_timeout_seconds=1,
    )
    return prometheus_config([target], self_scrape_target=None)


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus reachable at :attr:`base_url`."""

    base_url: str
    log_file: Path

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """``data`` of a successful ``/api/v1/...`` response; raises on an API error."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.base_url}/api/v1/{path}{query}", timeout=5) as reply:
            body = json.load(reply)
        if body.get("status") != "success":
            raise ValueError(f"Prometheus API {path} {params}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant-query result vector of ``promql``; raises on a PromQL error."""
        data = self.api("query", {"query": promql})
        if data["resultType"] != "vector":
            raise ValueError(f"{promql!r} returned a {data['resultType']}, expected a vector")
        return data["result"]

    def log(self) -> str:
        """Prometheus's own log so far, for failure messages."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-4000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not exit in time; always reap the process."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def running_prometheus(config: Mapping[str, Any], workdir: Path) -> Iterator[Prometheus]:
    """Start ``prometheus`` with ``config`` on a free loopback port; stop it on exit, always."""
    binary = require_tool("prometheus", "install it with `apt-get install prometheus`")
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(render_yaml(config), encoding="utf-8")
    log_file = workdir / "prometheus.log"
    port = free_port()
    prometheus = Prometheus(base_url=f"http://127.0.0.1:{port}", log_file=log_file)

    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=info",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool | None:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited with {process.returncode}:\n{prometheus.log()}")
            with urllib.request.urlopen(f"{prometheus.base_url}/-/ready", timeout=2) as reply:
                return True if reply.status == 200 else None

        poll(ready, timeout=STARTUP_TIMEOUT_SECONDS, what="prometheus /-/ready")
        yield prometheus
    finally:
        _stop(process)


def wait_for_target_up(prometheus: Prometheus, job: str, *, timeout: float = 30.0) -> None:
    """Wait until ``job``'s targets are all ``health: up`` and ``up{job=...}`` is 1."""

    def targets_up() -> bool | None:
        active = [
            target
            for target in prometheus.api("targets", {"state": "active"})["activeTargets"]
            if target["labels"].get("job") == job
        ]
        if not active or any(target["health"] != "up" for target in active):
            return None
        values = [sample["value"][1] for sample in prometheus.query(f'up{{job="{job}"}}')]
        return True if values and all(value == "1" for value in values) else None

    poll(
        targets_up,
        timeout=timeout,
        what=f"scrape job {job!r} to be up",
        details=lambda: json.dumps(prometheus.api("targets"), indent=1)[-3000:],
    )


# Series Prometheus itself records for every target, next to what the target exports.
SCRAPE_META_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)


def exported_metric_names(prometheus: Prometheus, job: str) -> set[str]:
    """Names of the series ``job``'s targets export (Prometheus's own scrape series left out)."""
    series = prometheus.api("series", {"match[]": f'{{job="{job}"}}'})
    return {labels["__name__"] for labels in series} - SCRAPE_META_SERIES


def series_count(prometheus: Prometheus, metric: str, job: str) -> int:
    """Number of series of ``metric`` scraped by ``job``."""
    result = prometheus.query(f'count({{__name__="{metric}", job="{job}"}})')
    return int(result[0]["value"][1]) if result else 0


def wait_for_dashboard_data(
    prometheus: Prometheus,
    dashboard: Mapping[str, Any],
    *,
    job: str,
    make_traffic: Callable[[], None],
    timeout: float = 30.0,
) -> None:
    """Wait until every dashboard query evaluates without error and returns data for ``job``.

    ``make_traffic`` runs on each attempt so rates and latency quantiles have increases to show.
    """
    variables = {"job": job, "__rate_interval": "1m"}
    exprs = [
        (panel["title"], interpolate(expr, variables))
        for panel, expr in iter_target_exprs(dashboard)
    ]
    _wait_for_every_query_to_return_data(
        prometheus,
        exprs,
        make_traffic=make_traffic,
        timeout=timeout,
        what="every dashboard query to return data",
    )


def _wait_for_every_query_to_return_data(
    prometheus: Prometheus,
    queries: Sequence[tuple[str, str]],
    *,
    make_traffic: Callable[[], None],
    timeout: float,
    what: str,
) -> None:
    """Poll until each ``(label, promql)`` of ``queries`` returns a non-empty vector."""
    empty: list[str] = []

    def all_have_data() -> bool | None:
        make_traffic()
        empty.clear()
        for label, expr in queries:
            if not prometheus.query(expr):  # a PromQL error raises and fails the test
                empty.append(f"{label}: {expr}")
        return True if not empty else None

    poll(
        all_have_data,
        timeout=timeout,
        interval=1.0,
        what=what,
        details=lambda: "queries without data:\n" + "\n".join(empty) + "\n" + prometheus.log(),
    )


def wait_for_alert_selector_data(
    prometheus: Prometheus,
    rules: Sequence[Mapping[str, Any]],
    *,
    job: str,
    exempt: frozenset[str] = frozenset(),
    make_traffic: Callable[[], None] = lambda: None,
    timeout: float = 30.0,
) -> None:
    """Wait until every metric each alert expression reads has series scraped by ``job``.

    An alert expression returns nothing while it does not fire, so the proof that an alert
    watches real series is that each metric it reads (a name or a ``__name__`` regex) has
    some. ``exempt`` names metrics this app is known not to export.
    """
    selectors = {
        (rule["alert"], selector)
        for rule in rules
        for selector in metric_references(rule["expr"])
        if not any(f'"{name}"' in selector for name in exempt)
    }
    _wait_for_every_query_to_return_data(
        prometheus,
        [
            (alert, f'count({selector[:-1]}, job="{job}"}})')
            for alert, selector in sorted(selectors)
        ],
        make_traffic=make_traffic,
        timeout=timeout,
        what="every metric of every alert expression to have series",
    )


def firing_alert_expressions(
    prometheus: Prometheus, rules: Sequence[Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Alert expressions that currently return something (would fire after their ``for``)."""
    return {rule["alert"]: result for rule in rules if (result := prometheus.query(rule["expr"]))}
