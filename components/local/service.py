"""ContainerService (local): the app as one container on the Docker engine.

Creates one ``docker.Container`` running the image by digest: the container port published on
``127.0.0.1:<localAppPort>``, restart ``unless-stopped``, a Docker health check on the health
path, the environment and secret variables it is given (the composition gives it the same
runtime environment as on Fargate, ``components.runtime``), memory and CPU limits, rotated
json-file logs, and a stop timeout longer than the app's drain.
``pulumi up`` waits until the container reports healthy, so a release that cannot boot fails
the deployment instead of leaving it green.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.local.containers import (
    container_labels,
    env_list,
    network_attachment,
    pinned_image,
    stack_container,
)
from components.proxy_config import DnsServerTemplate, HealthCheck, haproxy_config
from components.runtime import WRITABLE_DIR, cluster_environment
from components.urns import component_options

PUBLIC_HOST = "localhost"
"""PHX_HOST and the URL's host: the port is published on loopback only."""
NETWORK_ALIAS = "app"
HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTH_CHECK_TIMEOUT_SECONDS = 3
HEALTH_CHECK_RETRIES = 3
PROXY_IMAGE = "haproxy:3.2.4"
PROXY_CONFIG_FILE = "/usr/local/etc/haproxy/haproxy.cfg"
# `pulumi up` waits this much longer than the grace period before declaring the app unhealthy.
WAIT_MARGIN_SECONDS = 30


def health_check_script(port: int, path: str) -> str:
    """A bash-only HTTP probe: succeeds when ``GET path`` on ``port`` answers status 200.

    The runtime image is Debian slim: no curl, no wget. Booting a second BEAM for
    ``bin/<release> rpc`` every few seconds would cost more than the app itself, so the probe
    speaks HTTP/1.0 over bash's ``/dev/tcp`` and reads the status line with builtins only.
    ``path`` is restricted by the settings to ``[A-Za-z0-9/_.-~%]``, safe inside quotes.
    """
    return (
        f"exec 3<>/dev/tcp/127.0.0.1/{port}"
        f" && printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' '{path}' >&3"
        " && IFS=' ' read -r _ status _ <&3"
        # A reason phrase is optional (RFC 9112), so drop whatever follows the digits ("\r").
        ' && [ "${status%%[!0-9]*}" = 200 ]'
    )


def health_check_command(port: int, path: str) -> list[str]:
    """Docker's ``HEALTHCHECK CMD`` form (no shell of Docker's own around it)."""
    return ["CMD", "bash", "-c", health_check_script(port, path)]


def health_check(port: int, path: str, grace_seconds: int) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=health_check_command(port, path),
        interval=f"{HEALTH_CHECK_INTERVAL_SECONDS}s",
        timeout=f"{HEALTH_CHECK_TIMEOUT_SECONDS}s",
        retries=HEALTH_CHECK_RETRIES,
        start_period=f"{grace_seconds}s",
        start_interval="2s",
    )


def log_options(max_size_mb: int, max_files: int) -> dict[str, str]:
    """json-file rotation: without it a chatty container fills the Docker host's disk."""
    return {"max-size": f"{max_size_mb}m", "max-file": str(max_files)}


def container_environment(
    environment: Mapping[str, str | None], secrets: Mapping[str, str]
) -> dict[str, str]:
    """The plain variables (``None`` dropped) plus the secret ones, as one mapping."""
    plain = {name: value for name, value in environment.items() if value is not None}
    return {**plain, **secrets}


