"""Test helpers: the real ``promtool`` and Grafana variable interpolation for dashboard queries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.app_release import require_tool

# What Grafana substitutes before sending a dashboard query: "All" jobs and a rate window.
GRAFANA_TEST_VARIABLES: dict[str, str] = {"job": ".*", "__rate_interval": "1m"}

_VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::[^}]*)?\}|\$(?P<bare>[A-Za-z0-9_]+)")


def interpolate(expr: str, variables: dict[str, str] = GRAFANA_TEST_VARIABLES) -> str:
    """``expr`` with Grafana ``$var``/``${var}`` references replaced; unknown ones fail loudly."""

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if name not in variables:
            raise KeyError(f"dashboard query uses Grafana variable ${name} the tests do not know")
        return variables[name]

    return _VARIABLE.sub(substitute, expr)


def promtool() -> str:
    """Path of the real ``promtool``; fails (never skips) the test when it is not installed."""
    return require_tool("promtool", "install it with `apt-get install prometheus`")


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``promtool`` with ``args``, capturing output."""
    return subprocess.run(
        [promtool(), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
