"""The dashboards and alerts fit an app using PromEx: proved on a PromEx ``/metrics`` fixture.

``monitoring/prometheus/fixtures/prom_ex_shop.prom`` is written from PromEx's metric
definitions for a Phoenix + Ecto app whose ``otp_app`` is ``shop`` (not the sample's
``elixir_app``). It goes through the same checks as the sample's real ``/metrics``
(``test_prometheus_e2e.py``): ``promtool check metrics``, then a real Prometheus on loopback
scraping it, where every dashboard query must return data and every metric an alert reads must
have series.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.alert_rules import iter_alert_rules, load_rules
from components.observability import (
    EXTRA_METRIC_NAMES,
    app_metric_names,
    load_dashboard,
    prom_ex_name_pattern,
)
from tests.prom_ex_fixture import FIXTURE_OTP_APP, fixture_text, grown, serving_fixture
from tests.prometheus_support import (
    Prometheus,
    exported_metric_names,
    firing_alert_expressions,
    loopback_scrape_config,
    running_prometheus,
    wait_for_alert_selector_data,
    wait_for_dashboard_data,
    wait_for_target_up,
)
from tests.promql_support import check_metrics, findings_beyond_prom_ex_habits

JOB = "shop"
ALERT_RULES = list(iter_alert_rules(load_rules()))
NOT_FROM_PROM_EX = EXTRA_METRIC_NAMES | {"database_up", "database_connections"}
"""The sample's own metrics: a stock PromEx app has none of them (docs/monitoring.md)."""


# --- the fixture itself ------------------------------------------------------------------------


def test_promtool_parses_the_fixture_and_finds_only_prom_ex_naming_habits() -> None:
    findings = check_metrics(fixture_text())

    assert findings, "PromEx's gauges named *_count always draw promtool's lint"
    assert findings_beyond_prom_ex_habits(findings) == []


def test_promtool_check_metrics_refuses_a_broken_exposition() -> None:
    broken = fixture_text().replace('status="500"}', 'status="500"', 1)

    with pytest.raises(AssertionError, match="cannot parse"):
        check_metrics(broken)


def test_the_lint_filter_keeps_findings_that_are_not_prom_ex_habits() -> None:
    findings = check_metrics("# TYPE shop_orders counter\nshop_orders 1\n")

    assert findings_beyond_prom_ex_habits(findings) == findings != []


def test_the_fixture_exports_every_prom_ex_metric_the_dashboards_and_alerts_read() -> None:
    families = {family.name: family for family in text_string_to_metric_families(fixture_text())}
    samples = {sample.name for family in families.values() for sample in family.samples}
    prefix = f"{FIXTURE_OTP_APP}_prom_ex_"

    assert app_metric_names(FIXTURE_OTP_APP) <= samples
    assert not samples & NOT_FROM_PROM_EX
    assert families[f"{prefix}phoenix_http_requests"].type == "counter"
    assert families[f"{prefix}phoenix_http_request_duration_milliseconds"].type == "histogram"
    assert families[f"{prefix}beam_stats_uptime_milliseconds_count"].type == "gauge"


def test_the_fixture_carries_prom_ex_http_labels_and_buckets() -> None:
    (family,) = [
        family
        for family in text_string_to_metric_families(fixture_text())
        if family.name == "shop_prom_ex_phoenix_http_request_duration_milliseconds"
    ]
    buckets = [sample for sample in family.samples if sample.name.endswith("_bucket")]
    assert {tuple(sorted(sample.labels)) for sample in buckets} == {
        ("action", "controller", "host", "le", "method", "path", "status")
    }
    bounds = sorted({float(sample.labels["le"]) for sample in buckets})
    assert bounds == [10, 100, 500, 1000, 5000, 10000, 30000, float("inf")]


def test_the_fixture_is_laid_out_as_telemetry_metrics_prometheus_core_writes_it() -> None:
    """PromEx's default storage: HELP then TYPE per family, labels sorted with ``le`` appended
    last, no blank line, no timestamps, a final newline (its ``Exporter`` module)."""
    text = fixture_text()
    assert text.endswith("\n") and "\n\n" not in text
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert lines[index - 1].startswith(f"# HELP {name} "), line
        elif not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            float(value)  # the last field is the value
            assert re.fullmatch(r"[a-z_]+(\{.*\})?", series), f"a timestamp? {line}"
            labels = re.findall(r'([a-z_]+)="(?:[^"\\]|\\.)*"', series)
            names = [label for label in labels if label != "le"]
            assert names == sorted(names), line
            assert "le" not in labels or labels[-1] == "le", line


def test_grown_scales_counters_and_histograms_and_leaves_gauges() -> None:
    def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    once, thrice = values(fixture_text()), values(grown(fixture_text(), 3))
    assert once.keys() == thrice.keys()
    kinds = {family.name: family.type for family in text_string_to_metric_families(fixture_text())}
    for (name, labels), value in once.items():
        family = next(f for f in kinds if name == f or name.startswith(f + "_"))
        expected = value * 3 if kinds[family] in ("counter", "histogram") else value
        assert thrice[(name, labels)] == pytest.approx(expected), (name, labels)
    assert thrice[("shop_prom_ex_beam_stats_process_count", ())] == 611


# --- a real Prometheus scraping it -------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    workdir: Path = tmp_path_factory.mktemp("prometheus-prom-ex")
    with (
        serving_fixture(fixture_text()) as port,
        running_prometheus(loopback_scrape_config(JOB, port), workdir) as server,
    ):
        wait_for_target_up(server, JOB)
        yield server


def test_prometheus_stores_the_prom_ex_names_unchanged(prometheus: Prometheus) -> None:
    exported = exported_metric_names(prometheus, JOB)

    assert app_metric_names(FIXTURE_OTP_APP) <= exported
    assert all(name.startswith("shop_prom_ex_") for name in exported), exported


def test_every_dashboard_query_returns_data_for_a_prom_ex_app(prometheus: Prometheus) -> None:
    wait_for_dashboard_data(prometheus, load_dashboard(), job=JOB, make_traffic=lambda: None)


def test_every_prom_ex_metric_an_alert_reads_has_series(prometheus: Prometheus) -> None:
    wait_for_alert_selector_data(prometheus, ALERT_RULES, job=JOB, exempt=NOT_FROM_PROM_EX)


def test_the_dashboard_job_variable_finds_the_prom_ex_job(prometheus: Prometheus) -> None:
    selector = f'{{__name__=~"{prom_ex_name_pattern("beam_stats_uptime_milliseconds_count")}"}}'
    jobs = prometheus.api("label/job/values", {"match[]": selector})

    assert jobs == [JOB]


def test_a_healthy_prom_ex_app_raises_no_alert(prometheus: Prometheus) -> None:
    """Every alert evaluated on live data: the fixture is a healthy app, nothing may fire.

    Its 5XX (2 of ~860 user requests) and slow requests (2 over 1 s) are under the thresholds.
    """
    wait_for_dashboard_data(prometheus, load_dashboard(), job=JOB, make_traffic=lambda: None)

    assert firing_alert_expressions(prometheus, ALERT_RULES) == {}


def test_only_the_alerts_on_sample_extras_miss_series_on_a_prom_ex_app(
    prometheus: Prometheus,
) -> None:
    """Without the extras, cluster and database alerts are quiet (documented), not broken."""
    missing = {
        rule["alert"]
        for rule in ALERT_RULES
        for name in NOT_FROM_PROM_EX
        if name in rule["expr"] and not prometheus.query(f'{name}{{job="{JOB}"}}')
    }
    assert missing == {"ElixirAppClusterPartitioned", "ElixirAppDatabaseDown"}
