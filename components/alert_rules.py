"""The app's Prometheus alerting rules (pure functions, no resources).

One committed file, :data:`RULES_PATH` (``monitoring/prometheus/rules/elixir-app.yml``), serves
both targets:

- local: mount :data:`RULES_DIR` into the Prometheus container and list the file in
  ``rule_files`` (``components.observability.prometheus_config(..., rule_files=[...])``);
- aws: :func:`rule_group_yaml` is the ``data`` of an Amazon Managed Service for Prometheus rule
  groups namespace, which takes the same Prometheus rule-file YAML.

The expressions never name a ``job`` value, so the file is the same for every stack whatever
its ``appName``; they select PromEx's default metric names with ``{__name__=~".+_prom_ex_..."}``
(``components.observability.prom_ex_name_pattern``), so it is the same whatever the app's
``otp_app``. ``tests/test_alert_rules.py`` checks it with the real ``promtool`` against the
fixtures in :data:`RULE_TESTS_DIR`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = REPO_ROOT / "monitoring" / "prometheus" / "rules"
"""Folder of rule files; mount it in the local Prometheus container."""
RULES_PATH = RULES_DIR / "elixir-app.yml"
"""The app's alerting rules, in Prometheus rule-file format."""
RULE_TESTS_DIR = REPO_ROOT / "monitoring" / "prometheus" / "tests"
"""``promtool test rules`` fixtures for :data:`RULES_PATH`."""

SEVERITIES: tuple[str, ...] = ("page", "ticket")
"""Values of every alert's ``severity`` label: page (act now) or ticket (working hours)."""


def rule_group_yaml(path: Path = RULES_PATH) -> str:
    """The rule file's text, unchanged: the ``data`` of an AMP rule groups namespace."""
    return path.read_text(encoding="utf-8")


def load_rules(path: Path = RULES_PATH) -> dict[str, Any]:
    """The rule file parsed: ``{"groups": [{"name": ..., "rules": [...]}, ...]}``."""
    document = yaml.safe_load(rule_group_yaml(path))
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError(f"{path}: a Prometheus rule file needs a top-level 'groups' list")
    return document


def iter_alert_rules(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every alerting rule (those with ``alert:``, not recording rules) of every group."""
    for group in document["groups"]:
        for rule in group.get("rules", []):
            if "alert" in rule:
                yield rule


def alert_names(path: Path = RULES_PATH) -> tuple[str, ...]:
    """Names of the alerts in the rule file, in file order."""
    return tuple(rule["alert"] for rule in iter_alert_rules(load_rules(path)))
