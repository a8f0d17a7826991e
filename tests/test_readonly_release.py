"""The real release runs with a read-only root filesystem (issue #17).

ECS runs the app container with `readonlyRootFilesystem: true` and an ephemeral task volume on
/tmp; local Docker with `read_only: true` and a tmpfs on /tmp. Both set `RELEASE_TMP=/tmp`,
`ERL_CRASH_DUMP=/tmp/erl_crash.dump` (and HOME may point there too). These tests run a copy of
the built release that an unprivileged user can read and execute but not write (root ignores
file permissions, so as root the tests drop to `nobody`), with one writable directory standing
in for the /tmp mount, from the release root as working directory (the image's WORKDIR /app).

What the release writes, found by tracing it (`strace -f` on the file system calls of a boot,
requests and SIGTERM): nothing. With `config/runtime.exs` and the default
`reboot_system_after_config: false`, sys.config says `RUNTIME_CONFIG=false`, so `start` and
`eval` (what bin/migrate runs) use it in place and never copy it under RELEASE_TMP. What needs
a writable path:

- `ERL_CRASH_DUMP`: when the VM dies it writes erl_crash.dump to its working directory, which
  is `<release>/bin` under bin/server and bin/migrate (they `cd` there). On a read-only root the
  dump is lost unless ERL_CRASH_DUMP points to the mount.
- `RELEASE_TMP` (default `<release>/tmp`): used by `daemon`/`daemon_iex` (pipes and logs) and by
  releases built with `reboot_system_after_config: true` (a runtime sys.config copy per boot:
  without a writable RELEASE_TMP such a release exits 1 before it serves). Not used by this
  release's `start`; the setting keeps apps that turn the option on working.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.app_release import (
    RELEASE_NAME,
    ReleaseError,
    RunningRelease,
    build_release,
    free_port,
    http_get,
    release_env,
    running_release,
)
from tests.sample import sample_only

pytestmark = sample_only()

UNPRIVILEGED_USER = "nobody"
CRASH_DUMP_NAME = "erl_crash.dump"
EXIT_TIMEOUT_S = 30.0
# release_env disables crash dumps (ERL_CRASH_DUMP_SECONDS=0) for the other tests; the
# infrastructure does not set it, so these runs keep the VM's default (dumps are written).
PRODUCTION_UNSET = ("ERL_CRASH_DUMP_SECONDS",)

TreeState = dict[str, tuple[int, int, int]]


def run_as_user() -> pwd.struct_passwd | None:
    """Whom to run the release as: `nobody` when we are root (root writes anywhere)."""
    return pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None


def tree_state(root: Path) -> TreeState:
    """Every path under `root` (itself included) with its mode, size and mtime in ns."""
    state: TreeState = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(directory, name)
            info = path.lstat()
            state[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return state


def _chmod_tree(root: Path, *, writable: bool) -> None:
    """Directories a+rx, files a+r (executables a+x); write bits on (owner) or off (all)."""
    for directory, _dirnames, filenames in os.walk(root):
        for path in [Path(directory), *(Path(directory, name) for name in filenames)]:
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.lstat().st_mode) | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
            if path.is_dir() or mode & stat.S_IXUSR:
                mode |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
            mode = mode | stat.S_IWUSR if writable else mode & ~0o222
            path.chmod(mode)


@contextlib.contextmanager
def read_only_copy(*, reboot_after_config: bool = False) -> Iterator[Path]:
    """A copy of the built release that everyone may read and run but nobody (non-root) write.

    `reboot_after_config` flips the two sys.config flags `mix release` writes for
    `reboot_system_after_config: true` (the start script then copies sys.config under
    RELEASE_TMP at every boot, and the config provider reboots the VM with it)."""
    # Not under pytest's tmp_path: that is private to root, and the release runs as nobody.
    base = Path(tempfile.mkdtemp(prefix=f"{RELEASE_NAME}-readonly-"))
    root = base / "app"
    try:
        base.chmod(0o755)
        shutil.copytree(build_release(), root, symlinks=True)
        if reboot_after_config:
            sys_config = next(root.glob("releases/*/sys.config"))
            text = sys_config.read_text()
            flags = [
                ("RUNTIME_CONFIG=false", "RUNTIME_CONFIG=true"),
                ("reboot_system_after_config => false", "reboot_system_after_config => true"),
            ]
            for built, wanted in flags:
                assert text.count(built) == 1, f"{built!r} not in {sys_config}"
                text = text.replace(built, wanted)
            sys_config.write_text(text)
        _chmod_tree(root, writable=False)
        yield root
    finally:
        if root.exists():
            _chmod_tree(root, writable=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def read_only_release() -> Iterator[Path]:
    with read_only_copy() as root:
        yield root


@pytest.fixture(scope="module")
def read_only_rebooting_release() -> Iterator[Path]:
    with read_only_copy(reboot_after_config=True) as root:
        yield root


@pytest.fixture
def mounted_tmp() -> Iterator[Path]:
    """The one writable directory, standing in for the /tmp mount: owned by the release's user."""
    path = Path(tempfile.mkdtemp(prefix=f"{RELEASE_NAME}-tmp-mount-"))
    try:
        user = run_as_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def mounted_env(mount: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What the infrastructure sets for a read-only root, with `mount` as /tmp."""
    return {
        "RELEASE_TMP": str(mount),
        "ERL_CRASH_DUMP": str(mount / CRASH_DUMP_NAME),
        "HOME": str(mount),
        **(extra or {}),
    }


def start_read_only(
    root: Path, env: dict[str, str], unset: tuple[str, ...] = ()
) -> AbstractContextManager[RunningRelease]:
    """`bin/server` (the image's CMD) from the read-only copy, as the unprivileged user."""
    return running_release(
        env=env,
        command=["bin/server"],
        root=root,
        cwd=root,
        user=run_as_user(),
        unset=PRODUCTION_UNSET + unset,
    )


def crash_with_sigusr1(release: RunningRelease) -> int:
    """SIGUSR1 makes the BEAM write a crash dump and exit, as on any VM crash; its exit code."""
    release.process.send_signal(signal.SIGUSR1)
    return release.process.wait(timeout=EXIT_TIMEOUT_S)


def test_the_user_cannot_write_into_the_release_copy(read_only_release: Path) -> None:
    # The premise of every other test here: a write into the release fails for its user.
    user = run_as_user()
    result = subprocess.run(
        ["sh", "-c", 'touch "$1/probe" || exit 3; rm -f "$1/probe"', "sh", str(read_only_release)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
        cwd="/",
        **({"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert not (read_only_release / "probe").exists()


def test_release_boots_serves_and_drains_with_only_the_mount_writable(
    read_only_release: Path, mounted_tmp: Path
) -> None:
    before = tree_state(read_only_release)
    drain_ms = 5000
    env = mounted_env(
        mounted_tmp, {"ELIXIR_APP_DEBUG_ROUTES": "true", "SHUTDOWN_DRAIN_MS": str(drain_ms)}
    )
    with start_read_only(read_only_release, env) as release:
        user = run_as_user()
        if user is not None:
            assert os.stat(f"/proc/{release.process.pid}").st_uid == user.pw_uid

        status, _, body = http_get(release.base_url + "/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"}), release.output()
        status, _, body = http_get(release.base_url + "/")
        assert status == 200 and RELEASE_NAME.encode() in body
        status, _, body = http_get(release.base_url + "/metrics")
        assert status == 200
        families = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {
            "elixir_app_prom_ex_beam_stats_uptime_milliseconds_count",
            "elixir_app_prom_ex_phoenix_http_requests",
        } <= families

        result: dict[str, tuple[int, dict[str, str], bytes]] = {}

        def slow_request() -> None:
            result["response"] = http_get(release.base_url + "/debug/sleep?ms=1500", timeout=10)

        client = threading.Thread(target=slow_request)
        client.start()
        time.sleep(0.4)  # the request is accepted and sleeping
        exit_code = release.terminate(timeout=drain_ms / 1000 + 5)
        client.join(timeout=5)

        assert exit_code == 0, release.output()
        status, _, body = result["response"]
        assert (status, json.loads(body)) == (200, {"slept_ms": 1500})
        assert "draining 1 connection" in release.output()
        assert release.leftover_processes() == []
    assert tree_state(read_only_release) == before


def test_eval_as_bin_migrate_runs_it_works_on_a_read_only_root(
    read_only_release: Path, mounted_tmp: Path
) -> None:
    before = tree_state(read_only_release)
    env = {
        k: v
        for k, v in release_env(free_port(), mounted_tmp, mounted_env(mounted_tmp)).items()
        if k not in PRODUCTION_UNSET
    }
    user = run_as_user()
    result = subprocess.run(
        [str(read_only_release / "bin" / RELEASE_NAME), "eval", 'IO.puts("evaluated")'],
        env=env,
        cwd=read_only_release / "bin",
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S,
        start_new_session=True,
        check=False,
        **({"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "evaluated"
    assert tree_state(read_only_release) == before


def test_a_crash_dump_lands_in_the_mount_named_by_erl_crash_dump(
    read_only_release: Path, mounted_tmp: Path
) -> None:
    with start_read_only(read_only_release, mounted_env(mounted_tmp)) as release:
        exit_code = crash_with_sigusr1(release)
        output = release.output()
    assert exit_code != 0
    dump = mounted_tmp / CRASH_DUMP_NAME
    assert f"Crash dump is being written to: {dump}...done" in output, output
    assert dump.read_text(errors="replace").startswith("=erl_crash_dump:")
    assert "Slogan: Received SIGUSR1" in dump.read_text(errors="replace")


def test_without_erl_crash_dump_the_dump_is_lost_on_a_read_only_root(
    read_only_release: Path, mounted_tmp: Path
) -> None:
    # Control for the test above: ERL_CRASH_DUMP is what keeps the dump.
    before = tree_state(read_only_release)
    env = mounted_env(mounted_tmp)
    with start_read_only(read_only_release, env, unset=("ERL_CRASH_DUMP",)) as release:
        exit_code = crash_with_sigusr1(release)
        output = release.output()
    assert exit_code != 0
    # The VM tries its working directory (bin/server cds into bin/) and cannot write there.
    assert f"Crash dump is being written to: {CRASH_DUMP_NAME}..." in output, output
    assert "...done" not in output
    assert tree_state(read_only_release) == before
    assert list(mounted_tmp.iterdir()) == []


def test_start_writes_nothing_so_release_tmp_may_stay_at_its_read_only_default(
    read_only_release: Path, mounted_tmp: Path
) -> None:
    # Control for RELEASE_TMP: this release's `start` writes no file at all (see the module
    # docstring). Should it ever write (e.g. `reboot_system_after_config: true`), this fails
    # and RELEASE_TMP=/tmp on the mount is what keeps production booting.
    before = tree_state(read_only_release)
    env = mounted_env(mounted_tmp)
    with start_read_only(read_only_release, env, unset=("RELEASE_TMP",)) as release:
        assert http_get(release.base_url + "/health")[0] == 200, release.output()
        assert release.terminate() == 0, release.output()
    assert not (read_only_release / "tmp").exists()
    assert tree_state(read_only_release) == before
    assert list(mounted_tmp.iterdir()) == []


def test_a_release_that_reboots_after_config_writes_its_runtime_config_to_release_tmp(
    read_only_rebooting_release: Path, mounted_tmp: Path
) -> None:
    root = read_only_rebooting_release
    before = tree_state(root)
    with start_read_only(root, mounted_env(mounted_tmp)) as release:
        assert http_get(release.base_url + "/")[0] == 200, release.output()
        assert release.terminate() == 0, release.output()
    written = [path.name for path in mounted_tmp.iterdir()]
    assert len(written) == 1 and written[0].endswith(".runtime.config"), written
    assert written[0].startswith(f"{RELEASE_NAME}-")
    assert tree_state(root) == before


def test_without_release_tmp_a_release_that_reboots_after_config_cannot_start(
    read_only_rebooting_release: Path, mounted_tmp: Path
) -> None:
    # Control for the test above: RELEASE_TMP on the mount is what lets such a release boot.
    root = read_only_rebooting_release
    with (
        pytest.raises(ReleaseError) as failure,
        start_read_only(root, mounted_env(mounted_tmp), unset=("RELEASE_TMP",)),
    ):
        pass
    message = str(failure.value)
    assert "release exited with 1 before /health answered" in message
    assert f"Cannot start release because it could not write {root}/tmp/" in message
    assert list(mounted_tmp.iterdir()) == []
