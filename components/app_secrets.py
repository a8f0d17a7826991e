"""AppSecrets: the per-stack secrets a Phoenix release needs at boot.

Creates two ``random.RandomPassword`` values kept (encrypted) in the stack state: a
``SECRET_KEY_BASE`` of 86 characters (what ``mix phx.gen.secret`` prints for 64 random bytes)
and a ``RELEASE_COOKIE`` for Erlang distribution. Both targets use them; neither is ever a
stack output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

SECRET_KEY_BASE_LENGTH = 86
RELEASE_COOKIE_LENGTH = 48


@dataclass(frozen=True)
class AppSecretsArgs:
    rotation_token: str = "1"
    """Change to generate new values (signs every user out; reconnects the cluster)."""


class AppSecrets(pulumi.ComponentResource):
    secret_key_base: pulumi.Output[str]
    release_cookie: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:index:AppSecrets", name, None, opts)
        keepers = {"rotation": args.rotation_token}
        key_base = random.RandomPassword(
            f"{name}-secret-key-base",
            length=SECRET_KEY_BASE_LENGTH,
            special=False,
            keepers=keepers,
            opts=pulumi.ResourceOptions(parent=self),
        )
        cookie = random.RandomPassword(
            f"{name}-release-cookie",
            length=RELEASE_COOKIE_LENGTH,
            special=False,
            keepers=keepers,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_key_base = pulumi.Output.secret(key_base.result)
        self.release_cookie = pulumi.Output.secret(cookie.result)
        self.register_outputs({})
