"""End to end: a real Prometheus, configured by ``prometheus_config``, scrapes the real Elixir
release; the app's metric contract and every dashboard query are checked through Prometheus's
HTTP API. ``app_release`` (build and run the release) comes from the ``app-release`` branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.observability import (
    APP_METRIC_NAMES,
    load_dashboard,
)
from tests.app_release import RunningRelease, http_get, running_release
from tests.prometheus_support import (
    Prometheus,
    exported_metric_names,
    loopback_scrape_config,
    poll,
    running_prometheus,
    series_count,
    wait_for_dashboard_data,
    wait_for_target_up,
)
from tests.promql_support import dashboard_metric_names
from tests.sample import sample_only

pytestmark = sample_only()

JOB = "elixir-app"


@pytest.fixture(scope="module")
def release() -> Iterator[RunningRelease]:
    with running_release() as running:  # builds the release first (once per process)
        yield running


@pytest.fixture(scope="module")
def prometheus(
    release: RunningRelease, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    config = loopback_scrape_config(JOB, release.port)
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(config, workdir) as server:
        yield server


def make_traffic(release: RunningRelease) -> None:
    """A few requests, so the HTTP counters and latency histogram have series and increases."""
    for path in ("/", "/health", "/no-such-page"):
        http_get(f"{release.base_url}{path}")


def test_prometheus_scrapes_the_release(release: RunningRelease, prometheus: Prometheus) -> None:
    make_traffic(release)
    wait_for_target_up(prometheus, JOB)

    (up,) = prometheus.query(f'up{{job="{JOB}"}}')
    assert up["value"][1] == "1"
    assert up["metric"]["instance"] == f"127.0.0.1:{release.port}"

    def has_samples() -> bool | None:
        make_traffic(release)
        counts = {
            metric: series_count(prometheus, metric, JOB)
            for metric in ("beam_process_count", "http_requests_total")
        }
        return True if all(counts.values()) else None

    poll(has_samples, timeout=30, what="beam_process_count and http_requests_total samples")


def test_the_release_exports_exactly_the_contract(
    release: RunningRelease, prometheus: Prometheus
) -> None:
    make_traffic(release)
    wait_for_target_up(prometheus, JOB)

    missing: set[str] = set()

    def contract_complete() -> bool | None:
        make_traffic(release)
        missing.clear()
        missing.update(n for n in APP_METRIC_NAMES if series_count(prometheus, n, JOB) == 0)
        return True if not missing else None

    poll(
        contract_complete,
        timeout=30,
        what="a series of every contract metric",
        details=lambda: f"missing: {sorted(missing)}",
    )
    assert exported_metric_names(prometheus, JOB) == set(APP_METRIC_NAMES), "exactly the contract"
    kinds = {
        series["metric"]["kind"] for series in prometheus.query(f'beam_memory_bytes{{job="{JOB}"}}')
    }
    assert kinds == {"total", "processes", "binary", "ets", "atom", "code", "system"}


def test_every_dashboard_metric_and_query_has_data(
    release: RunningRelease, prometheus: Prometheus
) -> None:
    dashboard = load_dashboard()
    wait_for_target_up(prometheus, JOB)
    wait_for_dashboard_data(
        prometheus, dashboard, job=JOB, make_traffic=lambda: make_traffic(release)
    )

    for metric in dashboard_metric_names(dashboard):
        assert series_count(prometheus, metric, JOB) > 0, f"dashboard metric {metric} has no series"
