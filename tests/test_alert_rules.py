"""The app's alerting rules (monitoring/prometheus/rules/elixir-app.yml), checked with the real
``promtool`` (``check rules``, ``test rules`` on the fixtures in monitoring/prometheus/tests/)
and loaded into a real Prometheus on loopback."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alert_rules import (
    REPO_ROOT,
    RULE_TESTS_DIR,
    RULES_DIR,
    RULES_PATH,
    SEVERITIES,
    alert_names,
    iter_alert_rules,
    load_rules,
    rule_group_yaml,
)
from components.observability import (
    EXTRA_METRIC_NAMES,
    PROMETHEUS_METRIC_NAMES,
    prometheus_config,
    render_yaml,
)
from tests.prometheus_support import poll, running_prometheus
from tests.promql_support import (
    metric_contract_violations,
    promql_metric_names,
    promql_name_patterns,
    run_promtool,
)
from tests.sample import RELEASE_NAME, sample_only

EXPECTED_ALERTS = (
    "ElixirAppDown",
    "ElixirAppInstanceDown",
    "ElixirAppHigh5xxRatio",
    "ElixirAppHighP99Latency",
    "ElixirAppMemoryGrowing",
    "ElixirAppRunQueueHigh",
    "ElixirAppProcessCountNearLimit",
    "ElixirAppClusterPartitioned",
    "ElixirAppDatabaseDown",
)

OPTIONAL_DATABASE_METRICS = frozenset({"database_up", "database_connections"})
"""The sample's, exported only when DATABASE_URL is set (docs/app.md); no PromEx plugin has them."""

FIXTURES = sorted(RULE_TESTS_DIR.glob("*.yml"))
ALERT_RULES = list(iter_alert_rules(load_rules()))

_JOB_MATCHER = re.compile(r"\bjob\s*(?:=~|!~|!=|=)")


