"""Runs components or the whole program under the mocks, and returns what was registered.

Two ways, for two needs:
- :func:`run_components` runs a function that builds components in this process and returns
  once every registration has completed (so assertions never race the engine).
- :func:`run_stack` runs ``__main__.py`` for a committed stack file in a fresh interpreter
  (the Pulumi runtime is process-global; :mod:`plan.runner`, the same run ``make plan`` does),
  with that file's config, and returns resources, stack outputs and the error, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from plan.mocks import AwsLikeMocks, Recorded, RecordingMonitor
from plan.runner import (
    PROJECT,
    PROJECT_DIR,
    ProgramRun,
    run_program,
    stack_config,
    stack_file_config,
    stacks,
)
from settings import Settings
from settings import load as settings_load
from settings.common import project_config

__all__ = ["PROJECT", "PROJECT_DIR", "Recorded", "stack_file_config"]
COMPONENT_TAGS = {"stack": "test", "managed-by": "pulumi"}
"""Tags handed to components in component-level tests."""
SERVICE_UNIT = "elixir-devops:aws:Service"
TASK_UNIT = "elixir-devops:aws:FargateTask"
STACKS = stacks()


def project_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """Only this project's keys, without the namespace (what settings.load takes)."""
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def configure(target: str = "aws", **values: Any) -> Settings:
    """Settings as a stack with these config values (camelCase keys) would have them: every
    other key takes its default from ``Pulumi.yaml``, the one place defaults live."""
    return settings_load("test", {"target": target, **values})


@dataclass
class Registered(ProgramRun):
    """What a run registered (a :class:`plan.runner.ProgramRun`), with lookups by type, by name
    and by parent component."""

    prefix: str = ""
    """``<appName>-<stack>`` of a stack run: the name of the stack's own units (the web
    Service, its FargateTask, the LoadBalancer, ...); empty for component runs."""

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str) -> Recorded:
        found = self.of_type(token)
        assert len(found) == 1, f"expected one {token}, got {[r.urn for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        return next(r for r in self.resources if r.urn == urn)

    def custom(self) -> list[Recorded]:
        return [r for r in self.resources if r.custom]

    def under(self, component_type: str, name: str) -> Registered:
        """Every resource below the component ``component_type`` named ``name``, at any depth
        (children, their children, ...), as a run of its own for the same lookups."""
        roots = [r for r in self.resources if r.type == component_type and r.name == name]
        assert len(roots) == 1, f"expected one {component_type} {name!r}, got {len(roots)}"
        found: list[Recorded] = []
        frontier = {roots[0].urn}
        while frontier:
            level = [r for r in self.resources if r.parent in frontier]
            found += level
            frontier = {r.urn for r in level}
        return Registered(found, {}, prefix=self.prefix)


def unit(run: Registered, component_type: str) -> Registered:
    """The resources of the stack's own unit of that type (the one named ``<app>-<stack>``)."""
    return run.under(component_type, run.prefix)


def web_service(run: Registered) -> Registered:
    """The web ``Service`` unit: ECS service, autoscaling (not the task, nor other services)."""
    return unit(run, SERVICE_UNIT)


def web_task(run: Registered) -> Registered:
    """The web ``FargateTask`` unit: task definition, roles, log group, security group."""
    return unit(run, TASK_UNIT)


_MONITOR: RecordingMonitor | None = None


def _monitor(stack: str) -> RecordingMonitor:
    global _MONITOR
    if _MONITOR is None:
        _MONITOR = RecordingMonitor(AwsLikeMocks())
        pulumi.runtime.set_mocks(
            AwsLikeMocks(), project=PROJECT, stack=stack, preview=False, monitor=_MONITOR
        )
    return _MONITOR


def run_components(build: Callable[[], Iterable[pulumi.Output[Any]] | None]) -> Registered:
    """Runs ``build`` under the mocks and waits for every registration it caused.

    A ``pulumi.RunError`` (such as a ConfigError) is returned as ``error``, with whatever was
    registered before it.
    """
    monitor = _monitor("test")
    monitor.clear()

    # pulumi.runtime.test clears the runtime's pending work, runs the program and returns once
    # the Output it returns has resolved and every registration has reached the monitor.
    @pulumi.runtime.test
    def program() -> pulumi.Output[list[Any]]:
        return pulumi.Output.all(*(build() or []))

    error: str | None = None
    try:
        program()
    except pulumi.RunError as exc:
        error = str(exc)
    return Registered(monitor.recorded(), {}, error)


def run_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    remove: Iterable[str] = (),
    *,
    preview: bool = False,
    secrets: Mapping[str, Any] | None = None,
) -> Registered:
    """Runs the program for ``stack`` in a subprocess with its stack file's config.

    ``overrides`` are extra project keys (bare names), ``remove`` keys dropped from the file;
    ``secrets`` are keys set with ``pulumi config set --secret``; ``preview`` runs it the way
    ``pulumi preview`` does.
    """
    config = stack_config(stack, overrides, remove, secrets)
    try:
        run = run_program(
            stack, config, [f"{PROJECT}:{k}" for k in (secrets or {})], preview=preview
        )
    except RuntimeError as exc:
        raise AssertionError(str(exc)) from exc
    app_name = config.get(f"{PROJECT}:appName", project_config()[1]["appName"]["default"])
    return Registered(**vars(run), prefix=f"{app_name}-{stack}")
