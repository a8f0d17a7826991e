"""End to end: a real Prometheus, configured by ``prometheus_config``, scrapes the real Elixir
release; the app's metric contract and every dashboard query are checked through Prometheus's
HTTP API. ``app_release`` (build and run the release) comes from the ``app-release`` branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.alert_rules import iter_alert_rules, load_rules
from components.observability import (
    EXTRA_METRIC_NAMES,
    app_metric_names,
    load_dashboard,
)
from tests.app_release import RunningRelease, http_get, running_release
from tests.prometheus_support import (
    Prometheus,
    exported_metric_names,
    firing_alert_expressions,
    loopback_scrape_config,
    poll,
    running_prometheus,
    series_count,
    wait_for_alert_selector_data,
    wait_for_dashboard_data,
    wait_for_target_up,
)
from tests.promql_support import (
    check_metrics,
    dashboard_metric_names,
    dashboard_name_patterns,
    findings_beyond_prom_ex_habits,
)
from tests.sample import RELEASE_NAME, sample_only

pytestmark = sample_only()

JOB = "elixir-app"
SAMPLE_OTP_APP = RELEASE_NAME
"""The sample's OTP application (app/mix.exs): its PromEx-style prefix is elixir_app_prom_ex."""
APP_METRIC_NAMES = app_metric_names(SAMPLE_OTP_APP) | EXTRA_METRIC_NAMES
"""What the sample exports without a database: PromEx's names the dashboards use, plus extras."""
DATABASE_METRICS = frozenset({"database_up", "database_connections"})
"""Exported only with DATABASE_URL (test_app_database.py); this release runs without one."""
ALERT_RULES = list(iter_alert_rules(load_rules()))


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
            for metric in (
                f"{SAMPLE_OTP_APP}_prom_ex_beam_stats_process_count",
                f"{SAMPLE_OTP_APP}_prom_ex_phoenix_http_requests_total",
            )
        }
        return True if all(counts.values()) else None

    poll(has_samples, timeout=30, what="process count and HTTP request samples")


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
    run_queues = prometheus.query(
        f'{SAMPLE_OTP_APP}_prom_ex_beam_stats_run_queue_count{{job="{JOB}"}}'
    )
    assert {series["metric"]["type"] for series in run_queues} == {"normal", "dirty"}


def test_promtool_parses_the_releases_metrics_and_finds_only_prom_ex_naming_habits(
    release: RunningRelease,
) -> None:
    make_traffic(release)
    status, _, body = http_get(f"{release.base_url}/metrics")
    assert status == 200

    assert findings_beyond_prom_ex_habits(check_metrics(body.decode())) == []


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
    for pattern in dashboard_name_patterns(dashboard):
        matched = prometheus.query(f'count({{__name__=~"{pattern}", job="{JOB}"}})')
        assert matched, f"no series of the release matches dashboard pattern {pattern}"


def test_every_metric_an_alert_reads_has_series(
    release: RunningRelease, prometheus: Prometheus
) -> None:
    wait_for_target_up(prometheus, JOB)
    wait_for_alert_selector_data(
        prometheus,
        ALERT_RULES,
        job=JOB,
        exempt=DATABASE_METRICS,
        make_traffic=lambda: make_traffic(release),
    )


def test_the_healthy_release_raises_no_alert(
    release: RunningRelease, prometheus: Prometheus
) -> None:
    wait_for_target_up(prometheus, JOB)
    wait_for_dashboard_data(
        prometheus, load_dashboard(), job=JOB, make_traffic=lambda: make_traffic(release)
    )

    assert firing_alert_expressions(prometheus, ALERT_RULES) == {}
