"""Stack settings: every config key read once, validated, returned as frozen dataclasses.

One module per unit (``image``, ``registry``, ``network``, ``service``, ``local``,
``monitoring``), each with its dataclass and reader; ``common`` holds the patterns they share.
Components never read ``pulumi.Config``; ``__main__.py`` calls :func:`from_pulumi` and the
composition hands each component the values it uses. A bad value stops the program with one
:class:`ConfigError` that lists every problem (key, value, what is allowed) before a single
resource is registered. Defaults live in ``Pulumi.yaml`` only.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pulumi

from config_reader import ConfigError, ConfigReader, current_stack_config
from settings.common import (
    ARCHITECTURES,
    AUTO_ARCHITECTURE,
    NAME_PATTERN,
    OBJECT_KEYS,
    PR_STACK_PATTERN,
    PR_STACK_PREFIX,
    PROJECT_DIR,
    TARGETS,
    generated_name_problem,
    longest_pr_number,
    project_config,
    resolve_architecture,
)
from settings.database import DatabaseSettings, read_database
from settings.image import ImageSettings, read_image
from settings.local import LocalSettings, read_local
from settings.monitoring import MonitoringSettings, read_monitoring
from settings.network import NetworkSettings, read_network
from settings.registry import RegistrySettings, read_registry
from settings.service import ServiceSettings, read_service

__all__ = [
    "ConfigError",
    "DatabaseSettings",
    "ImageSettings",
    "LocalSettings",
    "MonitoringSettings",
    "NetworkSettings",
    "RegistrySettings",
    "ServiceSettings",
    "Settings",
    "from_pulumi",
    "load",
]


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, for one stack."""

    project: str
    stack: str
    target: Literal["local", "aws"]
    app_name: str
    tags: Mapping[str, str]
    retain_on_delete: bool
    image: ImageSettings
    registry: RegistrySettings
    network: NetworkSettings
    service: ServiceSettings
    monitoring: MonitoringSettings
    local: LocalSettings
    database: DatabaseSettings

    @property
    def resource_prefix(self) -> str:
        """``<app>-<stack>``: the prefix of every physical name."""
        return f"{self.app_name}-{self.stack}"


def load(
    stack: str,
    values: Mapping[str, Any],
    *,
    secret_keys: Collection[str] = (),
    project_dir: Path | None = None,
) -> Settings:
    """Settings from a stack's raw values (CLI strings or native YAML values).

    Defaults come from ``Pulumi.yaml``. Raises :class:`ConfigError` listing every problem.
    """
    project_name, declared_keys = project_config()
    reader = ConfigReader(project_name, values, declared_keys, secret_keys)
    target = reader.string("target", choices=TARGETS)
    app_name = reader.string(
        "appName",
        pattern=NAME_PATTERN,
        allowed="3-20 characters: lowercase letters, digits and '-', starting with a letter",
    )
    is_pr_stack = stack.startswith(PR_STACK_PREFIX)
    if is_pr_stack and not re.fullmatch(PR_STACK_PATTERN, stack):
        reader.problems.append(
            f"stack = {stack!r}: a pull-request stack is named {PR_STACK_PREFIX}<number> "
            f"(the pull request's number, 1-7 digits, no leading zero), e.g. {PR_STACK_PREFIX}123"
        )
    elif target == "aws" and (problem := generated_name_problem(app_name, stack)):
        if is_pr_stack:
            digits = longest_pr_number(app_name)
            problem += (
                f"; pull-request stacks of this appName fit up to {digits} digits"
                if digits
                else "; no pull-request stack fits: shorten appName in the PR template"
            )
        reader.problem("appName", app_name, problem)
    architecture = resolve_architecture(
        reader.string("architecture", choices=(*ARCHITECTURES, AUTO_ARCHITECTURE)), target
    )
    tags = reader.string_map("tags", name_pattern=r"[\w.:/=+\-@ ]{1,128}")
    service = read_service(reader, architecture)
    if is_pr_stack and service.hosted_zone_id is not None:
        reader.problem(
            "hostedZoneId",
            service.hosted_zone_id,
            "not on a pull-request stack: the PR role may not write DNS records (docs/ci.md); "
            "a PR environment serves on its load balancer's name",
        )
    settings = Settings(
        project=project_name,
        stack=stack,
        target="aws" if target == "aws" else "local",
        app_name=app_name,
        tags=MappingProxyType(
            {
                **tags,
                "app": app_name,
                "stack": stack,
                "managed-by": "pulumi",
                "project": project_name,
            }
        ),
        retain_on_delete=reader.boolean("retainOnDelete"),
        image=read_image(reader, project_dir or PROJECT_DIR, architecture),
        registry=read_registry(reader),
        network=read_network(reader),
        service=service,
        local=read_local(reader, service),
        monitoring=read_monitoring(reader),
        database=read_database(
            reader,
            target=target,
            max_count=service.max_count,
            secret_names=tuple(service.secret_arns),
        ),
    )
    if target == "local" and settings.database.mode != "none":
        given = "DATABASE_URL" in settings.local.secrets
        if settings.database.mode == "external" and not given:
            reader.problem(
                "localSecrets",
                sorted(settings.local.secrets),
                "with database: external, set DATABASE_URL here (pulumi config set --secret "
                "--path 'localSecrets.DATABASE_URL' ecto://...)",
            )
        elif settings.database.mode == "postgres" and given:
            reader.problem(
                "localSecrets",
                "DATABASE_URL",
                "set by the stack's own PostgreSQL; use database: external for your own",
            )
    monitoring = settings.monitoring
    if (
        target == "local"
        and monitoring.chat_webhook_url
        and monitoring.chat_flavour == "googlechat"
    ):
        reader.problem(
            "chatFlavour",
            "googlechat",
            "the local Alertmanager has no Google Chat receiver: slack, teams or discord here "
            "(aws stacks post to Google Chat through the forwarder)",
        )
    if target == "aws" and settings.local.secrets:
        reader.problem(
            "localSecrets",
            sorted(settings.local.secrets),
            "applies to the local target only; on aws give the app secrets through `secrets` "
            "(Secrets Manager or SSM ARNs)",
        )
    reader.check_unknown_keys(OBJECT_KEYS)
    reader.raise_if_problems()
    return settings


def from_pulumi() -> Settings:
    """Settings of the running stack, from the configuration the Pulumi CLI passed in."""
    values, secret_keys = current_stack_config(project_config()[0])
    return load(pulumi.get_stack(), values, secret_keys=secret_keys)


def __getattr__(name: str) -> Any:
    """``PROJECT_NAME`` and ``DECLARED_KEYS`` read ``Pulumi.yaml`` when first asked for."""
    if name == "PROJECT_NAME":
        return project_config()[0]
    if name == "DECLARED_KEYS":
        return project_config()[1]
    raise AttributeError(name)
