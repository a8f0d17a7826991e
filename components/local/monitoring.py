"""Monitoring (local): Prometheus scraping the app and Grafana showing the app's dashboard.

Creates: ``docker.RemoteImage`` for pinned Prometheus and Grafana images; a ``docker.Volume``
for Prometheus' TSDB (metrics survive restarts); the Prometheus container (config from the
shared :func:`components.observability.prometheus_config`, scraping the app by container name
on the private network); the Grafana container with the Prometheus data source and the
repository's dashboard provisioned, anonymous Viewer access and an admin password (from config,
or a ``random.RandomPassword``). Config files are passed as container ``uploads`` (content, not
host bind mounts), so a remote Docker host works the same as a local one.

Grafana keeps no volume on purpose: everything it shows is provisioned, and
``GF_SECURITY_ADMIN_PASSWORD`` only applies to a fresh database, so a new password takes effect
when the container is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.alert_rules import rule_group_yaml
from components.alertmanager import local_alertmanager_config, render
from components.local.containers import env_list, named_volume, pinned_image, stack_container
from components.observability import (
    ScrapeTarget,
    grafana_dashboard_provider,
    grafana_datasource_provisioning,
    load_dashboard,
    prometheus_config,
    render_yaml,
)
from components.urns import component_options

PROMETHEUS_IMAGE = "prom/prometheus:v2.54.1"
GRAFANA_IMAGE = "grafana/grafana:11.2.2"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.28.1"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CONFIG_FILE = "/etc/alertmanager/alertmanager.yml"
"""Where the image's default command reads its config."""
PROMETHEUS_RULES_FILE = "/etc/prometheus/rules/elixir-app.yml"
GRAFANA_PORT = 3000
PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
"""Where the image's default command reads its config."""
PROMETHEUS_DATA_PATH = "/prometheus"
GRAFANA_DATASOURCE_FILE = "/etc/grafana/provisioning/datasources/prometheus.yaml"
GRAFANA_PROVIDER_FILE = "/etc/grafana/provisioning/dashboards/elixir-app.yaml"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
GRAFANA_DASHBOARD_FILE = f"{GRAFANA_DASHBOARDS_DIR}/elixir-app.json"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_PASSWORD_LENGTH = 24


def local_prometheus_config(job_name: str, app_addresses: Sequence[str], metrics_path: str) -> str:
    """``prometheus.yml`` for the local target: the app's shared scrape job plus Prometheus, the
    app's alerting rules, and the stack's Alertmanager."""
    target = ScrapeTarget(
        job_name=job_name, targets=tuple(app_addresses), metrics_path=metrics_path
    )
    return render_yaml(
        prometheus_config(
            [target],
            self_scrape_target=f"localhost:{PROMETHEUS_PORT}",
            rule_files=[PROMETHEUS_RULES_FILE],
            alertmanagers=[f"alertmanager:{ALERTMANAGER_PORT}"],
        )
    )


def grafana_environment(admin_password: str) -> dict[str, str]:
    """Anonymous visitors may look (Viewer), only the admin may change anything."""
    return {
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_AUTH_DISABLE_LOGIN_FORM": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_SECURITY_ADMIN_USER": GRAFANA_ADMIN_USER,
        "GF_SECURITY_ADMIN_PASSWORD": admin_password,
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": GRAFANA_DASHBOARD_FILE,
    }


def wget_health_check(url: str) -> docker.ContainerHealthcheckArgs:
    # Both images ship busybox wget (no curl).
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", "wget", "-q", "-O", "/dev/null", url],
        interval="15s",
        timeout="5s",
        retries=3,
        start_period="20s",
    )


