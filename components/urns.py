"""Keeping existing stacks' URNs when a component is renamed or its children move.

A URN is the identity of a resource in a stack's state: a new URN means the engine deletes the
old resource and creates a new one. ``tests/test_upgrade_keeps_urns.py`` proves every URN a
committed stack held is still registered or aliased.
"""

from __future__ import annotations

import pulumi

LEGACY_SERVICE_TYPE = "elixir-devops:index:ContainerService"
"""The one aws component that held the cluster, task and service before they became units."""


def component_options(
    opts: pulumi.ResourceOptions | None, *former_types: str
) -> pulumi.ResourceOptions:
    """``opts`` plus aliases for the type tokens this component had before (children inherit
    them, so one alias keeps a whole subtree)."""
    aliases = [pulumi.Alias(type_=former) for former in former_types]
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases))


def former_parent(parent_type: str, parent_name: str) -> pulumi.Alias:
    """An alias for a child that lived under another (top-level) component before."""
    urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{parent_type}::{parent_name}"
    return pulumi.Alias(parent=urn)
