"""The program's composition: which components each target builds, in dependency order.

``__main__.py`` calls :func:`build` with validated settings and exports what it returns.
Components never see a settings object: one ``<unit>_args`` function per unit maps the
settings (and the neighbours' outputs) to that unit's flat Args.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.aws.alarm_topic import AlarmTopic, AlarmTopicArgs
from components.aws.certificate import (
    DomainCertificate,
    DomainCertificateArgs,
    check_certificate_region,
    check_hosted_zone,
)
from components.aws.chat import ChatForwarder, ChatForwarderArgs
from components.aws.cluster import Cluster, ClusterArgs
from components.aws.database import POSTGRES_PORT, Database, DatabaseArgs, alarm_thresholds
from components.aws.deploy_events import DeployEvents, DeployEventsArgs
from components.aws.discovery import ServiceDiscovery, ServiceDiscoveryArgs
from components.aws.firewall import allow
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
from components.aws.runtime_secrets import RuntimeSecrets, RuntimeSecretsArgs
from components.aws.service import LoadBalancerAttachment, Service, ServiceArgs
from components.aws.task import CONTAINER_NAME as TASK_CONTAINER_NAME
from components.aws.task import FargateTask, FargateTaskArgs, ecr_repository_arn
from components.image import ContainerImage, ContainerImageArgs, ImageBuild
from components.local import database as local_database
from components.local import monitoring as local_monitoring
from components.local import network as local_network
from components.local import registry as local_registry
from components.local import service as local_service
from components.runtime import cluster_environment, remote_console, runtime_variables
from settings import (
    ImageSettings,
    LocalSettings,
    MonitoringSettings,
    NetworkSettings,
    RegistrySettings,
    ServiceSettings,
    Settings,
)
from settings.database import INSTANCE_MEMORY_GIB, DatabaseSettings, max_connections

Outputs = Mapping[str, pulumi.Input[object]]


def network_args(
    network: NetworkSettings, tags: Mapping[str, str], flow_log_retention_days: int = 30
) -> NetworkArgs:
    return NetworkArgs(
        flow_log_retention_days=flow_log_retention_days if network.flow_logs else None,
        vpc_cidr=network.vpc_cidr,
        availability_zones=network.availability_zones,
        nat_gateways=network.nat_gateways,
        existing_vpc_id=network.existing_vpc_id,
        existing_public_subnet_ids=network.existing_public_subnet_ids,
        existing_private_subnet_ids=network.existing_private_subnet_ids,
        tags=tags,
    )


def registry_args(
    registry: RegistrySettings, tags: Mapping[str, str], retain_on_delete: bool
) -> ContainerRegistryArgs:
    return ContainerRegistryArgs(
        tag_mutability=registry.tag_mutability,
        untagged_expiry_days=registry.untagged_expiry_days,
        keep_tagged_count=registry.keep_tagged_count,
        force_delete=registry.force_delete,
        pull_account_ids=registry.pull_account_ids,
        tags=tags,
        retain_on_delete=retain_on_delete,
    )


def alarm_topic_args(monitoring: MonitoringSettings, tags: Mapping[str, str]) -> AlarmTopicArgs:
    return AlarmTopicArgs(
        emails=monitoring.alarm_emails,
        webhooks=monitoring.alarm_webhooks,
        sqs_queue_arn=monitoring.alarm_sqs_queue_arn,
        # Alarms; deployment events (EventBridge); Prometheus alerts when AMP is on.
        publishers=("cloudwatch", "events", *(("aps",) if monitoring.managed_prometheus else ())),
        tags=tags,
    )


def unheard_alarms_warning(monitoring: MonitoringSettings) -> str | None:
    """What an ``up`` says when the alarm topic has no subscriber: alarms would fire, roll
    deployments back and page nobody. None when someone hears them."""
    if (
        monitoring.alarm_emails
        or monitoring.alarm_webhooks
        or monitoring.alarm_sqs_queue_arn
        or monitoring.chat_webhook_url is not None
    ):
        return None
    return (
        "No one is notified of this stack's alarms: its alarm topic has no subscriber. Set "
        "alarmEmails (e-mail addresses), alarmWebhooks (PagerDuty/Opsgenie https endpoints), "
        "alarmSqsQueueArn or chatWebhookUrl (Slack, Teams, Discord, Google Chat; "
        "pulumi config set --secret) - see docs/monitoring.md."
    )


def managed_prometheus_args(
    monitoring: MonitoringSettings,
    container_port: int,
    tags: Mapping[str, str],
    alert_topic_arn: pulumi.Input[str] | None = None,
) -> ManagedPrometheusArgs:
    return ManagedPrometheusArgs(
        alert_topic_arn=alert_topic_arn,
        container_port=container_port,
        metrics_path=monitoring.metrics_path,
        scrape_interval_seconds=monitoring.metrics_scrape_interval_seconds,
        collector_image=monitoring.collector_image,
        grafana=monitoring.managed_grafana,
        tags=tags,
    )


def deployment_alarms_args(
    monitoring: MonitoringSettings,
    *,
    load_balancer_arn_suffix: pulumi.Input[str],
    target_group_arn_suffix: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
) -> DeploymentAlarmsArgs:
    return DeploymentAlarmsArgs(
        target_5xx_percent=monitoring.target_5xx_percent,
        unhealthy_hosts=monitoring.unhealthy_hosts,
        period_seconds=monitoring.period_seconds,
        evaluation_periods=monitoring.evaluation_periods,
        load_balancer_arn_suffix=load_balancer_arn_suffix,
        target_group_arn_suffix=target_group_arn_suffix,
        topic_arn=topic_arn,
        tags=tags,
    )


def monitoring_args(
    monitoring: MonitoringSettings,
    *,
    topic_arn: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
    load_balancer_arn_suffix: pulumi.Input[str],
    target_group_arn_suffix: pulumi.Input[str],
    min_count: int,
    deployment_alarm_arns: pulumi.Input[Sequence[str]],
    other_alarm_arns: pulumi.Input[Sequence[str]],
    tags: Mapping[str, str],
) -> MonitoringArgs:
    return MonitoringArgs(
        cpu_high_percent=monitoring.cpu_high_percent,
        memory_high_percent=monitoring.memory_high_percent,
        latency_statistic=monitoring.latency_statistic,
        latency_threshold_ms=monitoring.latency_threshold_ms,
        period_seconds=monitoring.period_seconds,
        evaluation_periods=monitoring.evaluation_periods,
        topic_arn=topic_arn,
        cluster_name=cluster_name,
        service_name=service_name,
        load_balancer_arn_suffix=load_balancer_arn_suffix,
        target_group_arn_suffix=target_group_arn_suffix,
        min_count=min_count,
        deployment_alarm_arns=deployment_alarm_arns,
        other_alarm_arns=other_alarm_arns,
        tags=tags,
    )


def local_service_args(
    service: ServiceSettings,
    local: LocalSettings,
    database: DatabaseSettings,
    *,
    image_ref: pulumi.Input[str],
    network_name: pulumi.Input[str],
    app_secrets: AppSecrets,
    database_url: pulumi.Input[str] | None,
    labels: Mapping[str, str],
) -> local_service.ContainerServiceArgs:
    """``database_url``: the local database's DATABASE_URL (None - the app has none here)."""
    return local_service.ContainerServiceArgs(
        image_ref=image_ref,
        network_name=network_name,
        container_port=service.container_port,
        host_port=local.app_port,
        bind_address=local.bind_address,
        health_check_path=service.health_check_path,
        health_check_grace_period_seconds=service.health_check_grace_period_seconds,
        stop_timeout_seconds=service.stop_timeout_seconds,
        memory_mb=local.memory_mb,
        cpus=local.cpus,
        log_max_size_mb=local.log_max_size_mb,
        log_max_files=local.log_max_files,
        environment=runtime_variables(
            container_port=service.container_port,
            stop_timeout_seconds=service.stop_timeout_seconds,
            host=local_service.PUBLIC_HOST,
            environment={
                **service.environment,
                **database_environment(database),
            },
        ),
        secrets={
            **local.secrets,
            "SECRET_KEY_BASE": app_secrets.secret_key_base,
            "RELEASE_COOKIE": app_secrets.release_cookie,
            **({"DATABASE_URL": database_url} if database_url is not None else {}),
        },
        migrate_command=migrate_command(database),
        replicas=local.replicas,
        distribution_port=service.distribution_port,
        labels=labels,
    )


