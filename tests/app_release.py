"""Build and run the real Elixir release of `app/` from Python (tests, benchmarks).

Interface other modules rely on:

- `build_release() -> Path`: `MIX_ENV=prod mix release --overwrite`, once per process
  (serialised across processes with a file lock), returns the release root, the directory
  holding `bin/<RELEASE_NAME>` (tests.sample: the sample's release).
- `running_release(port=None, env=None, *, command=None)`: context manager that starts
  `bin/<RELEASE_NAME> start` (or `command`)
  in its own process group on a free port, waits for `/health` to answer 200 and yields a
  `RunningRelease`. On exit the node gets SIGTERM, then the whole group SIGKILL if it has
  not exited in time; no process of the group is left behind.

Usage as a pytest fixture::

    import pytest
    from collections.abc import Iterator
    from tests.app_release import RunningRelease, http_get, running_release

    @pytest.fixture(scope="module")
    def release() -> Iterator[RunningRelease]:
        with running_release() as running:
            yield running

    def test_health(release: RunningRelease) -> None:
        status, _headers, body = http_get(release.base_url + "/health")
        assert status == 200, release.output()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.sample import APP_DIR, RELEASE_NAME

# `mix test` builds into app/_build/test; the prod release lives next to it in
# app/_build/prod and the two never share files.
RELEASE_ROOT = APP_DIR / "_build" / "prod" / "rel" / RELEASE_NAME

BOOT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0

INSTALL_HINT = (
    "the tests build and run the real Elixir release: install Elixir "
    "(Debian/Ubuntu: `sudo apt-get install elixir erlang-dev`, macOS: `brew install elixir`) "
    "or run `make tools`"
)


class ReleaseError(RuntimeError):
    """The release could not be built, did not boot, or did not stop cleanly."""


_build_lock = threading.Lock()
_built_root: Path | None = None


def require_tool(name: str, hint: str = INSTALL_HINT) -> str:
    """Path of executable `name`; raises (never skips) with an install hint if it is missing."""
    # Debian installs daemons (haproxy, dnsmasq) in sbin, which a non-root PATH lacks.
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        raise ReleaseError(f"`{name}` not found on PATH: {hint}")
    return path


def build_release() -> Path:
    """Build the prod release once per process and return its root directory."""
    global _built_root
    with _build_lock:
        if _built_root is not None:
            return _built_root
        mix = require_tool("mix")
        lock_path = APP_DIR / "_build" / ".release.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        # MIX_BUILD_PATH/MIX_BUILD_ROOT/... from the caller's shell would move the release
        # away from RELEASE_ROOT.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MIX_")}
        env["MIX_ENV"] = "prod"
        # Another pytest process (another engineer's suite, or xdist) may be building too.
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            result = subprocess.run(
                [mix, "release", "--overwrite"],
                cwd=APP_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        if result.returncode != 0:
            raise ReleaseError(
                f"`MIX_ENV=prod mix release` failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        if not (RELEASE_ROOT / "bin" / RELEASE_NAME).is_file():
            raise ReleaseError(
                f"mix release succeeded but {RELEASE_ROOT}/bin/{RELEASE_NAME} is missing"
            )
        _built_root = RELEASE_ROOT
        return RELEASE_ROOT


def free_port() -> int:
    """A TCP port that was free a moment ago (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """GET `url`; returns (status, lower-cased headers, body) for any status, errors too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        headers = {k.lower(): v for k, v in error.headers.items()}
        return error.code, headers, error.read()


def release_env(port: int, tmp_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a release under test: what the infrastructure sets, plus isolation."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RELEASE_", "ECS_"))}
    return {
        **base,
        "PORT": str(port),
        "PHX_HOST": "localhost",
        "SECRET_KEY_BASE": secrets.token_urlsafe(64),
        "RELEASE_COOKIE": secrets.token_urlsafe(32),
        # No distribution: no epmd daemon to leak, no node-name clash between parallel runs.
        "RELEASE_DISTRIBUTION": "none",
        # Runtime config files go here instead of piling up in the shared release's tmp/.
        "RELEASE_TMP": str(tmp_dir),
        "ERL_CRASH_DUMP_SECONDS": "0",
        **(extra or {}),
    }


def group_processes(pgid: int) -> list[int]:
    """Pids of live processes (zombies excluded) whose process group is `pgid` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp ...
        state, _ppid, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            pids.append(int(stat.parent.name))
    return pids


@dataclass
class RunningRelease:
    """A booted release; `process.pid` is the BEAM itself (the start scripts exec)."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    boot_seconds: float = field(default=0.0)
    _final_output: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the release wrote to stdout and stderr so far (kept after exit)."""
        if self._final_output is not None:
            return self._final_output
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send SIGTERM to the BEAM only (as `docker stop` does) and wait for its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def leftover_processes(self) -> list[int]:
        return group_processes(self.process.pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def running_release(
    port: int | None = None,
    env: dict[str, str] | None = None,
    *,
    command: list[str] | None = None,
    root: Path | None = None,
    cwd: Path | None = None,
    user: pwd.struct_passwd | None = None,
    unset: Collection[str] = (),
) -> Iterator[RunningRelease]:
    """Start the release, wait for /health = 200, yield it; stop it and its group on exit.

    `command` is relative to the release root, `["bin/<RELEASE_NAME>", "start"]` by default
    (`["bin/server"]` is what the Docker image runs). `root` runs another copy of the built
    release, from working directory `cwd`, as `user` (uid, gid, no supplementary groups);
    `unset` drops variables from the environment after `env` is applied (e.g. `RELEASE_TMP`).
    """
    root = root or build_release()
    argv = command or ["bin/" + RELEASE_NAME, "start"]
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix=f"{RELEASE_NAME}-release-") as tmp:
        tmp_dir = Path(tmp)
        log_path = tmp_dir / "output.log"
        with log_path.open("wb") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                [str(root / argv[0]), *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in release_env(port, tmp_dir, env).items() if k not in unset},
                cwd=cwd,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        running = RunningRelease(port=port, process=process, log_path=log_path)
        try:
            running.boot_seconds = _wait_healthy(running, started)
            yield running
        finally:
            _stop(running)


def _wait_healthy(running: RunningRelease, started: float) -> float:
    deadline = started + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise ReleaseError(
                f"release exited with {running.process.returncode} before /health answered:\n"
                f"{running.output()}"
            )
        try:
            status, _, _ = http_get(running.base_url + "/health", timeout=1.0)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise ReleaseError(
        f"/health did not answer 200 on port {running.port} within {BOOT_TIMEOUT_S} s:\n"
        f"{running.output()}"
    )


def _stop(running: RunningRelease) -> None:
    pgid = running.process.pid
    try:
        running.terminate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(pgid)
        running.process.wait(timeout=10)
    # The BEAM's helpers (erl_child_setup, anything the app spawned) share its group.
    deadline = time.monotonic() + 5
    while running.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    if running.leftover_processes():
        _kill_group(pgid)
    # The log lives in a temporary directory that is about to be removed.
    running._final_output = running.output()
