"""Zero-drop rolling restart: three clustered release nodes behind a real HAProxy, under a
bounded wrk load, each replaced in turn the way ECS replaces a task behind its load balancer
(deregister, drain for the deregistration delay, SIGTERM, start the new one, healthy again).

Timings are the proposed AWS defaults (tests/rolling_support.py PROPOSED_AWS: deregistration
delay 15 s, health check every 5 s, healthy after 2) at a tenth of their duration, so the
roll takes seconds; bench/rolling_restart.py runs them at full length and prints figures.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rolling_support import (
    TEST_TIMINGS,
    LoadResult,
    NodeRoll,
    Rig,
    roll,
    rolling_rig,
    wrk_load,
)

CONNECTIONS = 4
PACE_MS = 10
"""Each connection waits this long between requests: at most a few hundred requests/s."""
MAX_LOAD_S = 120
"""wrk stops on its own after this even if the test hangs."""
MIN_REQUESTS = 500
"""Fewer would mean the load did not really run through the roll."""


@pytest.fixture(scope="module")
def rolled() -> Iterator[tuple[Rig, list[NodeRoll], LoadResult, dict[str, int]]]:
    """Roll the whole cluster once under load; the tests look at what happened."""
    with rolling_rig(TEST_TIMINGS) as rig, tempfile.TemporaryDirectory() as tmp:
        served_before = {name: int(row["hrsp_2xx"]) for name, row in rig.proxy.stats().items()}
        with wrk_load(
            rig.proxy.url + "/",
            connections=CONNECTIONS,
            pace_ms=PACE_MS,
            max_duration_s=MAX_LOAD_S,
            tmp_dir=Path(tmp),
        ) as load:
            time.sleep(0.5)
            figures = roll(rig)
            time.sleep(0.5)
            result = load.stop()
        served_after = {name: int(row["hrsp_2xx"]) for name, row in rig.proxy.stats().items()}
        served = {name: served_after[name] - served_before[name] for name in served_after}
        yield rig, figures, result, served


def test_no_request_fails_while_every_node_is_replaced(
    rolled: tuple[Rig, list[NodeRoll], LoadResult, dict[str, int]],
) -> None:
    rig, figures, result, _served = rolled
    assert [f.node for f in figures] == [node.name for node in rig.cluster.nodes]
    assert result.requests >= MIN_REQUESTS, result
    assert result.failures == 0, result
    assert result.connect_errors == result.read_errors == result.timeouts == 0


def test_every_node_drains_and_exits_zero_on_sigterm(
    rolled: tuple[Rig, list[NodeRoll], LoadResult, dict[str, int]],
) -> None:
    _rig, figures, _result, _served = rolled
    for figure in figures:
        assert figure.exit_status == 0, figure
        assert figure.drained_after_s is not None, f"still in flight after the delay: {figure}"


def test_the_replaced_nodes_serve_again_and_form_a_full_mesh(
    rolled: tuple[Rig, list[NodeRoll], LoadResult, dict[str, int]],
) -> None:
    rig, _figures, _result, served = rolled
    assert all(count > 0 for count in served.values()), served
    for name, row in rig.proxy.stats().items():
        assert row["status"] == "UP", (name, row["status"])
    rig.cluster.wait_for_mesh(timeout=10)
