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
from tests.sample import sample_only

pytestmark = sample_only()

CONNECTIONS = 4
PACE_MS = 10
"""Each connection waits this long between requests: at most a few hundred requests/s."""
MAX_LOAD_S = 120
"""wrk stops on its own after this even if the test hangs."""
MIN_REQUESTS = 500
"""Fewer would mean the load did not really run through the roll."""
SLOW_MS = 300
"""Slow requests, shorter than the (scaled) deregistration delay as every request must be."""
SLOW_CONNECTIONS = 4
MIN_SLOW_REQUESTS = 20

Rolled = tuple[Rig, list[NodeRoll], LoadResult, LoadResult, dict[str, int]]


@pytest.fixture(scope="module")
def rolled() -> Iterator[Rolled]:
    """Roll the whole cluster once under load; the tests look at what happened."""
    with rolling_rig(TEST_TIMINGS) as rig, tempfile.TemporaryDirectory() as tmp:
        served_before = {name: int(row["hrsp_2xx"]) for name, row in rig.proxy.stats().items()}
        with (
            wrk_load(
                rig.proxy.url + "/",
                connections=CONNECTIONS,
                pace_ms=PACE_MS,
                max_duration_s=MAX_LOAD_S,
                tmp_dir=Path(tmp),
            ) as load,
            wrk_load(
                f"{rig.proxy.url}/debug/sleep?ms={SLOW_MS}",
                connections=SLOW_CONNECTIONS,
                pace_ms=0,
                max_duration_s=MAX_LOAD_S,
                tmp_dir=Path(tmp),
            ) as slow_load,
        ):
            time.sleep(1)
            figures = roll(rig)
            time.sleep(0.5)
            result = load.stop()
            slow = slow_load.stop()
        served_after = {name: int(row["hrsp_2xx"]) for name, row in rig.proxy.stats().items()}
        served = {name: served_after[name] - served_before[name] for name in served_after}
        yield rig, figures, result, slow, served


def test_no_request_fails_while_every_node_is_replaced(
    rolled: Rolled,
) -> None:
    rig, figures, result, _slow, _served = rolled
    assert [f.node for f in figures] == [node.name for node in rig.cluster.nodes]
    assert result.requests >= MIN_REQUESTS, result
    assert result.failures == 0, result


def test_slow_requests_in_flight_at_deregistration_are_not_cut(rolled: Rolled) -> None:
    _rig, _figures, _result, slow, _served = rolled
    assert slow.requests >= MIN_SLOW_REQUESTS, slow
    assert slow.failures == 0, slow
    assert slow.p50_us >= SLOW_MS * 1000, "they really were slow"


def test_every_node_drains_and_exits_zero_on_sigterm(
    rolled: Rolled,
) -> None:
    _rig, figures, _result, _slow, _served = rolled
    for figure in figures:
        assert figure.exit_status == 0, figure
        assert figure.drained_after_s is not None, f"still in flight after the delay: {figure}"


def test_the_replaced_nodes_serve_again_and_form_a_full_mesh(
    rolled: Rolled,
) -> None:
    rig, _figures, _result, _slow, served = rolled
    assert all(count > 0 for count in served.values()), served
    for name, row in rig.proxy.stats().items():
        assert row["status"] == "UP", (name, row["status"])
    rig.cluster.wait_for_mesh(timeout=10)
