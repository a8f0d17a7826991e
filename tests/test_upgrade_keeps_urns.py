"""An existing stack upgraded to this version replaces and deletes nothing.

``tests/golden/urns-<stack>.txt`` holds every URN each committed stack registered before the
units were reshaped (recorded with ``python -m tests.record_urns``, URNs as the engine builds
them). Each cloud (custom) resource among them must still be registered, or be an alias of a
registered resource of the same type: otherwise ``pulumi up`` would delete the old resource and
create a new one. A component that was split into units (``ContainerService``) may disappear: it
owns nothing in the cloud, the engine only drops its entry from the state.
"""

from __future__ import annotations

from collections import Counter

import pulumi
import pytest

from components.urns import LEGACY_SERVICE_TYPE
from plan.mocks import engine_urn
from tests.conftest import stack_run
from tests.harness import STACKS, run_components
from tests.record_urns import golden_file


def _type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


@pytest.mark.parametrize("stack", STACKS)
def test_every_recorded_urn_is_still_registered_or_aliased(stack: str) -> None:
    recorded = golden_file(stack).read_text().split()
    # Renamed components keep their URNs too (their aliases are what children inherit).
    golden = [urn for urn in recorded if _type(urn) != LEGACY_SERVICE_TYPE]
    run = stack_run(stack)
    claimed: Counter[str] = Counter()
    type_of: dict[str, str] = {}
    for resource in run.resources:
        for urn in {resource.urn, *resource.aliases}:
            claimed[urn] += 1
            type_of[urn] = resource.type
    missing = [urn for urn in golden if urn not in claimed]
    assert not missing, f"{stack}: an upgrade would delete and recreate:\n" + "\n".join(missing)
    # A cloud resource whose type changes is replaced; components change type through aliases.
    retyped = [
        urn
        for urn in golden
        if type_of[urn] != _type(urn) and not _type(urn).startswith("elixir-devops:")
    ]
    assert not retyped, f"{stack}: resources whose type changed (a replacement): {retyped}"
    shared = [urn for urn in golden if claimed[urn] > 1]
    assert not shared, f"{stack}: old URNs claimed by more than one resource: {shared}"


def test_engine_urns_carry_the_whole_parent_chain_and_children_inherit_aliases() -> None:
    """The monitor derives URNs and aliases the way the engine does, or the test above would
    compare URNs no real stack holds."""

    class Outer(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("test:new:Outer", name, None, opts)
            inner = pulumi.ComponentResource(
                "test:index:Inner", f"{name}-inner", None, pulumi.ResourceOptions(parent=self)
            )
            pulumi.CustomResource(
                "aws:s3/bucket:Bucket", f"{name}-bucket", {}, pulumi.ResourceOptions(parent=inner)
            )
            self.register_outputs({})

    run = run_components(
        lambda: [
            Outer("app", pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="test:old:Outer")])).urn
        ]
    )
    bucket = run.one("aws:s3/bucket:Bucket")
    assert bucket.urn == engine_urn(
        "test",
        "elixir-devops",
        engine_urn(
            "test",
            "elixir-devops",
            engine_urn("test", "elixir-devops", "", "test:new:Outer", "app"),
            "test:index:Inner",
            "app-inner",
        ),
        "aws:s3/bucket:Bucket",
        "app-bucket",
    )
    assert bucket.urn.endswith("::test:new:Outer$test:index:Inner$aws:s3/bucket:Bucket::app-bucket")
    assert (
        "urn:pulumi:test::elixir-devops::test:old:Outer$test:index:Inner$aws:s3/bucket:Bucket"
        "::app-bucket"
    ) in bucket.aliases