@dataclass(frozen=True)
class MonitoringArgs:
    job_name: str
    """Prometheus ``job`` label of the app's series (the dashboard's ``$job`` variable)."""
    app_addresses: pulumi.Input[Sequence[str]]
    """``<app container>:<port>`` of every replica on the private network."""
    network_name: pulumi.Input[str]
    """The stack's private network."""
    metrics_path: str
    """Path of the app's metrics endpoint on its port."""
    prometheus_port: int
    """Published host port of Prometheus."""
    grafana_port: int
    """Published host port of Grafana."""
    bind_address: str
    """Host address the Prometheus and Grafana ports are published on."""
    alertmanager_port: int = ALERTMANAGER_PORT
    """Published host port of Alertmanager."""
    chat_flavour: str = "slack"
    """Which chat tool the webhook belongs to (slack, teams, discord)."""
    chat_webhook_url: pulumi.Input[str] | None = None
    """Secret: where alerts go; None - they are only shown (Alertmanager UI, Grafana)."""
    grafana_admin_password: pulumi.Input[str] | None = None
    """Secret; None - generate one."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags, as Docker labels."""
    retain_on_delete: bool = False
    """Keep (and protect) the metrics volume when the stack is destroyed."""


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]
    prometheus_container_name: pulumi.Output[str]
    grafana_container_name: pulumi.Output[str]
    grafana_admin_password: pulumi.Output[str]
    """Secret: the configured or the generated admin password."""
    alertmanager_url: pulumi.Output[str]
    alertmanager_container_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:local:Monitoring",
            name,
            None,
            component_options(opts, "elixir-devops:index:Monitoring"),
        )
        self._name = name
        self._args = args
        alertmanager = self._create_alertmanager()
        prometheus = self._create_prometheus()
        grafana = self._create_grafana(prometheus)
        self.alertmanager_url = pulumi.Output.from_input(
            f"http://localhost:{args.alertmanager_port}"
        )
        self.alertmanager_container_name = alertmanager.name
        self.prometheus_url = pulumi.Output.from_input(f"http://localhost:{args.prometheus_port}")
        self.grafana_url = pulumi.Output.from_input(f"http://localhost:{args.grafana_port}")
        self.prometheus_container_name = prometheus.name
        self.grafana_container_name = grafana.name
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "grafana_url": self.grafana_url,
                "prometheus_container_name": self.prometheus_container_name,
                "grafana_container_name": self.grafana_container_name,
                "grafana_admin_password": self.grafana_admin_password,
                "alertmanager_url": self.alertmanager_url,
                "alertmanager_container_name": self.alertmanager_container_name,
            }
        )

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _create_prometheus(self) -> docker.Container:
        name, args = self._name, self._args
        image = pinned_image(f"{name}-prometheus-image", PROMETHEUS_IMAGE, self)
        data = named_volume(
            f"{name}-prometheus-data", args.labels, self, keep=args.retain_on_delete
        )
        config = pulumi.Output.from_input(args.app_addresses).apply(
            lambda addresses: local_prometheus_config(args.job_name, addresses, args.metrics_path)
        )
        return docker.Container(
            f"{name}-prometheus",
            name=f"{name}-prometheus",
            image=image.image_id,
            uploads=[
                docker.ContainerUploadArgs(file=PROMETHEUS_CONFIG_FILE, content=config),
                docker.ContainerUploadArgs(file=PROMETHEUS_RULES_FILE, content=rule_group_yaml()),
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=data.name, container_path=PROMETHEUS_DATA_PATH
                )
            ],
            **stack_container(
                network_name=args.network_name,
                alias="prometheus",
                internal_port=PROMETHEUS_PORT,
                host_port=args.prometheus_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            healthcheck=wget_health_check(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready"),
            opts=self._child(),
        )

    def _create_alertmanager(self) -> docker.Container:
        """Routes the alerts to the chat webhook (a secret), or only shows them."""
        name, args = self._name, self._args
        image = pinned_image(f"{name}-alertmanager-image", ALERTMANAGER_IMAGE, self)
        if args.chat_webhook_url is None:
            config: pulumi.Input[str] = render(local_alertmanager_config(args.chat_flavour, None))
        else:
            config = pulumi.Output.secret(
                pulumi.Output.from_input(args.chat_webhook_url).apply(
                    lambda url: render(local_alertmanager_config(args.chat_flavour, url))
                )
            )
        return docker.Container(
            f"{name}-alertmanager",
            name=f"{name}-alertmanager",
            image=image.image_id,
            uploads=[docker.ContainerUploadArgs(file=ALERTMANAGER_CONFIG_FILE, content=config)],
            **stack_container(
                network_name=args.network_name,
                alias="alertmanager",
                internal_port=ALERTMANAGER_PORT,
                host_port=args.alertmanager_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            healthcheck=wget_health_check(f"http://127.0.0.1:{ALERTMANAGER_PORT}/-/ready"),
            opts=self._child(),
        )

    def _create_grafana(self, prometheus: docker.Container) -> docker.Container:
        name, args = self._name, self._args
        if args.grafana_admin_password is None:
            generated = random.RandomPassword(
                f"{name}-grafana-admin-password",
                length=GRAFANA_PASSWORD_LENGTH,
                special=False,
                opts=self._child(),
            )
            password = pulumi.Output.secret(generated.result)
        else:
            password = pulumi.Output.secret(args.grafana_admin_password)
        self.grafana_admin_password = password
        image = pinned_image(f"{name}-grafana-image", GRAFANA_IMAGE, self)
        datasource = prometheus.name.apply(
            lambda host: render_yaml(
                grafana_datasource_provisioning(
                    f"http://{host}:{PROMETHEUS_PORT}",
                    alertmanager_url=f"http://alertmanager:{ALERTMANAGER_PORT}",
                )
            )
        )
        return docker.Container(
            f"{name}-grafana",
            name=f"{name}-grafana",
            image=image.image_id,
            envs=pulumi.Output.secret(password.apply(lambda p: env_list(grafana_environment(p)))),
            uploads=[
                docker.ContainerUploadArgs(file=GRAFANA_DATASOURCE_FILE, content=datasource),
                docker.ContainerUploadArgs(
                    file=GRAFANA_PROVIDER_FILE,
                    content=render_yaml(grafana_dashboard_provider(GRAFANA_DASHBOARDS_DIR)),
                ),
                docker.ContainerUploadArgs(
                    file=GRAFANA_DASHBOARD_FILE,
                    content=json.dumps(load_dashboard(), indent=2, sort_keys=True),
                ),
            ],
            **stack_container(
                network_name=args.network_name,
                alias="grafana",
                internal_port=GRAFANA_PORT,
                host_port=args.grafana_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            healthcheck=wget_health_check(f"http://127.0.0.1:{GRAFANA_PORT}/api/health"),
            opts=self._child(),
        )
