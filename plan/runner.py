"""Runs the program of a stack offline, under the mocks, in a fresh interpreter.

The Pulumi runtime is process-global, so each run gets its own ``python plan/run_program.py``.
No Pulumi CLI, cloud account or Docker engine is involved: what the engine would register is
recorded by :class:`plan.mocks.RecordingMonitor` and printed as JSON.

``project_dir`` is the checkout whose program runs (another commit's worktree for a
comparison); the runner and the mocks always come from this checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plan.mocks import Recorded
from scripts.pr_env import TEMPLATE, pr_number

PROJECT_DIR = Path(__file__).resolve().parent.parent
PR_TEMPLATE = TEMPLATE.relative_to(PROJECT_DIR)
"""The committed template of the ``pr-<number>`` stacks (docs/ci.md)."""
PROJECT = "elixir-devops"
RUN_PROGRAM = Path(__file__).resolve().parent / "run_program.py"


def stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The committed stacks: one ``Pulumi.<stack>.yaml`` each."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def stack_file_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The ``config:`` of ``Pulumi.<stack>.yaml`` with full (namespaced) keys."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    template = project_dir / PR_TEMPLATE
    if not path.is_file() and pr_number(stack) is not None and template.is_file():
        # A pull-request stack: CI materialises its file from the committed template.
        path = template
    if not path.is_file():
        raise StackNotFound(stack, stacks(project_dir))
    document = yaml.safe_load(path.read_text()) or {}
    return dict(document.get("config") or {})


class StackNotFound(Exception):
    def __init__(self, stack: str, known: list[str]) -> None:
        super().__init__(
            f"no stack file Pulumi.{stack}.yaml; the committed stacks are {', '.join(known)}"
        )


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    resources: list[Recorded]
    outputs: dict[str, Any]
    error: str | None = None
    secret_outputs: list[str] = field(default_factory=list)
    """Stack outputs exported as secrets (``outputs`` holds them unwrapped)."""
    warnings: list[str] = field(default_factory=list)
    """What ``pulumi up`` would print as warnings (``pulumi.log.warn``)."""


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    remove: Iterable[str] = (),
    secrets: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> dict[str, Any]:
    """The stack file's config with ``overrides``/``secrets`` (bare project keys) set and the
    ``remove`` keys dropped."""
    config = stack_file_config(stack, project_dir)
    for key in remove:
        config.pop(f"{PROJECT}:{key}", None)
    config |= {f"{PROJECT}:{k}": v for k, v in (overrides or {}).items()}
    config |= {f"{PROJECT}:{k}": v for k, v in (secrets or {}).items()}
    return config


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    *,
    preview: bool = False,
    project_dir: Path = PROJECT_DIR,
    timeout: float = 300,
) -> ProgramRun:
    """Runs ``project_dir/__main__.py`` for ``stack`` with this full (namespaced) config.

    ``preview`` runs it the way ``pulumi preview`` does. A program error (a ConfigError, an
    exception in the program) comes back as ``error``; a crash of the runner raises.
    """
    completed = subprocess.run(
        [
            sys.executable,
            str(RUN_PROGRAM),
            stack,
            "--project-dir",
            str(project_dir),
            *(["--preview"] if preview else []),
        ],
        input=json.dumps({"config": dict(config), "secret_keys": list(secret_keys)}),
        capture_output=True,
        text=True,
        cwd=project_dir,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise RuntimeError(
            f"program run for stack {stack} crashed ({completed.returncode}):\n{completed.stderr}"
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return ProgramRun(
        [Recorded(**r) for r in result["resources"]],
        result["outputs"],
        result["error"],
        result.get("secret_outputs", []),
        result.get("warnings", []),
    )
