"""The program's composition: which components each target builds, in dependency order.

``__main__.py`` calls :func:`build` with validated settings and exports what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.aws.alarm_topic import AlarmTopic, AlarmTopicArgs
from components.aws.monitoring import (
    DeploymentAlarms,
    DeploymentAlarmsArgs,
    Monitoring,
    MonitoringArgs,
)
from components.aws.network import Network, NetworkArgs
from components.aws.prometheus import ManagedPrometheus, ManagedPrometheusArgs
from components.aws.registry import ContainerRegistry, ContainerRegistryArgs
from components.aws.service import (
    ContainerService,
    ContainerServiceArgs,
    LoadBalancerDimensions,
)
from components.image import ContainerImage, ContainerImageArgs
from settings import Settings

Outputs = Mapping[str, pulumi.Input[object]]


def build_aws(settings: Settings) -> Outputs:
    prefix = settings.resource_prefix
    tags = settings.tags
    network = Network(prefix, NetworkArgs(settings=settings.network, tags=tags))
    registry = ContainerRegistry(
        prefix,
        ContainerRegistryArgs(
            settings=settings.registry, tags=tags, retain_on_delete=settings.retain_on_delete
        ),
    )
    image = ContainerImage(
        prefix,
        ContainerImageArgs(
            settings=settings.image,
            repository_url=registry.repository_url,
            registry=registry.credentials(),
        ),
    )
    secrets = AppSecrets(prefix, AppSecretsArgs())
    monitoring_settings = settings.monitoring
    alarm_topic = AlarmTopic(prefix, AlarmTopicArgs(settings=monitoring_settings, tags=tags))
    prometheus = (
        ManagedPrometheus(
            prefix,
            ManagedPrometheusArgs(
                settings=monitoring_settings,
                container_port=settings.service.container_port,
                tags=tags,
            ),
        )
        if monitoring_settings.managed_prometheus
        else None
    )
    deployment_alarms: list[DeploymentAlarms] = []

    def create_deployment_alarms(dimensions: LoadBalancerDimensions) -> pulumi.Output[list[str]]:
        # Called by ContainerService once its load balancer exists, before the ECS service.
        alarms = DeploymentAlarms(
            prefix,
            DeploymentAlarmsArgs(
                settings=monitoring_settings,
                dimensions=dimensions,
                topic_arn=alarm_topic.topic_arn,
                tags=tags,
            ),
        )
        deployment_alarms.append(alarms)
        return alarms.alarm_names

    service = ContainerService(
        prefix,
        ContainerServiceArgs(
            settings=settings.service,
            image_ref=image.image_ref,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            task_subnet_ids=network.task_subnet_ids,
            assign_public_ip=network.assign_public_ip,
            secret_key_base=secrets.secret_key_base,
            release_cookie=secrets.release_cookie,
            tags=tags,
            retain_on_delete=settings.retain_on_delete,
            log_kms_key_arn=monitoring_settings.log_kms_key_arn,
            sidecars=[prometheus.sidecar] if prometheus else [],
            task_role_statements=[prometheus.task_role_statement] if prometheus else [],
            deployment_alarms=create_deployment_alarms,
        ),
    )
    monitoring = Monitoring(
        prefix,
        MonitoringArgs(
            settings=monitoring_settings,
            topic_arn=alarm_topic.topic_arn,
            cluster_name=service.cluster_name,
            service_name=service.service_name,
            load_balancer_arn_suffix=service.load_balancer_arn_suffix,
            target_group_arn_suffix=service.target_group_arn_suffix,
            min_count=settings.service.min_count,
            deployment_alarm_arns=deployment_alarms[0].alarm_arns,
            tags=tags,
        ),
    )
    prometheus_outputs: dict[str, pulumi.Input[object]] = {}
    if prometheus is not None:
        prometheus_outputs = {
            "prometheusWorkspaceId": prometheus.workspace_id,
            "prometheusRemoteWriteUrl": prometheus.remote_write_url,
        }
        if prometheus.grafana_endpoint is not None:
            prometheus_outputs["grafanaUrl"] = prometheus.grafana_endpoint
    return {
        "target": settings.target,
        "url": service.url,
        "registryUrl": registry.repository_url,
        "image": image.image_ref,
        "clusterName": service.cluster_name,
        "serviceName": service.service_name,
        "logGroupName": service.log_group_name,
        "loadBalancerDnsName": service.load_balancer_dns_name,
        "alarmTopicArn": alarm_topic.topic_arn,
        "dashboardName": monitoring.dashboard_name,
        **prometheus_outputs,
    }


def build_local(settings: Settings) -> Outputs:
    raise NotImplementedError("the local target is not built yet")


BUILDERS: Mapping[str, Callable[[Settings], Outputs]] = {"aws": build_aws, "local": build_local}


def build(settings: Settings) -> Outputs:
    return BUILDERS[settings.target](settings)
