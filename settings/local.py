"""The local target's settings: containers on this machine's Docker engine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pulumi

from config_reader import ConfigReader
from settings.common import (
    CPUS_PATTERN,
    LOCAL_PORT_KEYS,
    read_environment_map,
    refuse_taken_names,
)
from settings.service import ServiceSettings


@dataclass(frozen=True)
class LocalSettings:
    """The local target: containers on the machine's Docker engine, ports on 127.0.0.1."""

    app_port: int
    """Host port of the app (the container still listens on ``containerPort``)."""
    registry_port: int
    """Host port of the ``registry:2`` container; images are pushed to ``localhost:<port>``."""
    prometheus_port: int
    grafana_port: int
    database_port: int
    """Host port of the local PostgreSQL."""
    alertmanager_port: int
    """Host port of the local Alertmanager."""
    replicas: int
    """App containers (more than one: a cluster behind haproxy)."""
    memory_mb: int
    """Hard memory limit of the app container, MiB."""
    cpus: str
    """CPU limit of the app container (``docker run --cpus``), a decimal number."""
    log_max_size_mb: int
    """json-file log rotation: size of one file, MiB."""
    log_max_files: int
    """json-file log rotation: files kept."""
    grafana_admin_password: pulumi.Output[str] | None
    """Grafana's admin password (secret); None - the program generates one."""
    secrets: Mapping[str, pulumi.Output[str]]
    """Extra environment variables for the app whose values stay secret (``localSecrets``)."""

    @property
    def bind_address(self) -> str:
        """Published ports listen on loopback only: nothing is reachable from the network."""
        return "127.0.0.1"


def read_local(reader: ConfigReader, service: ServiceSettings) -> LocalSettings:
    ports = {key: reader.integer(key, minimum=1024, maximum=65535) for key in LOCAL_PORT_KEYS}
    for port in sorted(set(ports.values())):
        clashing = [key for key, value in ports.items() if value == port]
        if len(clashing) > 1:
            reader.problem(
                clashing[-1], port, f"host port already used by {', '.join(clashing[:-1])}"
            )
    cpus = reader.string(
        "localCpus", pattern=CPUS_PATTERN, allowed="a positive number of CPUs, e.g. 1 or 0.5"
    )
    if re.fullmatch(CPUS_PATTERN, cpus) and float(cpus) <= 0:
        reader.problem("localCpus", cpus, "must be positive, e.g. 1 or 0.5")
    secrets = read_environment_map(reader, "localSecrets", mask_values=True)
    refuse_taken_names(reader, "localSecrets", secrets, environment=service.environment)
    return LocalSettings(
        app_port=ports["localAppPort"],
        registry_port=ports["localRegistryPort"],
        prometheus_port=ports["localPrometheusPort"],
        grafana_port=ports["localGrafanaPort"],
        database_port=ports["localDatabasePort"],
        alertmanager_port=ports["localAlertmanagerPort"],
        # The BEAM alone needs ~100 MiB; a smaller hard limit only produces OOM kills.
        memory_mb=reader.integer("localMemoryMb", minimum=128, maximum=1_048_576),
        cpus=cpus,
        replicas=reader.integer("localReplicas", minimum=1, maximum=10),
        log_max_size_mb=reader.integer("localLogMaxSizeMb", minimum=1, maximum=1024),
        log_max_files=reader.integer("localLogMaxFiles", minimum=1, maximum=100),
        grafana_admin_password=reader.secret("grafanaAdminPassword"),
        secrets=MappingProxyType(
            {name: pulumi.Output.secret(value) for name, value in secrets.items()}
        ),
    )
