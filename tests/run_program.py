"""Runs ``__main__.py`` for one stack under the mocks; prints one JSON line with the result.

Usage: ``python -m tests.run_program <stack> [--preview]`` with ``{"config": <the stack's full
config>, "secret_keys": [...]}`` (JSON) on stdin. ``--preview`` runs it as ``pulumi preview``
would (unknown outputs stay unknown, and the image build returns what pulumi-docker returns in
a preview: a local image id, nothing pushed).
Used by :func:`tests.harness.run_stack`, one fresh interpreter per run.
"""

from __future__ import annotations

import json
import logging
import runpy
import sys
from typing import Any

import pulumi

from config_reader import cli_value
from tests.harness import PROJECT, PROJECT_DIR
from tests.mocks import AwsLikeMocks, RecordingMonitor, unwrap


class EngineLog(logging.Handler):
    """Keeps the messages the engine would print as warnings."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.warnings.append(record.getMessage())


def main(
    stack: str, config: dict[str, Any], secret_keys: list[str], preview: bool = False
) -> dict[str, Any]:
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
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
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
    result = main(
        sys.argv[1],
        request["config"],
        request["secret_keys"],
        preview="--preview" in sys.argv[2:],
    )
    print(json.dumps(result, default=str))
