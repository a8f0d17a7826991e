"""The committed PromEx ``/metrics`` fixture, served on loopback with counters that grow.

``monitoring/prometheus/fixtures/prom_ex_shop.prom`` is what PromEx 1.11 (default storage,
telemetry_metrics_prometheus_core) serves for a Phoenix + Ecto + LiveView app whose PromEx
module says ``otp_app: :shop``. Served verbatim, every rate would be 0 and every latency
quantile NaN; :func:`grown` multiplies counter and histogram samples by the scrape number, so
rates are positive and quantiles real, as on a live app.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from components.observability import REPO_ROOT

FIXTURE = REPO_ROOT / "monitoring" / "prometheus" / "fixtures" / "prom_ex_shop.prom"
FIXTURE_OTP_APP = "shop"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_TYPE_LINE = re.compile(r"^# TYPE (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?P<type>\w+)$")
_SAMPLE_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*")
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def fixture_text(path: Path = FIXTURE) -> str:
    """The fixture as committed."""
    return path.read_text(encoding="utf-8")


def grown(text: str, factor: int) -> str:
    """``text`` with every counter and histogram sample value multiplied by ``factor``.

    Gauges are left alone. The fixture's lines have no timestamps, so a sample's value is its
    last space-separated field.
    """
    types: dict[str, str] = {}
    lines: list[str] = []
    for line in text.splitlines():
        if match := _TYPE_LINE.match(line):
            types[match["name"]] = match["type"]
        elif line and not line.startswith("#"):
            name_match = _SAMPLE_NAME.match(line)
            assert name_match, line
            name = name_match.group()
            family = _HISTOGRAM_SUFFIX.sub("", name)
            is_counter = types.get(name) == "counter"
            is_histogram_sample = name != family and types.get(family) == "histogram"
            if is_counter or is_histogram_sample:
                head, _, value = line.rpartition(" ")
                line = f"{head} {_scaled(value, factor)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _scaled(value: str, factor: int) -> str:
    if re.fullmatch(r"[0-9]+", value):
        return str(int(value) * factor)
    return repr(float(value) * factor)


@contextlib.contextmanager
def serving_fixture(text: str) -> Iterator[int]:
    """Serve ``text``, grown by the scrape number, on a free loopback port; yields the port."""
    scrapes = 0
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            nonlocal scrapes
            if self.path != "/metrics":
                self.send_error(404)
                return
            with lock:
                scrapes += 1
                body = grown(text, scrapes).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
