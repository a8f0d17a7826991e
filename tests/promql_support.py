"""Test helpers: the real ``promtool`` and Grafana variable interpolation for dashboard queries."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.observability import PROM_EX_METRICS, iter_target_exprs, prom_ex_name_pattern
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


def dashboard_metric_names(dashboard: Mapping[str, Any]) -> set[str]:
    """Metric names used by the PromQL ``expr`` of every panel target."""
    names: set[str] = set()
    for _panel, expr in iter_target_exprs(dashboard):
        names |= promql_metric_names(expr)
    return names


def dashboard_name_patterns(dashboard: Mapping[str, Any]) -> set[str]:
    """``__name__=~`` regexes used by the PromQL ``expr`` of every panel target."""
    patterns: set[str] = set()
    for _panel, expr in iter_target_exprs(dashboard):
        patterns |= promql_name_patterns(expr)
    return patterns


PROM_EX_PATTERNS: frozenset[str] = frozenset(prom_ex_name_pattern(m) for m in PROM_EX_METRICS)
"""The only ``__name__`` regexes dashboards and alerts may use: PromEx metrics of any otp_app."""


def metric_contract_violations(expr: str, allowed_names: frozenset[str]) -> set[str]:
    """Names and ``__name__`` regexes of ``expr`` outside the contract (empty when it fits).

    A plain name must be in ``allowed_names`` (metrics no PromEx plugin has, ``up``); a regex
    must be one of :data:`PROM_EX_PATTERNS`, so a typo in a PromEx metric is caught even though
    the regex would happily match nothing.
    """
    return (promql_metric_names(expr) - allowed_names) | (
        promql_name_patterns(expr) - PROM_EX_PATTERNS
    )


def metric_references(expr: str) -> set[str]:
    """Every metric ``expr`` reads, as ``__name__`` matchers for a series query.

    A plain name ``x`` becomes ``{__name__="x"}``, a regex ``r`` ``{__name__=~"r"}``.
    """
    return {f'{{__name__="{name}"}}' for name in promql_metric_names(expr)} | {
        f'{{__name__=~"{pattern}"}}' for pattern in promql_name_patterns(expr)
    }


# --- a small PromQL tokenizer ------------------------------------------------------------------
# Enough of the lexer in prometheus/promql/parser/lex.go to tell metric names from everything
# else in dashboard queries. The real parser (promtool) checks the queries are valid; this only
# has to find the names, and tests pin down the tricky cases.

_AGGREGATORS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip
_KEYWORDS = frozenset(
    {"and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"}
)  # identifiers that are operators or literals, never metric names
_LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[A-Za-z0-9_]*)
  | (?P<identifier>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(expr: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of ``expr``, whitespace and comments dropped."""
    return [
        (match.lastgroup or "", match.group())
        for match in _TOKEN.finditer(expr)
        if match.lastgroup not in ("space", "comment")
    ]


def _unquote(literal: str) -> str:
    # Metric names are plain [A-Za-z0-9_:] words, so escape sequences never matter here.
    return literal[1:-1]


def promql_metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression.

    A metric name is an identifier that is not followed by ``(`` (a function or aggregation
    call), not an operator keyword, not inside ``{...}`` label matchers (label names), not in a
    ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right`` label list, and not in
    a ``[...]`` range. ``{__name__="x"}`` selectors count as ``x``. Grafana variables
    (``$job``, ``${__rate_interval}``) are skipped.
    """
    tokens = _tokens(expr)
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if text == "{":
            i = _read_matchers(tokens, i + 1, names)
            continue
        if text == "[":
            i = _skip_until(tokens, i + 1, "]")
            continue
        if kind == "identifier":
            keyword = text.lower()  # PromQL keywords are case-insensitive (lex.go)
            if keyword in _LABEL_LIST_KEYWORDS:
                i += 1
                if following == "(":
                    i = _skip_until(tokens, i + 1, ")")
                continue
            if following != "(" and keyword not in _KEYWORDS and keyword not in _AGGREGATORS:
                names.add(text)
        i += 1
    return names


def promql_name_patterns(expr: str) -> set[str]:
    """The regexes of ``{__name__=~"..."}`` matchers in a PromQL expression."""
    tokens = _tokens(expr)
    patterns: set[str] = set()
    depth = 0
    for i, (kind, text) in enumerate(tokens):
        if kind == "punct" and text == "{":
            depth += 1
        elif kind == "punct" and text == "}":
            depth -= 1
        elif (
            depth > 0
            and (kind, text) == ("identifier", "__name__")
            and i + 3 < len(tokens)
            and tokens[i + 1][1] == "="
            and tokens[i + 2][1] == "~"
            and tokens[i + 3][0] == "string"
        ):
            patterns.add(_unquote(tokens[i + 3][1]))
    return patterns


def _skip_until(tokens: list[tuple[str, str]], start: int, closing: str) -> int:
    """Index just past the first ``closing`` punctuation at or after ``start``."""
    i = start
    while i < len(tokens) and not (tokens[i][0] == "punct" and tokens[i][1] == closing):
        i += 1
    return i + 1


def _read_matchers(tokens: list[tuple[str, str]], start: int, names: set[str]) -> int:
    """Skip a ``{...}`` matcher list, adding names from ``__name__="x"`` equality matchers."""
    i = start
    while i < len(tokens) and tokens[i][1] != "}":
        if (
            tokens[i] == ("identifier", "__name__")
            and i + 2 < len(tokens)
            and tokens[i + 1][1] == "="
            and tokens[i + 2][0] == "string"
        ):
            names.add(_unquote(tokens[i + 2][1]))
            i += 3
            continue
        i += 1
    return i + 1


# --- promtool check metrics ----------------------------------------------------------------------

PROM_EX_LINT_HABITS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r'^\S+_count non-histogram and non-summary metrics should not have "_count" suffix$'
    ),
    re.compile(r'^\S+_milliseconds\S* use base unit "seconds" instead of "milliseconds"$'),
)
"""What ``promtool check metrics`` says about PromEx's own naming, which apps cannot change:
gauges named ``..._count`` (``beam_stats_process_count``) and durations in milliseconds."""


def check_metrics(exposition: str) -> list[str]:
    """``promtool check metrics`` on an exposition text: its lint findings, one per line.

    A text Prometheus cannot parse fails the test (promtool exits 1 with "error while linting");
    lint findings (exit 3) are returned for the caller to judge.
    """
    result = subprocess.run(
        [promtool(), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode not in (0, 3) or "error while linting" in output:
        raise AssertionError(
            f"promtool cannot parse the exposition (exit {result.returncode}):\n{output}"
        )
    findings = output.splitlines() if output else []
    assert (result.returncode == 3) == bool(findings), output
    return findings


def findings_beyond_prom_ex_habits(findings: list[str]) -> list[str]:
    """The lint findings that are not one of :data:`PROM_EX_LINT_HABITS`."""
    return [line for line in findings if not any(h.match(line) for h in PROM_EX_LINT_HABITS)]
