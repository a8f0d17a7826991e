"""Typed, validating access to Pulumi stack configuration.

The one place that knows how the Pulumi CLI hands configuration to a program (strings, with
objects and arrays as JSON) and how project-level defaults are declared in ``Pulumi.yaml``.
Every problem is collected, then reported together in a single :class:`ConfigError` naming the
key, the value given and what is allowed, before any resource is registered.

Used by the main project's ``settings`` module and by ``bootstrap/``.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml

T = TypeVar("T")

_MISSING = object()


class ConfigError(pulumi.RunError):
    """Stack configuration the program refuses, with every problem listed.

    A subclass of ``pulumi.RunError``, so ``pulumi up`` prints the message without a traceback.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"Invalid stack configuration ({count} {noun}):\n{body}")


def load_project_config(project_file: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """The project name and its declared config keys (``config:`` of ``Pulumi.yaml``)."""
    document = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    declared: dict[str, dict[str, Any]] = {}
    for key, declaration in (document.get("config") or {}).items():
        declared[key] = declaration if isinstance(declaration, dict) else {"default": declaration}
    return str(document["name"]), declared


def cli_value(value: Any) -> str:
    """A YAML/JSON value in the string form the Pulumi CLI gives the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def current_stack_config(namespace: str) -> tuple[dict[str, str], frozenset[str]]:
    """The running program's config for ``namespace``: values by bare key, and the secret keys."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{namespace}:"
    values = {k[len(prefix) :]: v for k, v in merged.items() if k.startswith(prefix)}
    secrets = frozenset(k for k in values if runtime_config.is_config_secret(prefix + k))
    return values, secrets


class ConfigReader:
    """Reads keys of one namespace, validating each, collecting problems instead of raising.

    ``values`` are what the stack sets (CLI string form, or native YAML values in tests);
    ``declared`` are the ``Pulumi.yaml`` declarations whose defaults fill what the stack leaves
    out, exactly as the Pulumi CLI does before it starts the program.
    """

    def __init__(
        self,
        namespace: str,
        values: Mapping[str, Any],
        declared: Mapping[str, Mapping[str, Any]],
        secret_keys: Collection[str] = (),
    ) -> None:
        self.namespace = namespace
        self._values = dict(values)
        self._declared = declared
        self._secret_keys = frozenset(secret_keys)
        self._read: set[str] = set()
        self.problems: list[str] = []

    # -- reporting ---------------------------------------------------------------------------

    def problem(self, key: str, value: Any, allowed: str) -> None:
        shown = "<secret>" if key in self._secret_keys else repr(value)
        self.problems.append(f"{self.namespace}:{key} = {shown}: {allowed}")

    def secret_string(self, key: str, *, pattern: str, allowed: str) -> pulumi.Output[str] | None:
        """A string that is a credential (e.g. a webhook URL with its token): never echoed in
        a problem, refused unless set with ``--secret``, returned as a secret Output."""
        plain = key not in self._secret_keys
        self._secret_keys = self._secret_keys | {key}
        value = self.optional_string(key, pattern=pattern, allowed=allowed)
        if value is None:
            return None
        if plain and self.is_set(key):
            self.problem(key, value, f"set it with `pulumi config set --secret {key} ...`")
        return pulumi.Output.secret(value)

    def require(self, condition: bool, key: str, value: Any, allowed: str) -> None:
        """Records a cross-key rule's problem when ``condition`` is false."""
        if not condition:
            self.problem(key, value, allowed)

    def check_unknown_keys(self, extra_known: Collection[str] = ()) -> None:
        """Flags keys the stack sets that nothing reads: almost always a typo."""
        known = set(self._declared) | self._read | set(extra_known)
        for key in sorted(set(self._values) - known):
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {self.namespace}:{close[0]}?" if close else "not a setting"
            self.problem(key, self._values[key], f"unknown key ({hint})")

    def raise_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    # -- raw access --------------------------------------------------------------------------

    def _raw(self, key: str) -> Any:
        self._read.add(key)
        if key in self._values:
            return self._values[key]
        return self._declared.get(key, {}).get("default", _MISSING)

    def is_set(self, key: str) -> bool:
        """Whether the stack itself sets ``key`` (defaults do not count)."""
        return key in self._values

    def _structured(self, key: str, raw: Any) -> Any:
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                self.problem(key, raw, "expected a YAML list or object (JSON in the CLI)")
                return _MISSING
        return raw

    def structured(self, key: str, *, default: Any) -> Any:
        """A list or object value as given (YAML) or parsed (the CLI's JSON); ``default`` when
        unset or unparseable (the problem is then recorded)."""
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            return default
        parsed = self._structured(key, raw)
        return default if parsed is _MISSING else parsed

    # -- typed readers -----------------------------------------------------------------------

    def string(
        self,
        key: str,
        *,
        choices: Collection[str] | None = None,
        pattern: str | None = None,
        allowed: str = "",
        default: str | None = None,
    ) -> str:
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            if default is not None:
                return default
            self.problem(key, None, f"required; {allowed or 'set a value'}")
            return ""
        value = str(raw)
        if choices is not None and value not in choices:
            self.problem(key, value, f"allowed values: {', '.join(choices)}")
        elif pattern is not None and not re.fullmatch(pattern, value):
            self.problem(key, value, allowed or f"must match {pattern}")
        return value

    def optional_string(
        self, key: str, *, pattern: str | None = None, allowed: str = ""
    ) -> str | None:
        """A string where absent or empty means "not set"."""
        raw = self._raw(key)
        if raw is _MISSING or raw is None or raw == "":
            return None
        value = str(raw)
        if pattern is not None and not re.fullmatch(pattern, value):
            self.problem(key, value, allowed or f"must match {pattern}")
        return value

    def integer(
        self,
        key: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        choices: Collection[int] | None = None,
        default: int | None = None,
    ) -> int:
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            if default is not None:
                return default
            self.problem(key, None, "required; a whole number")
            return minimum or 0
        try:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(raw)
        except (TypeError, ValueError):
            self.problem(key, raw, "must be a whole number")
            return minimum or 0
        if choices is not None and value not in choices:
            self.problem(key, value, f"allowed values: {', '.join(map(str, sorted(choices)))}")
        elif (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum}"
            high = "" if maximum is None else f"{maximum}"
            self.problem(key, value, f"must be between {low or '-inf'} and {high or 'inf'}")
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            if default is not None:
                return default
            self.problem(key, None, "required; true or false")
            return False
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        self.problem(key, raw, "must be true or false")
        return False

    def string_list(
        self,
        key: str,
        *,
        item: Callable[[str], str | None] | None = None,
        min_items: int = 0,
    ) -> tuple[str, ...]:
        """A list of strings; ``item`` returns a message for an invalid element."""
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            raw = []
        parsed = self._structured(key, raw)
        if parsed is _MISSING:
            return ()
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            self.problem(key, raw, "must be a list of strings")
            return ()
        for element in parsed:
            message = item(element) if item else None
            if message:
                self.problem(key, element, message)
        if len(parsed) < min_items:
            self.problem(key, parsed, f"needs at least {min_items} item(s)")
        return tuple(parsed)

    def string_map(
        self,
        key: str,
        *,
        name_pattern: str | None = None,
        name_allowed: str = "",
        value: Callable[[str], str | None] | None = None,
        mask_values: bool = False,
    ) -> dict[str, str]:
        """An object of string to string; scalar values are taken as their string form.

        ``mask_values``: problems name the entry but never echo its value (a credential pasted
        where an ARN belongs must not end up in CI logs)."""
        raw = self._raw(key)
        if raw is _MISSING or raw is None:
            return {}
        parsed = self._structured(key, raw)
        if parsed is _MISSING:
            return {}
        if not isinstance(parsed, dict):
            self.problem(key, raw, "must be an object of names to strings")
            return {}
        result: dict[str, str] = {}
        for name, element in parsed.items():
            if element is None:
                continue  # a null value means "unset"; keeping it would churn the deployment
            if isinstance(element, (dict, list)):
                self.problem(key, {name: element}, "values must be strings, not lists or objects")
                continue
            text = cli_value(element)
            if name_pattern is not None and not re.fullmatch(name_pattern, str(name)):
                self.problem(key, name, name_allowed or f"names must match {name_pattern}")
            message = value(text) if value else None
            if message:
                shown = f"<value hidden, {len(text)} characters>" if mask_values else text
                self.problem(key, {name: shown}, message)
            result[str(name)] = text
        return dict(sorted(result.items()))

    def secret(self, key: str) -> pulumi.Output[str] | None:
        """A value that must stay secret: wrapped as a secret Output, or None when unset."""
        raw = self._raw(key)
        if raw is _MISSING or raw is None or raw == "":
            return None
        return pulumi.Output.secret(str(raw))


def cidr_problem(value: str) -> str | None:
    """None for an IPv4 CIDR block such as 10.0.0.0/16, else what is wrong."""
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        return f"must be an IPv4 CIDR block like 10.0.0.0/16 ({error})"
    return None