def image_args(
    image: ImageSettings,
    repository_url: pulumi.Input[str],
    registry: docker.RegistryArgs | None = None,
) -> ContainerImageArgs:
    return ContainerImageArgs(
        build=ImageBuild(
            context=image.context,
            dockerfile=image.dockerfile,
            platform=image.platform,
            build_args=image.build_args,
        ),
        tag=image.tag,
        build_on_preview=image.build_on_preview,
        repository_url=repository_url,
        registry=registry,
        prebuilt=image.prebuilt,
    )


def load_balancer_args(
    service: ServiceSettings,
    vpc_id: pulumi.Input[str],
    public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    tags: Mapping[str, str],
    keep_access_logs: bool = False,
    certificate_arn: pulumi.Input[str] | None = None,
    private_paths: Sequence[str] = (),
) -> LoadBalancerArgs:
    """``certificate_arn``: the stack's own certificate (hostedZoneId); else certificateArn."""
    return LoadBalancerArgs(
        access_log_retention_days=service.alb_access_log_retention_days,
        keep_access_logs=keep_access_logs,
        container_port=service.container_port,
        health_check_path=service.health_check_path,
        deregistration_delay_seconds=service.deregistration_delay_seconds,
        ingress_cidrs=service.ingress_cidrs,
        domain=service.domain,
        certificate_arn=certificate_arn if certificate_arn is not None else service.certificate_arn,
        alias_zone_id=service.hosted_zone_id,
        domain_aliases=service.domain_aliases,
        idle_timeout_seconds=service.load_balancer_idle_timeout_seconds,
        stickiness_seconds=service.stickiness_seconds,
        private_paths=private_paths,
        deletion_protection=service.alb_deletion_protection,
        vpc_id=vpc_id,
        public_subnet_ids=public_subnet_ids,
        tags=tags,
    )


