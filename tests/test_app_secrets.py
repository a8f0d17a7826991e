"""AppSecrets: what a Phoenix release needs, random per stack, and secret everywhere."""

from __future__ import annotations

import pulumi

from components.app_secrets import AppSecrets, AppSecretsArgs
from tests.harness import run_components


def test_secret_key_base_is_as_long_as_phx_gen_secret_and_both_stay_secret() -> None:
    secrecy: dict[str, bool] = {}

    def build() -> list[pulumi.Output[object]]:
        secrets = AppSecrets("s", AppSecretsArgs())
        return [
            pulumi.Output.from_input(output.is_secret()).apply(
                lambda v, key=key: secrecy.setdefault(key, v)
            )
            for key, output in (
                ("key", secrets.secret_key_base),
                ("cookie", secrets.release_cookie),
            )
        ]

    run = run_components(build)
    lengths = {
        r.name: r.inputs["length"]
        for r in run.of_type("random:index/randomPassword:RandomPassword")
    }
    assert lengths == {"s-secret-key-base": 86, "s-release-cookie": 48}
    # Alphanumeric only: safe in env files, shells and the Erlang cookie file.
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        assert password.inputs["special"] is False
    assert secrecy == {"key": True, "cookie": True}
