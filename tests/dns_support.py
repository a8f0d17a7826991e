"""A real DNS server for tests: Debian's ``dnsmasq`` on a loopback UDP/TCP port.

``dns_server(tmp_dir)`` starts it in the foreground (its own process group, killed on exit)
answering only from a hosts file this module writes; ``DnsServer.set_records`` rewrites that
file and reloads it (SIGHUP), returning once dnsmasq has read it. Records have TTL 0, so every
query sees the current set. ``erlang_inetrc`` is the ``ERL_INETRC`` file that points OTP's
resolver (``:inet_res``) at this server.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.app_release import free_port, require_tool

DNSMASQ_HINT = "install dnsmasq (Debian/Ubuntu: `sudo apt-get install dnsmasq-base`)"
LISTEN_ADDRESS = "127.0.0.1"
START_TIMEOUT_S = 10.0
RELOAD_TIMEOUT_S = 10.0


class DnsError(RuntimeError):
    """dnsmasq did not start or did not reload in time."""


@dataclass
class DnsServer:
    """A running dnsmasq answering ``records`` (name -> IPv4 addresses) on ``address:port``."""

    address: str
    port: int
    hosts_file: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    records: dict[str, list[str]] = field(default_factory=dict)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _reads(self) -> int:
        return self.output().count(f"read {self.hosts_file}")

    def set_records(self, name: str, addresses: Sequence[str]) -> None:
        """Answer ``name`` with exactly ``addresses`` (none: NXDOMAIN) from now on."""
        self.records[name] = list(addresses)
        reads_before = self._reads()
        _write_hosts(self.hosts_file, self.records)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while self._reads() <= reads_before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise DnsError(f"dnsmasq did not reload {self.hosts_file}:\n{self.output()}")
            time.sleep(0.02)


def _write_hosts(hosts_file: Path, records: Mapping[str, Sequence[str]]) -> None:
    """Replace the hosts file in one rename, so dnsmasq never reads half of it."""
    lines = [f"{ip} {name}\n" for name, ips in records.items() for ip in ips]
    staged = hosts_file.with_suffix(".new")
    staged.write_text("".join(lines))
    staged.chmod(0o644)
    staged.replace(hosts_file)


def erlang_inetrc(server: DnsServer) -> str:
    """``ERL_INETRC`` content sending every ``:inet_res`` query to ``server``.

    ``{resolv_conf, ""}`` must come first: otherwise OTP keeps re-reading /etc/resolv.conf and
    its name servers replace the one configured here.
    """
    octets = server.address.replace(".", ",")
    return f'{{resolv_conf, ""}}.\n{{nameserver, {{{octets}}}, {server.port}}}.\n'


@contextlib.contextmanager
def dns_server(
    tmp_dir: Path, records: Mapping[str, Sequence[str]] | None = None
) -> Iterator[DnsServer]:
    """Start dnsmasq on a free loopback port answering ``records``; stop it on exit."""
    dnsmasq = require_tool("dnsmasq", DNSMASQ_HINT)
    port = free_port()
    hosts_file = tmp_dir / "dns-hosts"
    log_path = tmp_dir / "dnsmasq.log"
    # dnsmasq drops privileges to this user and must still read the hosts file on reload.
    tmp_dir.chmod(0o755)
    initial = {name: list(ips) for name, ips in (records or {}).items()}
    _write_hosts(hosts_file, initial)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                dnsmasq,
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                f"--listen-address={LISTEN_ADDRESS}",
                "--bind-interfaces",
                f"--port={port}",
                "--no-resolv",  # answer only what we wrote, never forward
                "--no-hosts",
                f"--addn-hosts={hosts_file}",
                "--local-ttl=0",
                "--pid-file=",
                "--log-facility=-",
                f"--user={getpass.getuser()}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DnsServer(LISTEN_ADDRESS, port, hosts_file, log_path, process, initial)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while server._reads() == 0:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise DnsError(f"dnsmasq did not start:\n{server.output()}")
            time.sleep(0.02)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)
