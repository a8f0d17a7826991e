"""Clustering of the real release: three nodes on their own loopback addresses find each other
through a real DNS server (dnsmasq) and form a full mesh; nodes leave and rejoin; a node with
another cookie is kept out. The set-up (tests/cluster_support.py) is the environment ECS gives
a task: RELEASE_NODE=<release>@<ip>, DNS_CLUSTER_QUERY, RELEASE_COOKIE, one distribution port.

Poll intervals are shortened (DNS_CLUSTER_INTERVAL_MS=300 instead of 5000) to keep this fast;
the behaviour is the same.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.app_release import RELEASE_NAME, build_release, http_get
from tests.cluster_support import NODE_ADDRESSES, OUTSIDER_ADDRESS, Cluster, running_cluster
from tests.sample import sample_only

pytestmark = sample_only()

INTERVAL_MS = 300
MESH_TIMEOUT_S = 15.0
"""Bound for a mesh to form or heal: 50 poll intervals, generous for a loaded CI machine."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster(NODE_ADDRESSES, interval_ms=INTERVAL_MS) as running:
        yield running


@pytest.fixture
def mesh(cluster: Cluster) -> Cluster:
    """The cluster with all three nodes running, in DNS and fully connected."""
    cluster.publish(NODE_ADDRESSES)
    for node in cluster.nodes:
        if not node.running:
            node.start()
    cluster.wait_for_mesh(timeout=MESH_TIMEOUT_S)
    return cluster


def test_nodes_in_dns_form_a_full_mesh_and_export_its_size(mesh: Cluster) -> None:
    names = {node.name for node in mesh.nodes}
    assert names == {f"{RELEASE_NAME}@{address}" for address in NODE_ADDRESSES}
    for node in mesh.nodes:
        state = node.cluster()
        assert state["node"] == node.name
        assert set(state["nodes"]) == names - {node.name}, "every other node, never itself"
        assert node.metric("beam_connected_nodes") == 2, node.name


def test_visits_served_by_each_node_are_seen_from_every_node(mesh: Cluster) -> None:
    before = mesh.nodes[0].cluster()["visits"]
    for count, node in enumerate(mesh.nodes, start=1):
        for _ in range(count):
            assert http_get(node.base_url + "/")[0] == 200

    expected = {node.name: before[node.name] + count for count, node in enumerate(mesh.nodes, 1)}
    for node in mesh.nodes:
        state = node.cluster()
        assert state["visits"] == expected, f"as seen from {node.name}"
        assert state["total_visits"] == sum(expected.values())
        assert state["unreachable"] == []


def test_a_node_removed_from_dns_and_stopped_drops_out_and_stays_out(mesh: Cluster) -> None:
    leaving, *staying = mesh.nodes
    mesh.publish([node.address for node in staying])

    assert leaving.stop() == 0, leaving.output()
    mesh.wait_for_mesh(staying, timeout=MESH_TIMEOUT_S)

    # Several polls later the survivors still do not look for it.
    time.sleep(5 * INTERVAL_MS / 1000)
    for node in staying:
        assert leaving.name not in node.peers()
        assert node.metric("beam_connected_nodes") == 1
        assert f"cluster: {leaving.name} left" in node.output(), node.output()


def test_a_restarted_node_rejoins_the_mesh(mesh: Cluster) -> None:
    restarted = mesh.nodes[1]
    assert restarted.stop() == 0, restarted.output()
    others = [node for node in mesh.nodes if node is not restarted]
    mesh.wait_for_mesh(others, timeout=MESH_TIMEOUT_S)

    restarted.start()

    mesh.wait_for_mesh(timeout=MESH_TIMEOUT_S)
    assert restarted.cluster()["visits"][restarted.name] == 0, "a new node, not the old one"


def test_a_node_with_another_cookie_is_refused(mesh: Cluster) -> None:
    outsider = mesh.node(OUTSIDER_ADDRESS, cookie="not-the-cluster-cookie")
    mesh.publish([*NODE_ADDRESSES, OUTSIDER_ADDRESS])
    try:
        outsider.start()
        # It has tried and been tried for many polls, in both directions.
        time.sleep(10 * INTERVAL_MS / 1000)

        assert outsider.peers() == set(), outsider.output()
        assert outsider.metric("beam_connected_nodes") == 0
        assert f"cannot connect to {mesh.nodes[0].name}" in outsider.output()
        for node in mesh.nodes:
            assert outsider.name not in node.peers(), node.name
            assert node.metric("beam_connected_nodes") == 2
        mesh.wait_for_mesh(timeout=MESH_TIMEOUT_S)
    finally:
        mesh.publish(NODE_ADDRESSES)
        if outsider.running:
            outsider.stop()
        outsider.kill()


def test_an_operator_rpc_reaches_a_node_on_the_single_distribution_port(mesh: Cluster) -> None:
    """`bin/<release> rpc` (and `remote`, `stop`) start a node that must not listen: the
    running node holds the only distribution port (rel/remote.vm.args.eex)."""
    node = mesh.nodes[0]
    result = subprocess.run(
        [
            str(build_release() / "bin" / RELEASE_NAME),
            "rpc",
            'IO.puts(Enum.join(Enum.sort([node() | Node.list()]), " "))',
        ],
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == sorted(n.name for n in mesh.nodes)
