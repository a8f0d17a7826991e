"""Database (local): PostgreSQL in a container, its data in a named volume kept across
``make down``.

Creates: a generated password (in the encrypted stack state, never printed); the data volume
(``retainOnDelete``: ``make down`` leaves it, ``docker volume rm <databaseVolumeName>`` wipes
it); the pinned ``postgres`` container on the stack's network (alias ``db``), its port on
127.0.0.1 only, SCRAM passwords, a ``pg_isready`` health check that ``pulumi up`` waits for.
Exposes the ``DATABASE_URL`` the app container reads (a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.database_url import database_url
from components.local.containers import env_list, pinned_image, stack_container

POSTGRES_PORT = 5432
NETWORK_ALIAS = "db"
DATA_PATH = "/var/lib/postgresql/data"
# Pinned patch releases of the official image, one per major version the settings offer.
POSTGRES_IMAGES = {
    "14": "postgres:14.19-bookworm",
    "15": "postgres:15.14-bookworm",
    "16": "postgres:16.10-bookworm",
    "17": "postgres:17.6-bookworm",
}
PASSWORD_LENGTH = 32
WAIT_TIMEOUT_SECONDS = 120


def health_check_command(username: str, database: str) -> list[str]:
    """``pg_isready`` against the server's own TCP socket (not only the Unix one the image's
    init phase serves, so "healthy" means clients on the network can connect)."""
    return ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", username, "-d", database]


@dataclass(frozen=True)
class DatabaseArgs:
    engine_version: str
    """PostgreSQL major version (the image tag)."""
    database_name: str
    """The app's database."""
    username: str
    """The role the app connects as."""
    network_name: pulumi.Input[str]
    """The stack's private network (the app reaches ``db:5432`` there)."""
    host_port: int
    """Port on 127.0.0.1 for psql and tools on this machine."""
    bind_address: str
    """Where the port is published (loopback)."""
    labels: Mapping[str, str]
    """The stack's tags, as Docker labels."""


class Database(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """DATABASE_URL for containers on the stack's network (secret)."""
    container_name: pulumi.Output[str]
    volume_name: pulumi.Output[str]
    local_url: pulumi.Output[str]
    """The same database from this machine (``localhost:<localDatabasePort>``; secret)."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:local:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(
            f"{name}-db-password", length=PASSWORD_LENGTH, special=False, opts=child
        )
        volume = docker.Volume(
            f"{name}-pgdata",
            name=f"{name}-pgdata",
            labels=[
                docker.VolumeLabelArgs(label=key, value=value)
                for key, value in sorted(args.labels.items())
            ],
            # `make down` keeps the data; wiping it is a deliberate `docker volume rm`. Labels
            # force a new volume, and Docker hands back the kept one with its old labels:
            # without ignoring them every `up` would plan that replacement again.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, ignore_changes=["labels"]
            ),
        )
        image = pinned_image(f"{name}-postgres-image", POSTGRES_IMAGES[args.engine_version], self)
        environment = password.result.apply(
            lambda secret: env_list(
                {
                    "POSTGRES_USER": args.username,
                    "POSTGRES_PASSWORD": secret,
                    "POSTGRES_DB": args.database_name,
                    # What RDS does since PostgreSQL 14: SCRAM for every password.
                    "POSTGRES_INITDB_ARGS": "--auth-host=scram-sha-256",
                }
            )
        )
        container = docker.Container(
            f"{name}-postgres",
            name=f"{name}-postgres",
            image=image.image_id,
            envs=pulumi.Output.secret(environment),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_PATH)],
            **stack_container(
                network_name=args.network_name,
                alias=NETWORK_ALIAS,
                internal_port=POSTGRES_PORT,
                host_port=args.host_port,
                bind_address=args.bind_address,
                tags=args.labels,
            ),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_check_command(args.username, args.database_name),
                interval="5s",
                timeout="3s",
                retries=5,
                start_period="10s",
                start_interval="1s",
            ),
            wait=True,
            wait_timeout=WAIT_TIMEOUT_SECONDS,
            # PostgreSQL's smart shutdown on SIGTERM, with time to checkpoint.
            stop_timeout=30,
            opts=child,
        )

        def url(host: str, port: int) -> pulumi.Output[str]:
            return pulumi.Output.secret(
                password.result.apply(
                    lambda secret: database_url(
                        username=args.username,
                        password=secret,
                        host=host,
                        port=port,
                        database=args.database_name,
                        ssl=False,
                    )
                )
            )

        # The app waits for a healthy server: the URL is known once the container is.
        self.url = container.name.apply(lambda _: url(NETWORK_ALIAS, POSTGRES_PORT))
        self.local_url = url("localhost", args.host_port)
        self.container_name = container.name
        self.volume_name = volume.name
        self.register_outputs(
            {
                "url": self.url,
                "local_url": self.local_url,
                "container_name": self.container_name,
                "volume_name": self.volume_name,
            }
        )