def _load_fixture(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _cases() -> list[tuple[Path, str, dict[str, Any], dict[str, Any]]]:
    """``(fixture, test name, test, alert_rule_test)`` for every alert check of every fixture."""
    return [
        (path, test["name"], test, check)
        for path in FIXTURES
        for test in _load_fixture(path)["tests"]
        for check in test.get("alert_rule_test", [])
    ]


FIRING_CASES = [case for case in _cases() if case[3]["exp_alerts"]]


# --- the accessor the infrastructure uses ------------------------------------------------------


def test_the_rule_file_defines_the_alerts_of_issue_14() -> None:
    assert alert_names() == EXPECTED_ALERTS


def test_rule_group_yaml_is_the_committed_file_for_amp_and_local() -> None:
    assert RULES_PATH.parent == RULES_DIR and RULES_PATH.is_file()
    text = rule_group_yaml()
    assert text == RULES_PATH.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == load_rules()


def test_load_rules_refuses_a_file_without_groups(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("rules: []\n")
    with pytest.raises(ValueError, match="groups"):
        load_rules(bad)


# --- promtool ----------------------------------------------------------------------------------


def test_promtool_check_rules_accepts_the_file_without_warnings() -> None:
    result = run_promtool("check", "rules", RULES_PATH)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout
    assert result.stderr == "", result.stderr
    assert "warning" not in result.stdout.lower(), result.stdout


def test_promtool_unit_tests_pass_on_every_fixture() -> None:
    assert FIXTURES, f"no promtool fixtures in {RULE_TESTS_DIR}"
    result = run_promtool("test", "rules", *FIXTURES)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(FIXTURES), result.stdout


def test_every_fixture_loads_the_committed_rule_file() -> None:
    for path in FIXTURES:
        rule_files = [(path.parent / name).resolve() for name in _load_fixture(path)["rule_files"]]
        assert rule_files == [RULES_PATH], path


def test_every_alert_has_a_firing_and_a_quiet_fixture_case() -> None:
    firing = {check["alertname"] for _, _, _, check in FIRING_CASES}
    quiet = {check["alertname"] for _, _, _, check in _cases() if not check["exp_alerts"]}

    assert set(EXPECTED_ALERTS) - firing == set(), "alerts never shown firing"
    assert set(EXPECTED_ALERTS) - quiet == set(), "alerts never shown staying quiet"


@pytest.mark.parametrize(
    ("fixture", "name", "test", "check"),
    FIRING_CASES,
    ids=[f"{case[0].stem}:{case[3]['alertname']}@{case[3]['eval_time']}" for case in FIRING_CASES],
)
def test_a_firing_case_fails_promtool_when_expected_quiet(
    tmp_path: Path, fixture: Path, name: str, test: dict[str, Any], check: dict[str, Any]
) -> None:
    """The fixtures can fail: each firing case, rewritten to expect no alert, is refused."""
    mutated_test = copy.deepcopy(test)
    mutated_test["alert_rule_test"] = [{**check, "exp_alerts": []}]
    document = {**_load_fixture(fixture), "rule_files": [str(RULES_PATH)], "tests": [mutated_test]}
    mutated = tmp_path / fixture.name
    mutated.write_text(yaml.safe_dump(document, sort_keys=False))

    result = run_promtool("test", "rules", mutated)

    assert result.returncode != 0, f"{name}: {check['alertname']} did not fire\n{result.stdout}"
    output = result.stdout + result.stderr
    assert "FAILED:" in output and f"alertname: {check['alertname']}," in output, output


# --- what every alert carries ------------------------------------------------------------------


@pytest.mark.parametrize("rule", ALERT_RULES, ids=[rule["alert"] for rule in ALERT_RULES])
def test_every_alert_waits_has_a_severity_a_summary_and_a_runbook(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"[1-9][0-9]*[smh]", str(rule.get("for", ""))), rule.get("for")
    assert rule["labels"]["severity"] in SEVERITIES
    summary = rule["annotations"]["summary"]
    runbook = rule["annotations"]["runbook"]
    assert summary.strip() and "\n" not in summary
    assert runbook.strip() and "\n" not in runbook, "the runbook is one line: what to do first"


@pytest.mark.parametrize("rule", ALERT_RULES, ids=[rule["alert"] for rule in ALERT_RULES])
def test_rules_use_only_prom_ex_metrics_and_the_documented_extras(rule: dict[str, Any]) -> None:
    allowed = EXTRA_METRIC_NAMES | PROMETHEUS_METRIC_NAMES | OPTIONAL_DATABASE_METRICS
    expr = rule["expr"]

    assert promql_metric_names(expr) | promql_name_patterns(expr), expr
    assert not metric_contract_violations(expr, allowed), expr


RULES_WITHOUT_PROM_EX = {"ElixirAppClusterPartitioned", "ElixirAppDatabaseDown"}
"""Alerts on the sample's extra metrics only: quiet for an app that does not export them."""


def test_only_the_cluster_and_database_alerts_need_metrics_prom_ex_lacks() -> None:
    needs_extras = {
        rule["alert"]
        for rule in ALERT_RULES
        if promql_metric_names(rule["expr"]) & (EXTRA_METRIC_NAMES | OPTIONAL_DATABASE_METRICS)
    }
    assert needs_extras == RULES_WITHOUT_PROM_EX


@sample_only()
def test_the_optional_database_metrics_are_documented_and_exported_by_the_sample() -> None:
    docs = (REPO_ROOT / "docs" / "app.md").read_text(encoding="utf-8")
    exporter = (REPO_ROOT / "app" / "lib" / RELEASE_NAME / "database.ex").read_text()
    for name in OPTIONAL_DATABASE_METRICS:
        assert f"| `{name}` |" in docs, name
        assert f'"{name}"' in exporter, name


@pytest.mark.parametrize("rule", ALERT_RULES, ids=[rule["alert"] for rule in ALERT_RULES])
def test_rules_never_select_a_job_value(rule: dict[str, Any]) -> None:
    """The job is the stack's appName: it may appear in ``by``/``on``, never in a matcher."""
    assert not _JOB_MATCHER.search(rule["expr"]), rule["expr"]


def test_the_job_matcher_check_can_fail() -> None:
    assert _JOB_MATCHER.search('up{job="elixir-app"} == 0')
    assert _JOB_MATCHER.search('rate(x{job =~ "e.*"}[5m])')
    assert not _JOB_MATCHER.search("sum by (job) (up) and on(job) group by (job) (x)")


def test_runbook_references_name_existing_files_and_headings() -> None:
    checked = 0
    for rule in ALERT_RULES:
        for target in re.findall(
            r"\b(docs/[\w.-]+\.md)(?:#([\w-]+))?", rule["annotations"]["runbook"]
        ):
            path, anchor = REPO_ROOT / target[0], target[1]
            assert path.is_file(), f"{rule['alert']}: {target[0]} does not exist"
            if anchor:
                headings = re.findall(r"^#+\s+(.+)$", path.read_text(), flags=re.MULTILINE)
                slugs = {
                    re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings
                }
                assert anchor in slugs, f"{rule['alert']}: no heading #{anchor} in {target[0]}"
            checked += 1
    assert checked, "no runbook names a doc: this check would pass vacuously"


# --- loading the rules -------------------------------------------------------------------------


def test_promtool_check_config_accepts_a_prometheus_yml_loading_the_rules(tmp_path: Path) -> None:
    document = prometheus_config([], rule_files=[str(RULES_PATH)])
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(render_yaml(document))

    result = run_promtool("check", "config", config_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout, result.stdout


def test_a_real_prometheus_loads_and_evaluates_every_rule(tmp_path: Path) -> None:
    """Nothing is scraped, so every rule evaluates cleanly and ElixirAppDown goes pending."""
    config = prometheus_config(
        [], rule_files=[str(RULES_PATH)], evaluation_interval_seconds=1, self_scrape_target=None
    )
    with running_prometheus(config, tmp_path) as prometheus:

        def all_rules_evaluated() -> list[dict[str, Any]] | None:
            rules = [
                rule
                for group in prometheus.api("rules", {"type": "alert"})["groups"]
                for rule in group["rules"]
            ]
            done = len(rules) == len(EXPECTED_ALERTS) and all(
                not rule["lastEvaluation"].startswith("0001-") for rule in rules
            )
            return rules if done else None

        rules = poll(
            all_rules_evaluated,
            timeout=30,
            what="every alerting rule to be evaluated",
            details=prometheus.log,
        )
        assert {rule["name"]: rule["health"] for rule in rules} == dict.fromkeys(
            EXPECTED_ALERTS, "ok"
        ), [rule.get("lastError") for rule in rules]

        def down_alert_pending() -> list[str] | None:
            alerts = prometheus.api("alerts")["alerts"]
            names = sorted(alert["labels"]["alertname"] for alert in alerts)
            return names if names else None

        assert poll(down_alert_pending, timeout=30, what="ElixirAppDown to be pending") == [
            "ElixirAppDown"
        ]