@dataclass(frozen=True)
class ContainerServiceArgs:
    image_ref: pulumi.Input[str]
    """The image to run, pinned by digest."""
    network_name: pulumi.Input[str]
    """The stack's private network (Prometheus scrapes the app there)."""
    container_port: int
    """Port the app listens on inside the container."""
    host_port: int
    """Published port on the Docker host: the app answers on ``http://localhost:<host_port>``."""
    bind_address: str
    """Host address the port is published on."""
    health_check_path: str
    """Path the Docker health check probes; must answer 200."""
    health_check_grace_period_seconds: int
    """Failing probes do not count during this long after a start (and ``up`` waits longer)."""
    stop_timeout_seconds: int
    """How long Docker waits after SIGTERM before SIGKILL (longer than the app's drain)."""
    memory_mb: int
    """Hard memory limit of the container, MiB."""
    cpus: str
    """CPU limit (``docker run --cpus``), a decimal number."""
    log_max_size_mb: int
    """json-file log rotation: size of one file, MiB."""
    log_max_files: int
    """json-file log rotation: files kept."""
    environment: Mapping[str, str | None] = field(default_factory=dict)
    """Plain environment variables (``None`` dropped): the runtime ones, the app's own."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Variables whose values stay secret (in the state and in ``docker inspect``'s eyes)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags, as Docker labels."""
    migrate_command: Sequence[str] | None = None
    """Run to completion with the new image before the app container is replaced; a non-zero
    exit fails ``pulumi up`` and leaves the running app as it was. None - no migrations."""
    replicas: int = 1
    """App containers. With more than one they share the network alias (Docker's DNS answers
    it with every replica, as Cloud Map does on aws), form one Erlang cluster, and an haproxy
    container publishes the port instead of the app."""
    distribution_port: int = 4370
    """Erlang distribution's one port between replicas (no EPMD)."""


def migration_succeeded(
    exit_code: int | None, logs: str | None, command: Sequence[str], urn: str = ""
) -> bool:
    """True when the migration container exited 0; otherwise the update stops with its exit
    code, its output and how to run it again (pulumi-docker records the exit code in the state
    but does not fail on it, so an unchanged image would not rerun a failed migration)."""
    if exit_code == 0:
        return True
    if exit_code is None and pulumi.runtime.is_dry_run():
        return False  # previews do not run it
    raise pulumi.RunError(
        f"migrations failed: `{' '.join(command)}` exited with {exit_code}; the app container "
        "was left as it was. A fixed migration in a new image runs on the next `make up`; to "
        f"rerun the same image: make up ARGS='--replace {urn}'. Output:\n{logs or '(none)'}"
    )


class ReadOnlyRoot(TypedDict):
    read_only: bool
    tmpfs: Mapping[str, str]


def read_only_root() -> ReadOnlyRoot:
    """As on Fargate: the image cannot be changed at run time, /tmp is the one writable path
    (a tmpfs here; components.runtime points RELEASE_TMP and ERL_CRASH_DUMP at it)."""
    return ReadOnlyRoot(read_only=True, tmpfs={WRITABLE_DIR: "rw,nosuid,nodev,size=256m"})


