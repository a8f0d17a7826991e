"""Real Prometheus scraping a stand-in exporter that serves exactly the app's metric contract.

Proves, without the Elixir release, that the rendered prometheus.yml works with a real
Prometheus and that every dashboard query returns data when the contract metrics exist. The
end-to-end test against the release itself is ``test_prometheus_e2e.py``.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from components.observability import (
    APP_METRIC_NAMES,
    load_dashboard,
)
from tests.prometheus_support import (
    exported_metric_names,
    free_port,
    loopback_scrape_config,
    running_prometheus,
    series_count,
    wait_for_dashboard_data,
    wait_for_target_up,
)
from tests.promql_support import dashboard_metric_names

JOB = "contract-stand-in"
MEMORY_KINDS = ("total", "processes", "binary", "ets", "atom", "code", "system")


class ContractExporter:
    """Serves the contract metrics (nothing else) with values that move like a live app's."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.memory = Gauge("beam_memory_bytes", "", ["kind"], registry=r)
        self.gauges = {
            name: Gauge(name, "", registry=r)
            for name in (
                "beam_process_count",
                "beam_port_count",
                "beam_atom_count",
                "beam_run_queue_length",
                "beam_uptime_seconds",
                "beam_connected_nodes",
            )
        }
        labels = ["method", "path", "status"]
        self.requests = Counter("http_requests", "", labels, registry=r)
        self.duration = Histogram("http_request_duration_seconds", "", labels, registry=r)

    def tick(self) -> None:
        """One more request served and fresh VM gauges."""
        for kind in MEMORY_KINDS:
            self.memory.labels(kind=kind).set(random.randint(1, 50) * 1_000_000)
        for gauge in self.gauges.values():
            gauge.set(random.randint(0, 500))
        status = random.choice(("200", "200", "200", "404", "500"))
        path = random.choice(("/", "/health"))
        self.requests.labels("GET", path, status).inc()
        self.duration.labels("GET", path, status).observe(random.random() / 10)


@contextlib.contextmanager
def serving(exporter: ContractExporter) -> Iterator[int]:
    """Serve ``exporter`` on a free loopback port while ticking it in the background."""
    prometheus_client.disable_created_metrics()  # no *_created series: the contract has none
    port = free_port()
    server, thread = prometheus_client.start_http_server(
        port, addr="127.0.0.1", registry=exporter.registry
    )
    stop = threading.Event()

    def keep_ticking() -> None:
        while not stop.wait(0.1):
            exporter.tick()

    ticker = threading.Thread(target=keep_ticking, daemon=True)
    exporter.tick()
    ticker.start()
    try:
        yield port
    finally:
        stop.set()
        ticker.join(timeout=5)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        prometheus_client.enable_created_metrics()


def test_real_prometheus_scrapes_the_contract_and_every_dashboard_query_has_data(
    tmp_path: Path,
) -> None:
    exporter = ContractExporter()
    with serving(exporter) as port:
        config = loopback_scrape_config(JOB, port)
        with running_prometheus(config, tmp_path / "prometheus") as prometheus:
            wait_for_target_up(prometheus, JOB)

            # The stand-in exports exactly the contract, as the app must.
            assert exported_metric_names(prometheus, JOB) == set(APP_METRIC_NAMES)

            for metric in dashboard_metric_names(load_dashboard()):
                assert series_count(prometheus, metric, JOB) > 0, metric

            wait_for_dashboard_data(
                prometheus, load_dashboard(), job=JOB, make_traffic=lambda: None
            )
