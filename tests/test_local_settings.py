"""Settings of the local target: defaults, validation, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml

import settings
from tests.local_support import image_overrides

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"


@pytest.fixture
def base(tmp_path: Path) -> dict[str, str]:
    return image_overrides(tmp_path)


def load(base: dict[str, str], **values: object) -> settings.Settings:
    return settings.load("local", {**base, **values})


def test_defaults(base: dict[str, str]) -> None:
    local = load(base).local
    assert (local.app_port, local.registry_port, local.prometheus_port, local.grafana_port) == (
        4000,
        5000,
        9090,
        3000,
    )
    assert local.bind_address == "127.0.0.1"
    assert local.grafana_admin_password is None
    assert dict(local.secrets) == {}


def test_every_declared_key_has_a_default() -> None:
    """A key declared without a default is required by the Pulumi CLI."""
    declared = yaml.safe_load(PROJECT_FILE.read_text())["config"]
    assert [key for key, value in declared.items() if "default" not in value] == []
    local_keys = (*settings.common.LOCAL_PORT_KEYS, "localMemoryMb", "localCpus")
    for key in (*local_keys, "grafanaAdminPassword"):
        assert declared[key]["description"], key


def test_clashing_ports_name_both_keys(base: dict[str, str]) -> None:
    with pytest.raises(settings.ConfigError) as error:
        load(base, localPrometheusPort=4000, localGrafanaPort=4000)
    message = str(error.value)
    assert (
        "localGrafanaPort = 4000: host port already used by localAppPort, localPrometheusPort"
        in (message)
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("localAppPort", 80),
        ("localRegistryPort", 70000),
        ("localMemoryMb", 0),
        ("localCpus", "0"),
        ("localCpus", "-1"),
        ("localCpus", "lots"),
        ("localLogMaxFiles", 0),
        ("localLogMaxSizeMb", -5),
    ],
)
def test_bad_values_are_refused_with_the_key(base: dict[str, str], key: str, value: object) -> None:
    with pytest.raises(settings.ConfigError, match=f"elixir-devops:{key} ="):
        load(base, **{key: value})


def test_all_problems_at_once(base: dict[str, str]) -> None:
    with pytest.raises(settings.ConfigError) as error:
        load(base, localAppPort=1, localCpus="x", localMemoryMb=1)
    assert len(error.value.problems) == 3


def test_local_secrets_stay_secret_and_reserved_names_are_refused(base: dict[str, str]) -> None:
    local = load(base, database="external", localSecrets={"DATABASE_URL": "postgres://x"}).local
    assert isinstance(local.secrets["DATABASE_URL"], pulumi.Output)
    # The stack's own PostgreSQL sets DATABASE_URL; your own comes with database: external.
    with pytest.raises(settings.ConfigError, match="localSecrets = 'DATABASE_URL'"):
        load(base, localSecrets={"DATABASE_URL": "postgres://x"})
    with pytest.raises(settings.ConfigError, match="with database: external, set DATABASE_URL"):
        load(base, database="external")
    with pytest.raises(settings.ConfigError, match="localSecrets = 'SECRET_KEY_BASE'"):
        load(base, localSecrets={"SECRET_KEY_BASE": "x"})
    with pytest.raises(settings.ConfigError, match="also set in environment"):
        load(base, localSecrets={"A": "x"}, environment={"A": "y"})


def test_secret_values_never_appear_in_errors(base: dict[str, str]) -> None:
    with pytest.raises(settings.ConfigError) as error:
        settings.load(
            "local",
            {**base, "localSecrets": {"bad name": "hunter2"}},
            secret_keys={"localSecrets"},
        )
    assert "hunter2" not in str(error.value)


def test_grafana_password_is_a_secret_output(base: dict[str, str]) -> None:
    password = load(base, grafanaAdminPassword="pw").local.grafana_admin_password
    assert isinstance(password, pulumi.Output)


def test_aws_only_settings_stay_valid_for_local(base: dict[str, str]) -> None:
    loaded = load(base, natGateways="perAz", cpu=512, memory=1024, fargateSpot=True)
    assert loaded.target == "local"
    assert loaded.service.cpu == 512
