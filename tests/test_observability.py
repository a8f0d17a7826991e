"""The shared monitoring pieces: scrape job, prometheus.yml, ADOT config, Grafana provisioning,
dashboard. Real ``promtool`` checks the Prometheus config and every dashboard query."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.observability import (
    DASHBOARD_PATH,
    EXTRA_METRIC_NAMES,
    PROM_EX_METRICS,
    PROMETHEUS_METRIC_NAMES,
    ScrapeTarget,
    adot_collector_config,
    app_metric_names,
    grafana_dashboard_provider,
    grafana_datasource_provisioning,
    iter_panels,
    iter_target_exprs,
    load_dashboard,
    prom_ex_name_pattern,
    prometheus_config,
    render_yaml,
    scrape_config,
)
from tests.promql_support import (
    PROM_EX_PATTERNS,
    dashboard_metric_names,
    dashboard_name_patterns,
    interpolate,
    metric_contract_violations,
    promql_metric_names,
    promql_name_patterns,
    run_promtool,
)

AMP_URL = (
    "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd/api/v1/remote_write"
)
APP = ScrapeTarget(
    job_name="elixir-app",
    targets=("app:4000",),
    scrape_interval_seconds=30,
    scrape_timeout_seconds=5,
    labels={"env": "test"},
)

PLAIN_NAMES = EXTRA_METRIC_NAMES | PROMETHEUS_METRIC_NAMES
"""Metrics dashboards may name literally; PromEx's are selected by regex (PROM_EX_PATTERNS)."""


# --- ScrapeTarget ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics_path": "metrics"}, "metrics_path must start with '/'"),
        ({"scrape_interval_seconds": 5, "scrape_timeout_seconds": 10}, "must not exceed"),
        ({"scrape_interval_seconds": 0, "scrape_timeout_seconds": 0}, "must be positive"),
        ({"job_name": ""}, "job_name"),
        ({"job_name": "bad\njob"}, "job_name"),
        ({"job_name": " padded"}, "whitespace"),
        ({"targets": ()}, "at least one host:port"),
        ({"targets": ("http://app:4000",)}, "not host:port"),
        ({"targets": ("app:4000/metrics",)}, "not host:port"),
        ({"targets": ("app",)}, "not host:port"),
        ({"targets": ("app:70000",)}, "not host:port"),
        ({"labels": {"bad-name": "x"}}, "not a valid Prometheus label name"),
        ({"labels": {"__reserved": "x"}}, "not a valid Prometheus label name"),
        ({"labels": {"job": "x"}}, "must not set 'job'"),
    ],
)
def test_scrape_target_rejects_invalid_input(kwargs: dict, message: str) -> None:
    args: dict = {"job_name": "elixir-app", "targets": ("app:4000",), **kwargs}
    with pytest.raises(ValueError, match=message):
        ScrapeTarget(**args)


def test_scrape_target_accepts_ipv6_and_unicode_job() -> None:
    target = ScrapeTarget(job_name="élixir app", targets=["[::1]:4000"])  # type: ignore[arg-type]
    assert target.targets == ("[::1]:4000",)


