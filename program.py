"""The program's composition: which components each target builds, in dependency order.

``__main__.py`` calls :func:`build` with validated settings and exports what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.aws.alarm_topic import AlarmTopic, AlarmTopicArgs
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from components.aws.monitoring import (
    DeploymentAlarms,
    DeploymentAlarmsArgs,
    Monitoring,
    MonitoringArgs,
)
from components.aws.network import Network, NetworkArgs
from components.aws.prometheus import ManagedPrometheus, ManagedPrometheusArgs
from components.aws.registry import ContainerRegistry, ContainerRegistryArgs
from components.aws.service import ContainerService, ContainerServiceArgs
from components.image import ContainerImage, ContainerImageArgs
from components.local import monitoring as local_monitoring
from components.local import network as local_network
from components.local import registry as local_registry
from components.local import service as local_service
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
    load_balancer = LoadBalancer(
        prefix,
        LoadBalancerArgs(
            settings=settings.service,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            tags=tags,
        ),
    )
    deployment_alarms = DeploymentAlarms(
        prefix,
        DeploymentAlarmsArgs(
            settings=monitoring_settings,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=load_balancer.target_group_arn_suffix,
            topic_arn=alarm_topic.topic_arn,
            tags=tags,
        ),
    )
    service = ContainerService(
        prefix,
        ContainerServiceArgs(
            settings=settings.service,
            image_ref=image.image_ref,
            vpc_id=network.vpc_id,
            task_subnet_ids=network.task_subnet_ids,
            assign_public_ip=network.assign_public_ip,
            host=load_balancer.host,
            load_balancer_security_group_id=load_balancer.security_group_id,
            target_group_arn=load_balancer.target_group_arn,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=load_balancer.target_group_arn_suffix,
            secret_key_base=secrets.secret_key_base,
            release_cookie=secrets.release_cookie,
            tags=tags,
            retain_on_delete=settings.retain_on_delete,
            log_kms_key_arn=monitoring_settings.log_kms_key_arn,
            sidecars=[prometheus.sidecar] if prometheus else [],
            task_role_statements=[prometheus.task_role_statement] if prometheus else [],
            deployment_alarm_names=deployment_alarms.alarm_names,
        ),
    )
    monitoring = Monitoring(
        prefix,
        MonitoringArgs(
            settings=monitoring_settings,
            topic_arn=alarm_topic.topic_arn,
            cluster_name=service.cluster_name,
            service_name=service.service_name,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=load_balancer.target_group_arn_suffix,
            min_count=settings.service.min_count,
            deployment_alarm_arns=deployment_alarms.alarm_arns,
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
        "url": load_balancer.url,
        "registryUrl": registry.repository_url,
        "image": image.image_ref,
        "clusterName": service.cluster_name,
        "serviceName": service.service_name,
        "logGroupName": service.log_group_name,
        "loadBalancerDnsName": load_balancer.dns_name,
        "alarmTopicArn": alarm_topic.topic_arn,
        "dashboardName": monitoring.dashboard_name,
        **prometheus_outputs,
    }


def build_local(settings: Settings) -> Outputs:
    prefix = settings.resource_prefix
    labels = settings.tags
    local = settings.local
    network = local_network.Network(prefix, local_network.NetworkArgs(labels=labels))
    registry = local_registry.ContainerRegistry(
        prefix,
        local_registry.ContainerRegistryArgs(
            repository=settings.app_name,
            network_name=network.network_name,
            host_port=local.registry_port,
            bind_address=local.bind_address,
            labels=labels,
            retain_on_delete=settings.retain_on_delete,
        ),
    )
    # repository_url derives from the registry container, so the push waits for a healthy
    # registry; depends_on says so explicitly as well.
    image = ContainerImage(
        prefix,
        ContainerImageArgs(settings=settings.image, repository_url=registry.repository_url),
        opts=pulumi.ResourceOptions(depends_on=[registry]),
    )
    secrets = AppSecrets(prefix, AppSecretsArgs())
    service = local_service.ContainerService(
        prefix,
        local_service.ContainerServiceArgs(
            settings=settings.service,
            local=local,
            image_ref=image.image_ref,
            network_name=network.network_name,
            secret_key_base=secrets.secret_key_base,
            release_cookie=secrets.release_cookie,
            labels=labels,
        ),
    )
    monitoring = local_monitoring.Monitoring(
        prefix,
        local_monitoring.MonitoringArgs(
            job_name=settings.app_name,
            app_address=service.internal_address,
            network_name=network.network_name,
            prometheus_port=local.prometheus_port,
            grafana_port=local.grafana_port,
            bind_address=local.bind_address,
            grafana_admin_password=local.grafana_admin_password,
            labels=labels,
            retain_on_delete=settings.retain_on_delete,
        ),
    )
    return {
        "target": settings.target,
        "url": service.url,
        "registryUrl": registry.registry_address,
        "repositoryUrl": registry.repository_url,
        "image": image.image_ref,
        "prometheusUrl": monitoring.prometheus_url,
        "grafanaUrl": monitoring.grafana_url,
        "grafanaAdminPassword": monitoring.grafana_admin_password,
        "networkName": network.network_name,
        "appContainerName": service.container_name,
        "registryContainerName": registry.container_name,
        "prometheusContainerName": monitoring.prometheus_container_name,
        "grafanaContainerName": monitoring.grafana_container_name,
    }


BUILDERS: Mapping[str, Callable[[Settings], Outputs]] = {"aws": build_aws, "local": build_local}


def build(settings: Settings) -> Outputs:
    return BUILDERS[settings.target](settings)
