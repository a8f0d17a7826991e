"""Monitoring configuration shared by the aws and local targets (pure functions, no resources).

Renders, from one :class:`ScrapeTarget`:

- the app's Prometheus scrape job (:func:`scrape_config`) — the single definition used both by the
  local Prometheus (:func:`prometheus_config`) and by the AWS Distro for OpenTelemetry collector
  sidecar that remote-writes to Amazon Managed Service for Prometheus
  (:func:`adot_collector_config`);
- Grafana provisioning documents (:func:`grafana_datasource_provisioning`,
  :func:`grafana_dashboard_provider`);
- access to the committed Grafana dashboard (:func:`load_dashboard`) and the metric names its
  queries use (``tests/promql_support.py``), checked against :data:`PROM_EX_METRICS` and
  :data:`EXTRA_METRIC_NAMES`.

Pulumi components call these and put the results in files, container definitions or SSM
parameters; nothing here talks to a cloud or a Docker engine.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS_DIR = REPO_ROOT / "monitoring" / "grafana" / "dashboards"
"""Folder of dashboard JSON files; mount it where :func:`grafana_dashboard_provider` points."""
DASHBOARD_PATH = DASHBOARDS_DIR / "elixir-app.json"

PROM_EX_METRICS: frozenset[str] = frozenset(
    {
        # PromEx.Plugins.Beam (polling and manual metrics)
        "beam_memory_allocated_bytes",
        "beam_memory_processes_total_bytes",
        "beam_memory_binary_total_bytes",
        "beam_memory_ets_total_bytes",
        "beam_memory_atom_total_bytes",
        "beam_memory_code_total_bytes",
        "beam_memory_persistent_term_total_bytes",
        "beam_stats_process_count",
        "beam_stats_port_count",
        "beam_stats_atom_count",
        "beam_stats_run_queue_count",
        "beam_stats_uptime_milliseconds_count",
        "beam_system_process_limit_info",
        # PromEx.Plugins.Phoenix (HTTP event metrics)
        "phoenix_http_requests_total",
        "phoenix_http_request_duration_milliseconds_bucket",
        "phoenix_http_request_duration_milliseconds_sum",
        "phoenix_http_request_duration_milliseconds_count",
    }
)
"""What dashboards and alerts query, as series names after PromEx's default prefix.

PromEx names a metric ``<otp_app>_prom_ex_<plugin>_...`` (``PromEx.metric_prefix/2``), so an
app whose ``use PromEx, otp_app: :shop`` exports ``shop_prom_ex_phoenix_http_requests_total``.
Queries select them with :func:`prom_ex_name_pattern`, whatever the ``otp_app``; the sample
(``app/``) exports them with its own prefix, ``elixir_app_prom_ex``."""

EXTRA_METRIC_NAMES: frozenset[str] = frozenset({"beam_connected_nodes"})
"""Metrics no PromEx plugin exports; the sample does, an app adds them itself (docs/monitoring.md).
Without them, the panels and alerts that use them stay empty or quiet, nothing else breaks."""

PROM_EX_PREFIX_SUFFIX = "_prom_ex_"
"""What PromEx puts between the ``otp_app`` and the plugin name."""


def prom_ex_name_pattern(metric: str) -> str:
    """The ``__name__`` regex selecting PromEx metric ``metric`` of any ``otp_app``.

    Prometheus anchors the regex, so ``.+_prom_ex_phoenix_http_requests_total`` matches
    ``shop_prom_ex_phoenix_http_requests_total`` and nothing longer or shorter.
    """
    if metric not in PROM_EX_METRICS:
        raise ValueError(f"{metric!r} is not one of the PromEx metrics dashboards use")
    return f".+{PROM_EX_PREFIX_SUFFIX}{metric}"


def app_metric_names(otp_app: str) -> frozenset[str]:
    """Series names an app with this ``otp_app`` exports for the dashboards and alerts."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", otp_app):
        raise ValueError(f"otp_app must be an OTP application name like my_app, got {otp_app!r}")
    return frozenset(f"{otp_app}{PROM_EX_PREFIX_SUFFIX}{metric}" for metric in PROM_EX_METRICS)


PROMETHEUS_METRIC_NAMES: frozenset[str] = frozenset({"up"})
"""Series Prometheus itself adds for every scrape target."""

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