def database_environment(database: DatabaseSettings) -> dict[str, str]:
    """What the app's Ecto repo reads besides DATABASE_URL (a secret)."""
    return {"POOL_SIZE": str(database.pool_size)} if database.enabled else {}


def migrate_command(database: DatabaseSettings) -> tuple[str, ...] | None:
    """Migrations run only for an app with a database, and only when they are on."""
    return database.migrate_command if database.enabled and database.migrations else None


def database_args(
    settings: Settings, network: Network, alarm_topic_arn: pulumi.Input[str]
) -> DatabaseArgs:
    database = settings.database
    return DatabaseArgs(
        engine_version=database.engine_version,
        instance_class=database.instance_class,
        allocated_storage_gb=database.allocated_storage_gb,
        max_allocated_storage_gb=database.max_allocated_storage_gb,
        backup_retention_days=database.backup_retention_days,
        multi_az=database.multi_az,
        performance_insights=database.performance_insights,
        database_name=database.name,
        username=database.username,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        keep_data=settings.retain_on_delete,
        alarm_thresholds=alarm_thresholds(
            allocated_storage_gb=database.allocated_storage_gb,
            memory_gib=INSTANCE_MEMORY_GIB[database.instance_class],
            max_connections=max_connections(database.instance_class),
        ),
        alarm_topic_arn=alarm_topic_arn,
        tags=settings.tags,
    )