def test_scrape_target_is_immutable_and_copies_its_labels() -> None:
    labels = {"env": "test"}
    target = ScrapeTarget(job_name="a", targets=("a:1",), labels=labels)
    labels["env"] = "changed"
    assert target.labels["env"] == "test"
    with pytest.raises(TypeError):
        target.labels["env"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        target.job_name = "b"  # type: ignore[misc]
    assert hash(target) == hash(ScrapeTarget(job_name="a", targets=("a:1",), labels=labels))


def test_scrape_config_has_every_setting_of_the_target() -> None:
    assert scrape_config(APP) == {
        "job_name": "elixir-app",
        "scrape_interval": "30s",
        "scrape_timeout": "5s",
        "metrics_path": "/metrics",
        "static_configs": [{"targets": ["app:4000"], "labels": {"env": "test"}}],
    }
    # A fresh document each call: callers mutating one cannot change the next.
    first = scrape_config(APP)
    first["static_configs"][0]["targets"].append("evil:1")
    assert scrape_config(APP)["static_configs"][0]["targets"] == ["app:4000"]


# --- prometheus.yml ----------------------------------------------------------------------------


def test_rendered_prometheus_yml_passes_promtool(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: []\n")
    document = prometheus_config(
        [APP, ScrapeTarget(job_name="other", targets=("other:9100", "other2:9100"))],
        evaluation_interval_seconds=30,
        rule_files=[str(rules)],
        remote_write=[{"url": "http://receiver:9009/api/v1/push"}],
    )
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(render_yaml(document))

    result = run_promtool("check", "config", config_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The promtool check above can fail: a bad duration is reported."""
    document = prometheus_config([APP])
    document["scrape_configs"][0]["scrape_interval"] = "thirty seconds"
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(render_yaml(document))

    assert run_promtool("check", "config", config_file).returncode != 0


def test_prometheus_config_contains_the_app_job_and_self_scrape() -> None:
    document = prometheus_config([APP])
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    assert jobs["elixir-app"] == scrape_config(APP)
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["localhost:9090"]}]
    assert document["global"]["evaluation_interval"] == "15s"
    assert "remote_write" not in document and "rule_files" not in document

    without_self = prometheus_config([APP], self_scrape_target=None)
    assert [job["job_name"] for job in without_self["scrape_configs"]] == ["elixir-app"]


def test_prometheus_config_rejects_duplicate_jobs() -> None:
    with pytest.raises(ValueError, match="unique"):
        prometheus_config([APP, APP])
    with pytest.raises(ValueError, match="unique"):
        prometheus_config([ScrapeTarget(job_name="prometheus", targets=("a:1",))])


def test_render_yaml_is_stable_and_keeps_key_order() -> None:
    document = prometheus_config([APP])
    text = render_yaml(document)
    assert text == render_yaml(prometheus_config([APP]))
    assert yaml.safe_load(text) == document
    assert text.index("global:") < text.index("scrape_configs:")
    assert text.index("job_name") < text.index("static_configs")


# --- ADOT collector ----------------------------------------------------------------------------


def test_adot_scrape_job_is_the_same_as_the_local_one() -> None:
    collector = adot_collector_config(APP, remote_write_url=AMP_URL, region="eu-west-1")
    local = prometheus_config([APP])

    (adot_job,) = collector["receivers"]["prometheus"]["config"]["scrape_configs"]
    local_job = next(job for job in local["scrape_configs"] if job["job_name"] == "elixir-app")
    assert adot_job == local_job


def test_adot_config_remote_writes_to_amp_with_sigv4() -> None:
    collector = adot_collector_config(APP, remote_write_url=AMP_URL, region="eu-west-1")

    assert collector["extensions"]["sigv4auth"] == {"region": "eu-west-1", "service": "aps"}
    exporter = collector["exporters"]["prometheusremotewrite"]
    assert exporter["endpoint"] == AMP_URL
    assert exporter["auth"] == {"authenticator": "sigv4auth"}
    assert "sigv4auth" in collector["service"]["extensions"]
    pipeline = collector["service"]["pipelines"]["metrics"]
    assert pipeline["receivers"] == ["prometheus"]
    assert pipeline["exporters"] == ["prometheusremotewrite"]
    # Everything a pipeline names is defined, as the collector checks at start-up.
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(collector[kind])
    assert set(collector["service"]["extensions"]) == set(collector["extensions"])
    # And it renders to YAML the collector can read back unchanged.
    assert yaml.safe_load(render_yaml(collector)) == collector


def test_adot_embedded_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    collector = adot_collector_config(APP, remote_write_url=AMP_URL, region="eu-west-1")
    embedded = collector["receivers"]["prometheus"]["config"]
    # The collector turns $$ back into $ before the receiver parses this as prometheus.yml.
    config_file = tmp_path / "embedded.yml"
    config_file.write_text(render_yaml(embedded).replace("$$", "$"))

    result = run_promtool("check", "config", config_file)

    assert result.returncode == 0, result.stdout + result.stderr


def test_adot_config_escapes_dollars_in_the_embedded_prometheus_config() -> None:
    target = ScrapeTarget(job_name="app$1", targets=("app:4000",), labels={"team": "$ops"})
    collector = adot_collector_config(
        target, remote_write_url="${env:AMP_REMOTE_WRITE_URL}", region="${env:AWS_REGION}"
    )

    (job,) = collector["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert job["job_name"] == "app$$1"
    assert job["static_configs"][0]["labels"] == {"team": "$$ops"}
    # Collector env references outside the embedded Prometheus config are left to expand.
    assert collector["extensions"]["sigv4auth"]["region"] == "${env:AWS_REGION}"
    assert collector["exporters"]["prometheusremotewrite"]["endpoint"] == (
        "${env:AMP_REMOTE_WRITE_URL}"
    )


def test_adot_config_rejects_plain_http_and_missing_region() -> None:
    with pytest.raises(ValueError, match="https"):
        adot_collector_config(APP, remote_write_url="http://x/api/v1/remote_write", region="r")
    with pytest.raises(ValueError, match="region"):
        adot_collector_config(APP, remote_write_url=AMP_URL, region="")


# --- Grafana provisioning ----------------------------------------------------------------------


def test_datasource_provisioning_points_at_the_given_prometheus() -> None:
    document = grafana_datasource_provisioning("http://prometheus:9090")

    assert document["apiVersion"] == 1
    (datasource,) = document["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["type"] == "prometheus"
    assert datasource["access"] == "proxy"
    assert datasource["isDefault"] is True
    assert datasource["uid"] == "prometheus"
    assert "jsonData" not in datasource


def test_datasource_provisioning_can_sign_requests_to_amp() -> None:
    document = grafana_datasource_provisioning(
        "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1",
        uid="amp",
        name="AMP",
        sigv4_region="eu-west-1",
    )
    (datasource,) = document["datasources"]
    assert (datasource["uid"], datasource["name"]) == ("amp", "AMP")
    assert datasource["jsonData"]["sigV4Auth"] is True
    assert datasource["jsonData"]["sigV4Region"] == "eu-west-1"
    with pytest.raises(ValueError, match="http"):
        grafana_datasource_provisioning("prometheus:9090")


def test_dashboard_provider_loads_the_dashboard_folder() -> None:
    document = grafana_dashboard_provider("/var/lib/grafana/dashboards")
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    with pytest.raises(ValueError, match="absolute"):
        grafana_dashboard_provider("dashboards")


# --- dashboard ---------------------------------------------------------------------------------


def test_dashboard_file_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))
    assert dashboard == load_dashboard()
    assert dashboard["uid"] == "elixir-app"
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_dashboard_panel_ids_are_unique_and_positions_do_not_overlap() -> None:
    panels = list(iter_panels(load_dashboard()))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} is wider than the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]


def test_every_dashboard_target_has_a_prometheus_datasource() -> None:
    dashboard = load_dashboard()
    for panel in iter_panels(dashboard):
        if panel.get("type") == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no queries"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"panel {panel['title']!r}: {ref_ids}"
        for target in panel["targets"]:
            datasource = target.get("datasource") or panel.get("datasource")
            assert datasource, f"panel {panel['title']!r} {target['refId']} has no datasource"
            assert datasource["type"] == "prometheus"
            assert datasource["uid"] in ("${datasource}", "prometheus")


def test_dashboard_covers_the_required_views() -> None:
    exprs = [expr for _panel, expr in iter_target_exprs(load_dashboard())]
    joined = "\n".join(exprs)
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in joined
    assert 'status=~"5.."' in joined
    assert "sum by (path, status)" in joined
    patterns = dashboard_name_patterns(load_dashboard())
    for required in (
        "phoenix_http_requests_total",
        "phoenix_http_request_duration_milliseconds_bucket",
        "beam_memory_allocated_bytes",
        "beam_stats_process_count",
        "beam_stats_run_queue_count",
        "beam_stats_uptime_milliseconds_count",
    ):
        assert prom_ex_name_pattern(required) in patterns, required


def test_dashboard_only_uses_prom_ex_metrics_and_up() -> None:
    for panel, expr in iter_target_exprs(load_dashboard()):
        assert not metric_contract_violations(expr, PLAIN_NAMES), (panel["title"], expr)
    assert dashboard_metric_names(load_dashboard()) == {"up"}, "PromEx names are never literal"


def test_the_dashboard_job_variable_lists_jobs_exporting_prom_ex_metrics() -> None:
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    query = variables["job"]["query"]["query"]
    assert query == variables["job"]["definition"]
    assert query == (
        f'label_values({{__name__=~"{prom_ex_name_pattern("beam_stats_uptime_milliseconds_count")}"}}'
        ", job)"
    )


def test_a_typo_in_a_dashboard_metric_is_caught() -> None:
    dashboard = copy.deepcopy(load_dashboard())
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            target["expr"] = target["expr"].replace("beam_stats_run_queue_count", "beam_runqueue")

    typos = {
        violation
        for _panel, expr in iter_target_exprs(dashboard)
        for violation in metric_contract_violations(expr, PLAIN_NAMES)
    }
    assert typos == {".+_prom_ex_beam_runqueue"}


def test_prom_ex_name_patterns_select_any_otp_app_and_nothing_else() -> None:
    pattern = prom_ex_name_pattern("phoenix_http_requests_total")
    assert pattern == ".+_prom_ex_phoenix_http_requests_total"
    assert {prom_ex_name_pattern(m) for m in PROM_EX_METRICS} == PROM_EX_PATTERNS
    assert "shop_prom_ex_phoenix_http_requests_total" in app_metric_names("shop")
    assert app_metric_names("elixir_app") == {f"elixir_app_prom_ex_{m}" for m in PROM_EX_METRICS}
    with pytest.raises(ValueError, match="PromEx metrics"):
        prom_ex_name_pattern("http_requests_total")
    with pytest.raises(ValueError, match="otp_app"):
        app_metric_names("Shop-App")


def test_dashboard_queries_parse_with_prometheus_own_parser(tmp_path: Path) -> None:
    """Each query, with Grafana variables interpolated, as a recording rule for promtool."""
    rules = [
        {"record": f"dashboard:panel_{panel['id']}_{index}", "expr": interpolate(expr)}
        for index, (panel, expr) in enumerate(iter_target_exprs(load_dashboard()))
    ]
    assert rules
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(render_yaml({"groups": [{"name": "dashboard", "rules": rules}]}))

    result = run_promtool("check", "rules", rules_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_promtool_rule_check_rejects_bad_promql(tmp_path: Path) -> None:
    rules_file = tmp_path / "bad.yml"
    rules_file.write_text(
        render_yaml(
            {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum(rate(x[1m])"}]}]}
        )
    )
    assert run_promtool("check", "rules", rules_file).returncode != 0


def test_interpolate_refuses_unknown_grafana_variables() -> None:
    assert interpolate('rate(x{job=~"$job"}[$__rate_interval])') == 'rate(x{job=~".*"}[1m])'
    assert interpolate("rate(x[${__rate_interval}])") == "rate(x[1m])"
    with pytest.raises(KeyError, match="instance"):
        interpolate('x{instance="$instance"}')


# --- the PromQL tokenizer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('up{job="a"} == 1', {"up"}),
        (
            'sum by (path, status) (rate(http_requests_total{job=~"$job"}[$__rate_interval]))',
            {"http_requests_total"},
        ),
        ("sum(rate(x_total[5m])) by (le)", {"x_total"}),
        ("SUM BY (le) (x)", {"x"}),
        (
            "histogram_quantile(0.95, sum without (instance) (rate(h_bucket[1m])))",
            {"h_bucket"},
        ),
        ("a / on (instance) group_left(kind, job) b", {"a", "b"}),
        ("a and ignoring(x) b or c unless d", {"a", "b", "c", "d"}),
        ('count_values("value", build_info)', {"build_info"}),
        ("topk(5, foo) > bool 1e3", {"foo"}),
        ("rate(x[5m] offset 1h30m)", {"x"}),
        ("x @ start()", {"x"}),
        ("max_over_time(deriv(x[5m])[1h:1m])", {"x"}),
        ('{__name__="beam_uptime_seconds", job="a"}', {"beam_uptime_seconds"}),
        ('{__name__=~".+_prom_ex_beam_stats_process_count"}', set()),
        ('{__name__=~"beam_.*"}', set()),
        ('label_replace(up, "dst", "$1", "src", "(by|on)")', {"up"}),
        ("vector(0) + Inf - NaN", set()),
        ("ns:recorded:rate5m", {"ns:recorded:rate5m"}),
        ("x # a comment mentioning not_a_metric", {"x"}),
        ("abs (x)", {"x"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_dashboard_metric_names_reads_panels_nested_in_rows() -> None:
    dashboard = {
        "panels": [
            {"id": 1, "type": "timeseries", "targets": [{"refId": "A", "expr": "a"}]},
            {
                "id": 2,
                "type": "row",
                "panels": [{"id": 3, "targets": [{"refId": "A", "expr": "rate(b[1m])"}]}],
            },
        ]
    }
    assert dashboard_metric_names(dashboard) == {"a", "b"}


@pytest.mark.parametrize(
    ("expr", "patterns"),
    [
        ('rate({__name__=~".+_x_total", job=~"$job"}[1m])', {".+_x_total"}),
        ('{job="a", __name__ =~ "a.*"} / {__name__=~\'b\'}', {"a.*", "b"}),
        ('{__name__!~"not_this"} or {__name__="nor_this"}', set()),
        ('x{path=~"__name__"}', set()),
        ("up", set()),
    ],
)
def test_promql_name_patterns(expr: str, patterns: set[str]) -> None:
    assert promql_name_patterns(expr) == patterns
