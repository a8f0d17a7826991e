"""A real HAProxy for tests, configured by ``components.proxy_config``, and its runtime API.

``check_config(text)`` runs ``haproxy -c`` on a rendered configuration. ``running_haproxy``
validates, starts it in the foreground (its own process group, killed on exit) and yields a
``Haproxy`` whose admin socket drains and re-enables servers the way a load balancer
deregisters and registers targets.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from components.proxy_config import BACKEND
from tests.app_release import http_get, require_tool

HAPROXY_HINT = "install HAProxy (Debian/Ubuntu: `sudo apt-get install haproxy`)"
START_TIMEOUT_S = 10.0


class HaproxyError(RuntimeError):
    """HAProxy refused its configuration, did not start, or its runtime API failed."""


def check_config(config: str) -> str:
    """Run ``haproxy -c`` on ``config``; returns its output, raises if it is not valid."""
    haproxy = require_tool("haproxy", HAPROXY_HINT)
    with tempfile.TemporaryDirectory(prefix="haproxy-check-") as tmp:
        path = Path(tmp) / "haproxy.cfg"
        path.write_text(config)
        result = subprocess.run(
            [haproxy, "-c", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise HaproxyError(f"haproxy -c rejected the configuration:\n{output}\n{config}")
    return output


@dataclass
class Haproxy:
    """A running HAProxy: ``url`` of its frontend, ``admin_socket`` for the runtime API."""

    url: str
    admin_socket: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(self, line: str) -> str:
        """One runtime API command (``show stat``, ``set server app/x state maint``...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(str(self.admin_socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` rows of the app backend's servers, by server name."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def backend_stats(self) -> dict[str, str]:
        text = self.command("show stat").lstrip("# ")
        return next(
            row
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == BACKEND and row["svname"] == "BACKEND"
        )

    def set_state(self, server: str, state: str) -> None:
        """``ready``, ``drain`` (no new requests, health checks go on) or ``maint``."""
        reply = self.command(f"set server {BACKEND}/{server} state {state}").strip()
        if reply:
            raise HaproxyError(f"set server {server} state {state}: {reply}")

    def wait_status(self, server: str, prefix: str, timeout: float) -> float:
        """Wait until the server's status starts with ``prefix`` (``UP``, ``DOWN``, ``MAINT``);
        returns how long it took."""
        started = time.monotonic()
        status = "?"
        while time.monotonic() - started < timeout:
            status = self.stats()[server]["status"]
            if status.startswith(prefix):
                return time.monotonic() - started
            time.sleep(0.02)
        raise HaproxyError(f"{server} still {status} after {timeout} s (wanted {prefix})")


@contextlib.contextmanager
def running_haproxy(config: str, admin_socket: Path, url: str) -> Iterator[Haproxy]:
    """Validate and start HAProxy with ``config`` (rendered with ``admin_socket``), wait until
    the admin socket answers and ``url`` is accepting connections; stop it on exit."""
    haproxy = require_tool("haproxy", HAPROXY_HINT)
    check_config(config)
    config_path = admin_socket.parent / "haproxy.cfg"
    config_path.write_text(config)
    log_path = admin_socket.parent / "haproxy.log"
    with log_path.open("wb") as log:
        # -db: stay in the foreground, so the process is HAProxy itself and logs go to `log`.
        process = subprocess.Popen(
            [haproxy, "-db", "-f", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proxy = Haproxy(url=url, admin_socket=admin_socket, log_path=log_path, process=process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(OSError):
                proxy.command("show info")
                http_get(url + "/", timeout=1.0)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise HaproxyError(f"haproxy did not start:\n{proxy.output()}")
            time.sleep(0.02)
        yield proxy
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
