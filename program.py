"""The program's composition: which components each target builds, in dependency order.

``__main__.py`` calls :func:`build` with validated settings and exports what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.aws.network import Network, NetworkArgs
from components.aws.registry import ContainerRegistry, ContainerRegistryArgs
from components.aws.service import ContainerService, ContainerServiceArgs
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
        ),
    )
    return {
        "target": settings.target,
        "url": service.url,
        "registryUrl": registry.repository_url,
        "image": image.image_ref,
        "clusterName": service.cluster_name,
        "serviceName": service.service_name,
        "logGroupName": service.log_group_name,
        "loadBalancerDnsName": service.load_balancer_dns_name,
    }


def build_local(settings: Settings) -> Outputs:
    raise NotImplementedError("the local target is not built yet")


BUILDERS: Mapping[str, Callable[[Settings], Outputs]] = {"aws": build_aws, "local": build_local}


def build(settings: Settings) -> Outputs:
    return BUILDERS[settings.target](settings)
