"""Runs ``__main__.py`` for one stack under the mocks; prints one JSON line with the result.

Usage: ``python -m tests.run_program <stack> [--preview]`` with the stack's full config (JSON) on
stdin. ``--preview`` runs it as ``pulumi preview`` would (unknown outputs stay unknown, and the
image build returns what pulumi-docker returns in a preview: a local image id, nothing pushed).
Used by :func:`tests.harness.run_stack`, one fresh interpreter per run.
"""

from __future__ import annotations

import json
import runpy
import sys
from typing import Any

import pulumi
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from config_reader import cli_value
from tests.harness import PROJECT, PROJECT_DIR
from tests.mocks import AwsLikeMocks, RecordingMonitor, unwrap


def main(stack: str, config: dict[str, Any], preview: bool = False) -> dict[str, Any]:
    mocks = AwsLikeMocks(preview=preview)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config({key: cli_value(value) for key, value in config.items()}, [])
    outputs: dict[str, Any] = {}
    secret_outputs: list[str] = []
    error: str | None = None

    async def program() -> None:
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        root = get_root_resource()
        exported = dict(getattr(root, "outputs", {}) or {})
        resolved = await pulumi.Output.all(**exported).future() if exported else {}
        outputs.update(unwrap(resolved or {}))
        for name, value in exported.items():
            if isinstance(value, pulumi.Output) and await value.is_secret():
                secret_outputs.append(name)

    try:
        _sync_await(run_pulumi_func(lambda: _sync_await(program())))
    except pulumi.RunError as exc:
        error = str(exc)
    return {
        "resources": [r.to_json() for r in monitor.recorded()],
        "outputs": outputs,
        "secret_outputs": sorted(secret_outputs),
        "error": error,
    }


if __name__ == "__main__":
    result = main(sys.argv[1], json.load(sys.stdin), preview="--preview" in sys.argv[2:])
    print(json.dumps(result, default=str))