def _empty_labels() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ScrapeTarget:
    """One Prometheus scrape job: what to scrape, where and how often."""

    job_name: str
    """Value of the ``job`` label on every scraped series; dashboards filter on it."""
    targets: tuple[str, ...]
    """``host:port`` addresses to scrape (no scheme, no path)."""
    metrics_path: str = "/metrics"
    """HTTP path of the metrics endpoint; must start with ``/``."""
    scrape_interval_seconds: int = 15
    """How often to scrape."""
    scrape_timeout_seconds: int = 10
    """Per-scrape timeout; Prometheus refuses a timeout longer than the interval."""
    labels: Mapping[str, str] = field(default_factory=_empty_labels, hash=False)
    """Extra labels added to every series of the job (e.g. ``{"env": "prod"}``)."""

    def __post_init__(self) -> None:
        # Callers may pass a list or a dict; store immutable copies so the frozen
        # dataclass really is immutable and later mutation of the argument cannot leak in.
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

        if not self.job_name or not self.job_name.isprintable():
            raise ValueError(
                f"ScrapeTarget.job_name must be a non-empty, printable Prometheus label value, "
                f"got {self.job_name!r}"
            )
        if self.job_name != self.job_name.strip():
            raise ValueError(
                f"ScrapeTarget.job_name must not start or end with whitespace, "
                f"got {self.job_name!r}"
            )
        if not self.targets:
            raise ValueError(
                f"ScrapeTarget.targets of job {self.job_name!r} must list at least one host:port"
            )
        for target in self.targets:
            match = _HOST_PORT.match(target) if isinstance(target, str) else None
            if match is None or not 1 <= int(match["port"]) <= 65535:
                raise ValueError(
                    f"ScrapeTarget.targets of job {self.job_name!r}: {target!r} is not host:port "
                    f"(no scheme, no path, port 1-65535)"
                )
        if not self.metrics_path.startswith("/"):
            raise ValueError(
                f"ScrapeTarget.metrics_path must start with '/', got {self.metrics_path!r}"
            )
        if self.scrape_interval_seconds <= 0 or self.scrape_timeout_seconds <= 0:
            raise ValueError(
                f"ScrapeTarget scrape interval and timeout must be positive, got "
                f"interval={self.scrape_interval_seconds}s timeout={self.scrape_timeout_seconds}s"
            )
        if self.scrape_timeout_seconds > self.scrape_interval_seconds:
            raise ValueError(
                f"ScrapeTarget.scrape_timeout_seconds ({self.scrape_timeout_seconds}) must not "
                f"exceed scrape_interval_seconds ({self.scrape_interval_seconds})"
            )
        for name in self.labels:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(
                    f"ScrapeTarget.labels key {name!r} is not a valid Prometheus label name "
                    f"([A-Za-z_][A-Za-z0-9_]*, not starting with '__')"
                )
            if name in ("job", "instance"):
                raise ValueError(
                    f"ScrapeTarget.labels must not set {name!r}: Prometheus sets it per target"
                )


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def scrape_config(target: ScrapeTarget) -> dict[str, Any]:
    """The Prometheus ``scrape_configs`` entry for ``target``.

    The one definition of the app's scrape job: the local Prometheus and the ADOT collector both
    embed exactly this, so the two targets cannot drift apart. Returns a fresh dict each call.
    """
    static_config: dict[str, Any] = {"targets": list(target.targets)}
    if target.labels:
        static_config["labels"] = dict(target.labels)
    return {
        "job_name": target.job_name,
        "scrape_interval": _duration(target.scrape_interval_seconds),
        "scrape_timeout": _duration(target.scrape_timeout_seconds),
        "metrics_path": target.metrics_path,
        "static_configs": [static_config],
    }


