"""Every input the program passes is an argument of the installed provider SDKs.

Mocks accept any input name; an SDK release that lacks one fails at construction time (or, for
a dict, silently drops it). ``requirements.txt``'s lower bounds are the oldest releases this
test passes with: raising a bound is the fix when it fails after a downgrade.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import re
from functools import cache

import pytest

from tests.conftest import stack_run
from tests.harness import STACKS, Registered, run_stack

# Options the committed stacks leave off, so that their resources are checked too.
EXTRA_RUNS = {
    "dev": {
        "managedPrometheus": True,
        "managedGrafana": True,
        "alarmEmails": ["ops@example.com"],
        "alarmSqsQueueArn": "arn:aws:sqs:eu-west-1:123456789012:alarms",
        "registryPullAccountIds": ["210987654321"],
        "enableExecuteCommand": True,
        "domain": "app.example.com",
        "certificateArn": (
            "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        ),
    }
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def sdk_arguments(token: str) -> frozenset[str]:
    """Argument names of the SDK class registering ``token`` (``aws:ecs/service:Service``)."""
    package, module_path, class_name = re.fullmatch(r"(\w+):([\w/]+):(\w+)", token).groups()  # type: ignore[union-attr]
    module = module_path.split("/")[0]
    module = f"{module}_" if keyword.iskeyword(module) else module  # lambda -> lambda_
    sdk = importlib.import_module(
        f"pulumi_{package}" if module == "index" else f"pulumi_{package}.{_snake(module)}"
    )
    resource_class = getattr(sdk, class_name)
    return frozenset(inspect.signature(resource_class._internal_init).parameters) - {"self"}


def _runs() -> list[tuple[str, Registered]]:
    runs = [(stack, stack_run(stack)) for stack in STACKS]
    runs += [(f"{stack}+options", run_stack(stack, overrides=o)) for stack, o in EXTRA_RUNS.items()]
    return runs


def test_every_input_of_every_resource_is_an_argument_of_the_installed_sdk() -> None:
    unknown: list[str] = []
    checked = 0
    for label, run in _runs():
        assert run.error is None, run.error
        for resource in run.custom():
            arguments = sdk_arguments(resource.type)
            for name in resource.inputs:
                checked += 1
                if _snake(name) not in arguments and name not in arguments:
                    unknown.append(f"{label}: {resource.type} has no argument {name!r}")
    assert checked > 500
    assert not unknown, "\n".join(sorted(set(unknown)))


@pytest.mark.parametrize(
    ("token", "argument"),
    [
        ("aws:ecr/repository:Repository", "image_tag_mutability_exclusion_filters"),
        ("aws:ecs/service:Service", "force_new_deployment"),
    ],
)
def test_the_check_sees_arguments_the_program_relies_on(token: str, argument: str) -> None:
    assert argument in sdk_arguments(token)
    assert "no_such_argument" not in sdk_arguments(token)
