"""Shared fixtures: one mocked program run per committed stack file, reused by every test."""

from __future__ import annotations

import pytest

from tests.harness import STACKS, Registered, run_stack, stack_file_config

AWS_STACKS = [s for s in STACKS if stack_file_config(s).get("elixir-devops:target") == "aws"]

_RUNS: dict[str, Registered] = {}


def stack_run(stack: str) -> Registered:
    """The program's registrations for a committed stack (run once per test session)."""
    if stack not in _RUNS:
        _RUNS[stack] = run_stack(stack)
        assert _RUNS[stack].error is None, _RUNS[stack].error
    return _RUNS[stack]


@pytest.fixture(params=AWS_STACKS)
def aws_run(request: pytest.FixtureRequest) -> Registered:
    return stack_run(request.param)