def build_aws(settings: Settings) -> Outputs:
    prefix = settings.resource_prefix
    tags = settings.tags
    service_settings = settings.service
    monitoring_settings = settings.monitoring
    if service_settings.certificate_arn is not None:
        check_certificate_region(service_settings.certificate_arn)
    if service_settings.hosted_zone_id is not None and service_settings.domain is not None:
        check_hosted_zone(
            service_settings.hosted_zone_id,
            [service_settings.domain, *service_settings.domain_aliases],
        )
    network = Network(
        prefix,
        network_args(settings.network, tags, settings.service.log_retention_days),
    )
    registry = ContainerRegistry(
        prefix, registry_args(settings.registry, tags, settings.retain_on_delete)
    )
    image = ContainerImage(
        prefix,
        image_args(settings.image, registry.repository_url, registry.credentials()),
    )
    secrets = AppSecrets(prefix, AppSecretsArgs())
    alarm_topic = AlarmTopic(prefix, alarm_topic_args(monitoring_settings, tags))
    unheard = unheard_alarms_warning(monitoring_settings)
    # On `up` only: a preview of a pull request is not where the operator decides who is paged.
    if unheard is not None and not pulumi.runtime.is_dry_run():
        pulumi.log.warn(unheard, resource=alarm_topic)
    prometheus = (
        ManagedPrometheus(
            prefix,
            managed_prometheus_args(
                monitoring_settings,
                service_settings.container_port,
                tags,
                alert_topic_arn=alarm_topic.topic_arn,
            ),
        )
        if monitoring_settings.managed_prometheus
        else None
    )
    certificate = (
        DomainCertificate(
            prefix,
            DomainCertificateArgs(
                domain=service_settings.domain,
                hosted_zone_id=service_settings.hosted_zone_id,
                aliases=service_settings.domain_aliases,
                tags=tags,
            ),
        )
        if service_settings.hosted_zone_id is not None and service_settings.domain is not None
        else None
    )
    load_balancer = LoadBalancer(
        prefix,
        load_balancer_args(
            service_settings,
            network.vpc_id,
            network.public_subnet_ids,
            tags,
            keep_access_logs=settings.retain_on_delete,
            certificate_arn=certificate.certificate_arn if certificate is not None else None,
            # The collector scrapes the app on localhost; the internet never reads its metrics.
            private_paths=(monitoring_settings.metrics_path,),
        ),
    )
    deployment_alarms = DeploymentAlarms(
        prefix,
        deployment_alarms_args(
            monitoring_settings,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=load_balancer.target_group_arn_suffix,
            topic_arn=alarm_topic.topic_arn,
            tags=tags,
        ),
    )
    cluster = Cluster(
        prefix,
        ClusterArgs(
            fargate_spot=service_settings.fargate_spot,
            on_demand_base=service_settings.on_demand_base,
            tags=tags,
        ),
    )
    runtime_secrets = RuntimeSecrets(
        prefix,
        RuntimeSecretsArgs(
            values={
                "SECRET_KEY_BASE": secrets.secret_key_base,
                "RELEASE_COOKIE": secrets.release_cookie,
            },
            description="Phoenix SECRET_KEY_BASE and the Erlang RELEASE_COOKIE of this stack",
            tags=tags,
        ),
    )
    discovery = (
        ServiceDiscovery(
            prefix,
            ServiceDiscoveryArgs(
                namespace=f"{prefix}.internal",
                service_name="app",
                vpc_id=network.vpc_id,
                tags=tags,
            ),
        )
        if service_settings.clustering
        else None
    )
    database = settings.database
    app_database = (
        Database(prefix, database_args(settings, network, alarm_topic.topic_arn))
        if database.mode == "postgres"
        else None
    )
    database_secrets: dict[str, pulumi.Input[str]] = {}
    if app_database is not None:
        database_secrets["DATABASE_URL"] = app_database.url_reference
    elif database.mode == "external" and database.url_secret_arn:
        database_secrets["DATABASE_URL"] = database.url_secret_arn
    task = FargateTask(
        prefix,
        FargateTaskArgs(
            image_ref=image.image_ref,
            # Pull rights on exactly the repository the image comes from.
            repository_arn=registry.repository_arn
            if settings.image.prebuilt is None
            else ecr_repository_arn(settings.image.prebuilt),
            container_port=service_settings.container_port,
            cpu=service_settings.cpu,
            memory=service_settings.memory,
            cpu_architecture=service_settings.cpu_architecture,
            stop_timeout_seconds=service_settings.stop_timeout_seconds,
            vpc_id=network.vpc_id,
            log_retention_days=service_settings.log_retention_days,
            environment=runtime_variables(
                container_port=service_settings.container_port,
                stop_timeout_seconds=service_settings.stop_timeout_seconds,
                host=load_balancer.host,
                environment={
                    **service_settings.environment,
                    **database_environment(database),
                    **(
                        cluster_environment(discovery.query, service_settings.distribution_port)
                        if discovery is not None
                        else {}
                    ),
                },
            ),
            secrets={
                **service_settings.secret_arns,
                **runtime_secrets.references,
                **database_secrets,
            },
            migrate_command=migrate_command(database),
            secret_kms_key_arns=service_settings.secret_kms_key_arns,
            enable_execute_command=service_settings.enable_execute_command,
            task_role_statements=[prometheus.task_role_statement] if prometheus else [],
            app_policy_statements=service_settings.task_role_statements,
            app_managed_policy_arns=service_settings.task_role_managed_policy_arns,
            sidecars=[prometheus.sidecar] if prometheus else [],
            log_kms_key_arn=monitoring_settings.log_kms_key_arn,
            retain_on_delete=settings.retain_on_delete,
            tags=tags,
        ),
    )
    # Cross-unit wiring: the load balancer reaches the tasks on the container port, only.
    allow(
        f"{prefix}-task-in-alb",
        receiver=task.security_group,
        sender_id=load_balancer.security_group_id,
        from_port=service_settings.container_port,
        description="App port from the load balancer",
        sender_description="Requests and health checks to the tasks",
        egress_name=f"{prefix}-alb-out-tasks",
        tags=tags,
    )
    # The app's nodes reach each other on the distribution port; nothing else does.
    if discovery is not None:
        allow(
            f"{prefix}-task-in-peers",
            receiver=task.security_group,
            sender_id=task.security_group_id,
            from_port=service_settings.distribution_port,
            description="Erlang distribution between the app tasks",
            sender_description="Erlang distribution to the other app tasks",
            tags=tags,
        )
    # The tasks (and their migrations) reach the database on 5432; nothing else does.
    if app_database is not None:
        allow(
            f"{prefix}-db-in-tasks",
            receiver=app_database.security_group,
            sender_id=task.security_group_id,
            from_port=POSTGRES_PORT,
            description="PostgreSQL from the app tasks",
            sender_description="App tasks to their database",
            tags=tags,
        )
    elif database.security_group_id is not None:
        allow(
            f"{prefix}-external-db-in-tasks",
            receiver=database.security_group_id,
            sender_id=task.security_group_id,
            from_port=POSTGRES_PORT,
            description="PostgreSQL from the app tasks",
            sender_description="App tasks to their database",
            tags=tags,
            parent=task,
        )
    service = Service(
        prefix,
        ServiceArgs(
            cluster_arn=cluster.cluster_arn,
            cluster_name=cluster.cluster_name,
            task_definition_arn=task.task_definition_arn,
            subnet_ids=network.task_subnet_ids,
            security_group_ids=[task.security_group_id],
            assign_public_ip=network.assign_public_ip,
            desired_count=service_settings.desired_count,
            min_count=service_settings.min_count,
            max_count=service_settings.max_count,
            cpu_target_percent=service_settings.cpu_target_percent,
            fargate_spot=service_settings.fargate_spot,
            on_demand_base=service_settings.on_demand_base,
            load_balancer=LoadBalancerAttachment(
                target_group_arn=load_balancer.target_group_arn,
                container_port=service_settings.container_port,
                health_check_grace_period_seconds=(
                    service_settings.health_check_grace_period_seconds
                ),
                requests_per_target=service_settings.requests_per_target,
                request_count_label=pulumi.Output.concat(
                    load_balancer.load_balancer_arn_suffix,
                    "/",
                    load_balancer.target_group_arn_suffix,
                ),
            ),
            deployment_alarm_names=deployment_alarms.alarm_names,
            registry_arn=discovery.registry_arn if discovery is not None else None,
            enable_execute_command=service_settings.enable_execute_command,
            tags=tags,
        ),
    )
    if monitoring_settings.chat_webhook_url is not None:
        ChatForwarder(
            prefix,
            ChatForwarderArgs(
                webhook_url=monitoring_settings.chat_webhook_url,
                flavour=monitoring_settings.chat_flavour,
                topic_arn=alarm_topic.topic_arn,
                stack=settings.stack,
                app=settings.app_name,
                image_ref=image.image_ref,
                log_retention_days=service_settings.log_retention_days,
                tags=tags,
            ),
        )
    DeployEvents(
        prefix,
        DeployEventsArgs(
            service_arn=service.service_arn, topic_arn=alarm_topic.topic_arn, tags=tags
        ),
    )
    monitoring = Monitoring(
        prefix,
        monitoring_args(
            monitoring_settings,
            topic_arn=alarm_topic.topic_arn,
            cluster_name=cluster.cluster_name,
            service_name=service.service_name,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=load_balancer.target_group_arn_suffix,
            min_count=service_settings.min_count,
            deployment_alarm_arns=deployment_alarms.alarm_arns,
            other_alarm_arns=app_database.alarm_arns if app_database is not None else [],
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
        "clusterName": cluster.cluster_name,
        "clusterArn": cluster.cluster_arn,
        "serviceName": service.service_name,
        "logGroupName": task.log_group_name,
        "loadBalancerDnsName": load_balancer.dns_name,
        "alarmTopicArn": alarm_topic.topic_arn,
        "dashboardName": monitoring.dashboard_name,
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "taskSecurityGroupId": task.security_group_id,
        "taskRoleArn": task.task_role_arn,
        **({"certificateArn": certificate.certificate_arn} if certificate is not None else {}),
        **(
            {
                # ECS Exec into one task (pick its id from `aws ecs list-tasks`).
                "remoteConsoleCommand": pulumi.Output.concat(
                    "aws ecs execute-command --interactive --container ",
                    TASK_CONTAINER_NAME,
                    " --cluster ",
                    cluster.cluster_name,
                    " --task <task-id> --command '",
                    remote_console(settings.image.release_name),
                    "'",
                )
            }
            if settings.service.enable_execute_command
            else {}
        ),
        **(
            {
                "databaseEndpoint": app_database.address,
                "databaseUrlSecretArn": app_database.url_secret_arn,
            }
            if app_database is not None
            else {}
        ),
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
        image_args(settings.image, registry.repository_url),
        opts=pulumi.ResourceOptions(depends_on=[registry]),
    )
    secrets = AppSecrets(prefix, AppSecretsArgs())
    database = settings.database
    local_db = (
        local_database.Database(
            prefix,
            local_database.DatabaseArgs(
                engine_version=database.engine_version,
                database_name=database.name,
                username=database.username,
                network_name=network.network_name,
                host_port=local.database_port,
                bind_address=local.bind_address,
                labels=labels,
            ),
        )
        if database.mode == "postgres"
        else None
    )
    service = local_service.ContainerService(
        prefix,
        local_service_args(
            settings.service,
            local,
            database,
            image_ref=image.image_ref,
            network_name=network.network_name,
            app_secrets=secrets,
            database_url=local_db.url if local_db is not None else None,
            labels=labels,
        ),
    )
    monitoring = local_monitoring.Monitoring(
        prefix,
        local_monitoring.MonitoringArgs(
            job_name=settings.app_name,
            app_addresses=service.internal_addresses,
            network_name=network.network_name,
            metrics_path=settings.monitoring.metrics_path,
            prometheus_port=local.prometheus_port,
            grafana_port=local.grafana_port,
            bind_address=local.bind_address,
            alertmanager_port=local.alertmanager_port,
            chat_flavour=settings.monitoring.chat_flavour,
            chat_webhook_url=settings.monitoring.chat_webhook_url,
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
        "alertmanagerUrl": monitoring.alertmanager_url,
        "grafanaUrl": monitoring.grafana_url,
        "grafanaAdminPassword": monitoring.grafana_admin_password,
        "networkName": network.network_name,
        "appContainerName": service.container_name,
        "remoteConsoleCommand": pulumi.Output.concat(
            "docker exec -it ",
            service.container_name,
            " ",
            remote_console(settings.image.release_name),
        ),
        "registryContainerName": registry.container_name,
        "prometheusContainerName": monitoring.prometheus_container_name,
        "grafanaContainerName": monitoring.grafana_container_name,
        "alertmanagerContainerName": monitoring.alertmanager_container_name,
        **(
            {
                "databaseContainerName": local_db.container_name,
                "databaseVolumeName": local_db.volume_name,
                "databaseUrl": local_db.local_url,
            }
            if local_db is not None
            else {}
        ),
    }


BUILDERS: Mapping[str, Callable[[Settings], Outputs]] = {"aws": build_aws, "local": build_local}


def build(settings: Settings) -> Outputs:
    return BUILDERS[settings.target](settings)
