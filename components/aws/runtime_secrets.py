"""RuntimeSecrets (aws): secret values of the program itself, in one Secrets Manager secret.

Creates one JSON secret (``<name>/runtime-…``) holding the values it is given (e.g. Phoenix's
SECRET_KEY_BASE and the Erlang RELEASE_COOKIE) and exposes, per key, the ``valueFrom``
reference an ECS task reads it by. Values never reach a task definition, output or log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.urns import LEGACY_SERVICE_TYPE, former_parent


@dataclass(frozen=True)
class RuntimeSecretsArgs:
    values: Mapping[str, pulumi.Input[str]]
    """Key -> secret value; each key becomes a ``<secret ARN>:<key>::`` reference."""
    description: str
    """What the secret holds (shown in the console)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the secret."""


class RuntimeSecrets(pulumi.ComponentResource):
    secret_arn: pulumi.Output[str]
    references: dict[str, pulumi.Output[str]]
    """Key -> ECS ``valueFrom`` (``<secret ARN>:<key>::``)."""

    def __init__(
        self, name: str, args: RuntimeSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:RuntimeSecrets", name, None, opts)
        secret = aws.secretsmanager.Secret(
            f"{name}-runtime",
            name_prefix=f"{name}/runtime-",
            description=args.description,
            recovery_window_in_days=7,
            tags=dict(args.tags),
            # It was a child of ContainerService before the units were split.
            opts=pulumi.ResourceOptions(
                parent=self, aliases=[former_parent(LEGACY_SERVICE_TYPE, name)]
            ),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-runtime",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(dict(args.values)),
            opts=pulumi.ResourceOptions(parent=secret),
        )
        self.secret_arn = secret.arn
        self.references = {
            key: secret.arn.apply(lambda arn, key=key: f"{arn}:{key}::") for key in args.values
        }
        self.register_outputs({"secret_arn": self.secret_arn})
