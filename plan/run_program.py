"""Runs ``__main__.py`` for one stack under the mocks; prints one JSON line with the result.

Usage: ``python plan/run_program.py <stack> [--project-dir DIR] [--preview]`` with
``{"config": <the stack's full config>, "secret_keys": [...]}`` (JSON) on stdin. ``--preview``
runs it as ``pulumi preview`` would (unknown outputs stay unknown, and the image build returns
what pulumi-docker returns in a preview: a local image id, nothing pushed). ``--project-dir``
is the checkout whose program runs (default: this one); the mocks are always this checkout's.
Used by :func:`plan.runner.run_program`, one fresh interpreter per run.
"""

from __future__ import annotations

import json
import logging
import runpy
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run by file path: this checkout's root, for the tool's own modules (plan.*) only.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import pulumi

from plan.mocks import AwsLikeMocks, RecordingMonitor, unwrap

PROJECT = "elixir-devops"
TOOL_ROOT = Path(__file__).resolve().parent.parent


def _import_program_from(project_dir: Path) -> None:
    """The program's modules (settings, components, ...) come from ``project_dir`` - another
    commit's worktree for a comparison - never from this checkout, which leaves the path (the
    mocks are already imported)."""
    others = [p for p in sys.path if Path(p or ".").resolve() not in (project_dir, TOOL_ROOT)]
    sys.path[:] = [str(project_dir), *others]


class EngineLog(logging.Handler):
    """Keeps the messages the engine would print as warnings."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.warnings.append(record.getMessage())


def main(
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str],
    preview: bool = False,
    project_dir: Path | None = None,
) -> dict[str, Any]:
    project_dir = project_dir or TOOL_ROOT
    _import_program_from(project_dir)
    from config_reader import cli_value

    mocks = AwsLikeMocks(preview=preview)
    monitor = RecordingMonitor(mocks)
    # What the program logs through pulumi.log reaches the mocks' engine, which hands it to
    # this logger: the warnings `pulumi up` would print.
    engine_log = EngineLog()
    logger = logging.getLogger(f"pulumi-engine-{stack}")
    logger.propagate = False
    logger.addHandler(engine_log)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, logger=logger
    )
    pulumi.runtime.set_all_config(
        {key: cli_value(value) for key, value in config.items()}, secret_keys
    )
    outputs: dict[str, Any] = {}
    secret_outputs: list[str] = []
    error: str | None = None

    @pulumi.runtime.test
    def program() -> list[pulumi.Input[object]]:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
        # pulumi.export keeps the stack outputs on the root stack resource.
        exported = dict(getattr(pulumi.runtime.get_root_resource(), "outputs", {}) or {})

        async def secret_names() -> None:
            for name, value in exported.items():
                if isinstance(value, pulumi.Output) and await value.is_secret():
                    secret_outputs.append(name)

        # In a preview, unknown outputs never resolve: the callback does not run, as in the CLI.
        values = pulumi.Output.all(**exported).apply(lambda v: outputs.update(unwrap(v or {})))
        return [values, secret_names()]

    try:
        program()
    except pulumi.RunError as exc:
        error = str(exc)
    return {
        "resources": [r.to_json() for r in monitor.recorded()],
        "outputs": outputs,
        "secret_outputs": sorted(secret_outputs),
        "error": error,
        "warnings": engine_log.warnings,
    }


if __name__ == "__main__":
    request = json.load(sys.stdin)
    arguments = sys.argv[2:]
    result = main(
        sys.argv[1],
        request["config"],
        request["secret_keys"],
        preview="--preview" in arguments,
        project_dir=Path(arguments[arguments.index("--project-dir") + 1]).resolve()
        if "--project-dir" in arguments
        else None,
    )
    print(json.dumps(result, default=str))
