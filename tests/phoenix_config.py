"""A Phoenix app's config files read by Elixir itself (tests/phoenix_config.exs), not by regexes:
which environment variables ``runtime.exs`` reads and requires, what it configures under a
given environment, and which paths ``force_ssl`` excludes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.app_release import require_tool

SCRIPT = Path(__file__).resolve().parent / "phoenix_config.exs"


@dataclass(frozen=True)
class EnvReads:
    read: frozenset[str]
    """Every variable the file reads."""
    required: frozenset[str]
    """Those it raises without (``fetch_env!``, ``get_env(...) || raise``)."""


class ConfigRaised(AssertionError):
    """The config file raised while evaluated (its first message line is the message)."""


def _elixir(
    mode: str, path: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    elixir = require_tool("elixir")
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    return subprocess.run(
        [elixir, str(SCRIPT), mode, str(path)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def env_reads(runtime_exs: Path) -> EnvReads:
    result = _elixir("env-reads", runtime_exs)
    assert result.returncode == 0, result.stderr
    pairs = [line.split(" ", 1) for line in result.stdout.splitlines() if line]
    return EnvReads(
        read=frozenset(name for _, name in pairs),
        required=frozenset(name for kind, name in pairs if kind == "required"),
    )


def evaluate(runtime_exs: Path, env: Mapping[str, str]) -> dict[str, str]:
    """``"<app> <key> <field>" -> inspected value`` of the endpoint/repo settings the file
    makes in prod with exactly ``env`` (plus PATH/HOME); raises :class:`ConfigRaised`."""
    result = _elixir("eval", runtime_exs, env)
    if result.returncode == 2:
        raise ConfigRaised(result.stdout.strip().removeprefix("raised "))
    assert result.returncode == 0, result.stderr
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        app, key, field, value = line.split(" ", 3)
        settings[f"{app} {key} {field}"] = value
    return settings


def force_ssl_exclusions(prod_exs: Path) -> dict[str, list[str]]:
    """``{"paths": [...], "hosts": [...]}`` of ``force_ssl: [exclude: ...]`` in prod."""
    result = _elixir("force-ssl", prod_exs)
    assert result.returncode == 0, result.stderr
    exclusions: dict[str, list[str]] = {"paths": [], "hosts": []}
    for line in result.stdout.splitlines():
        kind, item = line.split(" ", 1)
        exclusions[kind].append(item)
    return exclusions