class ContainerService(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """``http://localhost:<localAppPort>``."""
    container_name: pulumi.Output[str]
    internal_address: pulumi.Output[str]
    """``<container name>:<container port>``: the (first) app on the private network."""
    internal_addresses: pulumi.Output[list[str]]
    """Every replica's ``<container name>:<container port>`` (Prometheus scrapes each)."""

    def __init__(
        self, name: str, args: ContainerServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:local:ContainerService",
            name,
            None,
            component_options(opts, "elixir-devops:index:ContainerService"),
        )
        environment = dict(args.environment)
        envs = pulumi.Output.secret(
            pulumi.Output.all(**args.secrets).apply(
                lambda values: env_list(container_environment(environment, values or {}))
            )
        )
        image = pinned_image(f"{name}-app-image", args.image_ref, self)
        if args.migrate_command:
            envs = self._migrate_first(name, args, image, envs)
        replicated = args.replicas > 1
        containers = [
            self._app_container(
                f"{name}-app" if index == 0 else f"{name}-app-{index + 1}",
                args,
                image,
                envs,
                replicated,
            )
            for index in range(args.replicas)
        ]
        if replicated:
            self._create_proxy(name, args, containers)
        container = containers[0]
        self.url = pulumi.Output.from_input(f"http://{PUBLIC_HOST}:{args.host_port}")
        self.container_name = container.name
        port = args.container_port
        self.internal_address = container.name.apply(
            lambda container_name: f"{container_name}:{port}"
        )
        self.internal_addresses = pulumi.Output.all(*(c.name for c in containers)).apply(
            lambda names: [f"{n}:{port}" for n in names]
        )
        self.register_outputs(
            {
                "url": self.url,
                "container_name": self.container_name,
                "internal_address": self.internal_address,
                "internal_addresses": self.internal_addresses,
            }
        )

    def _app_container(
        self,
        name: str,
        args: ContainerServiceArgs,
        image: docker.RemoteImage,
        envs: pulumi.Output[list[str]],
        replicated: bool,
    ) -> docker.Container:
        """One replica ``name`` (the first keeps the name, and the URN, of the single
        container)."""
        shared = stack_container(
            network_name=args.network_name,
            alias=NETWORK_ALIAS,
            internal_port=args.container_port,
            host_port=args.host_port,
            bind_address=args.bind_address,
            tags=args.labels,
        )
        if replicated:
            # The proxy publishes the port; the replicas find each other by the alias.
            shared["ports"] = []
            cluster = env_list(cluster_environment(NETWORK_ALIAS, args.distribution_port))
            envs = envs.apply(lambda entries: sorted([*entries, *cluster]))
        return docker.Container(
            name,
            name=name,
            image=image.image_id,
            envs=envs,
            **shared,
            healthcheck=health_check(
                args.container_port,
                args.health_check_path,
                args.health_check_grace_period_seconds,
            ),
            wait=True,
            wait_timeout=args.health_check_grace_period_seconds + WAIT_MARGIN_SECONDS,
            memory=args.memory_mb,
            cpus=args.cpus,
            log_driver="json-file",
            log_opts=log_options(args.log_max_size_mb, args.log_max_files),
            # Longer than the app's SHUTDOWN_DRAIN_MS, so in-flight requests finish on replace.
            stop_timeout=args.stop_timeout_seconds,
            destroy_grace_seconds=args.stop_timeout_seconds,
            # An init process reaps zombies and forwards SIGTERM, as on Fargate.
            init=True,
            **read_only_root(),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_proxy(
        self, name: str, args: ContainerServiceArgs, replicas: Sequence[docker.Container]
    ) -> docker.Container:
        """haproxy in front of the replicas, with the ALB's health checks; it resolves the
        alias through Docker's DNS, so a replaced replica is picked up without a restart."""
        image = pinned_image(f"{name}-proxy-image", PROXY_IMAGE, self)
        config = haproxy_config(
            bind_address="0.0.0.0",
            bind_port=args.container_port,
            servers=DnsServerTemplate(NETWORK_ALIAS, args.container_port, slots=args.replicas),
            health_check=HealthCheck(path=args.health_check_path),
        )
        return docker.Container(
            f"{name}-proxy",
            name=f"{name}-proxy",
            image=image.image_id,
            uploads=[docker.ContainerUploadArgs(file=PROXY_CONFIG_FILE, content=config)],
            **stack_container(
                network_name=args.network_name,
                alias="proxy",
                internal_port=args.container_port,
                host_port=args.host_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            stop_timeout=args.stop_timeout_seconds,
            # The port changes hands only once every replica is healthy.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(replicas)),
        )

    def _migrate_first(
        self,
        name: str,
        args: ContainerServiceArgs,
        image: docker.RemoteImage,
        envs: pulumi.Output[list[str]],
    ) -> pulumi.Output[list[str]]:
        """A one-off container of the new image runs the migrations (replaced, so run again,
        whenever the image changes); the app's environment resolves only after it exited 0."""
        command = list(args.migrate_command or ())
        migrate = docker.Container(
            f"{name}-migrate",
            name=f"{name}-migrate",
            image=image.image_id,
            command=command,
            envs=envs,
            networks_advanced=[network_attachment(args.network_name, "migrate")],
            labels=container_labels(args.labels),
            # Run once to completion and keep the exit code and output: no restarts.
            must_run=False,
            attach=True,
            logs=True,
            restart="no",
            init=True,
            **read_only_root(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        succeeded = pulumi.Output.all(migrate.exit_code, migrate.container_logs, migrate.urn).apply(
            lambda v: migration_succeeded(v[0], v[1], command, v[2])
        )
        return pulumi.Output.all(envs, succeeded).apply(lambda v: v[0])