def prometheus_config(
    targets: Sequence[ScrapeTarget],
    *,
    evaluation_interval_seconds: int = 15,
    rule_files: Sequence[str] = (),
    remote_write: Sequence[Mapping[str, Any]] = (),
    self_scrape_target: str | None = "localhost:9090",
    alertmanagers: Sequence[str] = (),
) -> dict[str, Any]:
    """A complete ``prometheus.yml`` document for the local target.

    ``self_scrape_target`` adds a ``prometheus`` job scraping Prometheus itself (``None`` to
    leave it out). Job names must be unique, as Prometheus requires.
    """
    if evaluation_interval_seconds <= 0:
        raise ValueError(
            f"evaluation_interval_seconds must be positive, got {evaluation_interval_seconds}"
        )
    jobs = list(targets)
    if self_scrape_target is not None:
        jobs.append(ScrapeTarget(job_name="prometheus", targets=(self_scrape_target,)))
    names = [job.job_name for job in jobs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Prometheus scrape job names must be unique, repeated: {duplicates}")

    document: dict[str, Any] = {
        "global": {
            "scrape_interval": _duration(15),
            "evaluation_interval": _duration(evaluation_interval_seconds),
        },
    }
    if rule_files:
        document["rule_files"] = list(rule_files)
    if alertmanagers:
        document["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    document["scrape_configs"] = [scrape_config(job) for job in jobs]
    if remote_write:
        document["remote_write"] = [copy.deepcopy(dict(entry)) for entry in remote_write]
    return document


def render_yaml(doc: Mapping[str, Any]) -> str:
    """YAML text for a config document: keys in insertion order, block style, stable output."""
    return yaml.safe_dump(
        _plain(doc), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )


def _plain(value: Any) -> Any:
    """Mappings and sequences turned into dicts and lists, which ``yaml.safe_dump`` accepts."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _escape_collector_dollars(value: Any) -> Any:
    """Every ``$`` in strings doubled, keys included.

    The collector expands ``$VAR``/``${env:VAR}`` across its config before the Prometheus
    receiver sees it; ``$$`` is the documented escape for a literal ``$`` (prometheusreceiver
    README, "Since the collector configuration supports env variable substitution...").
    """
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return {
            _escape_collector_dollars(key): _escape_collector_dollars(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_escape_collector_dollars(item) for item in value]
    return value


def adot_collector_config(
    target: ScrapeTarget, *, remote_write_url: str, region: str
) -> dict[str, Any]:
    """AWS Distro for OpenTelemetry collector config: scrape the app, remote-write to AMP.

    Modelled on aws-observability/aws-otel-collector ``config/ecs/ecs-amp-prometheus.yaml`` and
    the opentelemetry-collector-contrib READMEs of ``extension/sigv4authextension`` (``region``,
    ``service``), ``exporter/prometheusremotewriteexporter`` (``endpoint``,
    ``auth.authenticator``) and ``receiver/prometheusreceiver`` (``config.scrape_configs``,
    ``$$`` escaping).

    The embedded scrape job is :func:`scrape_config` with ``$`` escaped as ``$$`` (values such as
    label values are literal there). ``remote_write_url`` and ``region`` are passed through
    unescaped, so collector references like ``${env:AWS_REGION}`` keep working.
    ``health_check`` is enabled because the ADOT image's container health check probes it.
    """
    if not remote_write_url.startswith(("https://", "${")):
        raise ValueError(
            f"remote_write_url must be an https:// AMP remote-write endpoint, "
            f"got {remote_write_url!r}"
        )
    if not region:
        raise ValueError("region must name the AWS region of the AMP workspace")
    return {
        "extensions": {
            "health_check": {},
            "sigv4auth": {"region": region, "service": "aps"},
        },
        "receivers": {
            "prometheus": {
                "config": {"scrape_configs": [_escape_collector_dollars(scrape_config(target))]}
            }
        },
        "processors": {
            # Every task's collector scrapes localhost: without the task's identity on its
            # series, all tasks would write the same series (one `up`, one instance), and
            # per-task alerts (instance down, cluster partitioned) could never tell them apart.
            "resourcedetection/ecs": {"detectors": ["env", "ecs"], "timeout": "2s"},
            "batch/metrics": {"timeout": "60s"},
        },
        "exporters": {
            "prometheusremotewrite": {
                "endpoint": remote_write_url,
                "auth": {"authenticator": "sigv4auth"},
                # The detected task ARN, family, revision and zone become labels.
                "resource_to_telemetry_conversion": {"enabled": True},
            }
        },
        "service": {
            "extensions": ["health_check", "sigv4auth"],
            "pipelines": {
                "metrics": {
                    "receivers": ["prometheus"],
                    "processors": ["resourcedetection/ecs", "batch/metrics"],
                    "exporters": ["prometheusremotewrite"],
                }
            },
        },
    }


def grafana_datasource_provisioning(
    prometheus_url: str,
    *,
    uid: str = "prometheus",
    name: str = "Prometheus",
    sigv4_region: str | None = None,
    alertmanager_url: str | None = None,
) -> dict[str, Any]:
    """Grafana datasource provisioning file (``provisioning/datasources/*.yaml``).

    ``alertmanager_url`` adds an Alertmanager data source, so Grafana's alerting page shows the
    alerts Prometheus fires.

    The dashboard's ``datasource`` variable defaults to ``uid``. ``sigv4_region`` turns on SigV4
    signing with the default AWS credential chain, needed when the URL is an AMP workspace.
    """
    if not prometheus_url.startswith(("http://", "https://")):
        raise ValueError(f"prometheus_url must be an http(s) URL, got {prometheus_url!r}")
    datasource: dict[str, Any] = {
        "name": name,
        "type": "prometheus",
        "uid": uid,
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
        "editable": False,
    }
    if sigv4_region is not None:
        datasource["jsonData"] = {
            "sigV4Auth": True,
            "sigV4AuthType": "default",
            "sigV4Region": sigv4_region,
        }
    datasources = [datasource]
    if alertmanager_url is not None:
        datasources.append(
            {
                "name": "Alertmanager",
                "type": "alertmanager",
                "uid": "alertmanager",
                "access": "proxy",
                "url": alertmanager_url,
                "editable": False,
                "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
            }
        )
    return {"apiVersion": 1, "datasources": datasources}


def grafana_dashboard_provider(path: str, *, name: str = "elixir-app") -> dict[str, Any]:
    """Grafana dashboard provider provisioning file loading every dashboard JSON under ``path``.

    ``path`` is where :data:`DASHBOARDS_DIR` is mounted inside the Grafana container.
    """
    if not path.startswith("/"):
        raise ValueError(f"dashboard provider path must be absolute, got {path!r}")
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": name,
                "orgId": 1,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": path, "foldersFromFilesStructure": False},
            }
        ],
    }


def load_dashboard(path: Path = DASHBOARD_PATH) -> dict[str, Any]:
    """The committed Grafana dashboard for the app, parsed."""
    return json.loads(path.read_text(encoding="utf-8"))


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, including those nested in (collapsed) rows."""
    stack = list(reversed(dashboard.get("panels", [])))
    while stack:
        panel = stack.pop()
        yield panel
        stack.extend(reversed(panel.get("panels", [])))


def iter_target_exprs(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """``(panel, expr)`` for every Prometheus query target of every panel."""
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel, target["expr"]
