"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` on 127.0.0.1.

It is set up like RDS in the ways the app can notice:

- passwords are stored and checked as SCRAM-SHA-256 (``pg_hba.conf`` says
  ``scram-sha-256``; nothing is ``trust``), so a driver without SCRAM cannot log in;
- TLS is on, with a server certificate signed by a CA generated here
  (:attr:`PostgresServer.ca_cert`; names ``localhost`` and ``127.0.0.1``, not
  :data:`UNNAMED_HOST`, where the server listens too), and members of
  the role ``tls_only`` are refused on a plain connection (as ``rds.force_ssl=1`` refuses
  everyone), which proves a client really used TLS.

The server runs as an unprivileged user (``nobody`` when the tests run as root: ``initdb``
and ``postgres`` refuse root), listens on loopback only, on a free port, without a Unix
socket. Every step is bounded in time, and the server is stopped and its files removed on
exit, failures included. Usage::

    @pytest.fixture(scope="module")
    def postgres() -> Iterator[PostgresServer]:
        with running_postgres() as server:
            yield server
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from tests.app_release import (
    RunningRelease,
    build_release,
    free_port,
    http_get,
    release_env,
    require_tool,
)
from tests.prometheus_support import poll
from tests.sample import MODULE, RELEASE_NAME

PG_LIB = Path("/usr/lib/postgresql")
INSTALL_HINT = (
    "the database tests run a real PostgreSQL server: install it "
    "(Debian/Ubuntu: `sudo apt-get install postgresql`) or run `make tools`"
)
OPENSSL_HINT = "the TLS tests generate certificates with openssl: `sudo apt-get install openssl`"
STEP_TIMEOUT_S = 60
START_TIMEOUT_S = 30
SUPERUSER = "postgres"
TLS_ONLY_ROLE = "tls_only"
UNPRIVILEGED_USER = "nobody"
HOST = "127.0.0.1"
UNNAMED_HOST = "127.0.0.2"
"""Another loopback address the server listens on, which its certificate does not name."""


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL server program (initdb, pg_ctl...); fails with a hint if absent.

    Debian keeps them out of PATH, in /usr/lib/postgresql/<major>/bin (newest major wins)."""
    candidates = sorted(
        PG_LIB.glob(f"*/bin/{name}"), key=lambda path: int(path.parts[-3]), reverse=True
    )
    if candidates:
        return str(candidates[0])
    return require_tool(name, INSTALL_HINT)


def _run(
    argv: Sequence[str], *, user: pwd.struct_passwd | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
        env=env,
        # The unprivileged user may not be allowed into our working directory.
        cwd="/" if user is not None else None,
        **_as_user(user),
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _server_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: ourselves, or ``nobody`` when we are root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(UNPRIVILEGED_USER)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA certificate and its key in `directory`: (cert, key)."""
    openssl = require_tool("openssl", OPENSSL_HINT)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _run(
        [
            openssl, "req", "-x509", "-new", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
        user=None,
    )  # fmt: skip
    return cert, key


def make_server_cert(directory: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A server certificate for localhost / 127.0.0.1 signed by `ca`: (cert, key)."""
    openssl = require_tool("openssl", OPENSSL_HINT)
    ca_cert, ca_key = ca
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    _run(
        [
            openssl, "req", "-new", "-nodes", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr),
        ],
        user=None,
    )  # fmt: skip
    _run(
        [
            openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert),
            "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
            "-extfile", str(extensions), "-out", str(cert),
        ],
        user=None,
    )  # fmt: skip
    return cert, key


@dataclass
class PostgresServer:
    """A running server; the superuser is :data:`SUPERUSER` with :attr:`superuser_password`."""

    port: int
    superuser_password: str
    data_dir: Path
    log_file: Path
    ca_cert: Path
    """PEM of the CA that signed the server's certificate (for ``sslmode=verify-full``)."""
    _user: pwd.struct_passwd | None
    host: str = HOST

    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        try:
            return self.log_file.read_text(errors="replace")
        except OSError as error:
            return f"(no server log: {error})"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection as the superuser (autocommit), over plain TCP."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            password=self.superuser_password,
            dbname=dbname,
            sslmode="disable",
            connect_timeout=5,
            autocommit=True,
            **kwargs,
        )

    def execute(
        self,
        query: LiteralString | sql.Composed,
        params: Sequence[Any] | None = None,
        dbname: str = "postgres",
    ) -> list[tuple[Any, ...]]:
        """Runs one statement as the superuser; its rows ([] when it returns none)."""
        with self.connect(dbname) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def create_role(self, name: str, password: str, *, tls_only: bool = False) -> None:
        """A login role with a SCRAM-SHA-256 password (what RDS stores)."""
        with self.connect() as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            if tls_only:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(TLS_ONLY_ROLE), sql.Identifier(name)
                    )
                )

    def create_database(self, name: str, owner: str) -> None:
        self.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )

    def stop(self) -> None:
        """Stops the server (fast shutdown: clients are disconnected at once)."""
        _run(
            [pg_tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
             "-t", str(START_TIMEOUT_S)],
            user=self._user,
        )  # fmt: skip

    def start(self) -> None:
        """Starts the server (again) and waits until it accepts connections."""
        _run(
            [pg_tool("pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_file),
             "-w", "-t", str(START_TIMEOUT_S)],
            user=self._user,
        )  # fmt: skip

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()


def _hba() -> str:
    # First match wins. No `trust` anywhere, no Unix socket (none is created).
    return "".join(
        f"hostnossl all +{TLS_ONLY_ROLE} {address}/32 reject\n"
        f"host      all all         {address}/32 scram-sha-256\n"
        for address in (HOST, UNNAMED_HOST)
    )


def _settings(port: int, cert: Path, key: Path) -> str:
    return "\n".join(
        [
            f"listen_addresses = '{HOST},{UNNAMED_HOST}'",
            f"port = {port}",
            "unix_socket_directories = ''",
            "password_encryption = 'scram-sha-256'",
            "ssl = on",
            f"ssl_cert_file = '{cert}'",
            f"ssl_key_file = '{key}'",
            "max_connections = 100",
            # Throwaway data: durability is not needed, speed is.
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "log_connections = on",
            "",
        ]
    )


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Initialise, start and yield a server; stop it and delete its files on exit."""
    initdb = pg_tool("initdb")
    user = _server_user()
    # Not under pytest's tmp_path: that is private to root, and the server runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="elixir-devops-postgres-"))
    server: PostgresServer | None = None
    try:
        data_dir, tls_dir = base / "data", base / "tls"
        tls_dir.mkdir()
        ca = make_ca(tls_dir, "elixir-devops-test-ca")
        cert, key = make_server_cert(tls_dir, ca)
        password = secrets.token_urlsafe(24)
        password_file = base / "superuser-password"
        password_file.write_text(password + "\n")
        if user is not None:
            for path in [base, tls_dir, cert, key, password_file]:
                os.chown(path, user.pw_uid, user.pw_gid)
        key.chmod(0o600)  # PostgreSQL refuses a key others can read
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "HOME": str(base)}
        _run(
            [initdb, "-D", str(data_dir), "-U", SUPERUSER, f"--pwfile={password_file}",
             "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
             "-E", "UTF8", "--no-locale", "--no-sync"],
            user=user,
            env=env,
        )  # fmt: skip
        password_file.unlink()
        port = free_port()
        (data_dir / "pg_hba.conf").write_text(_hba())
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_settings(port, cert, key))
        server = PostgresServer(
            port=port,
            superuser_password=password,
            data_dir=data_dir,
            log_file=base / "postgres.log",
            ca_cert=ca[0],
            _user=user,
        )
        server.log_file.touch()
        if user is not None:
            os.chown(server.log_file, user.pw_uid, user.pw_gid)
        server.start()
        server.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(TLS_ONLY_ROLE)))
        yield server
    finally:
        if server is not None and server.is_running():
            _stop_for_sure(server)
        shutil.rmtree(base, ignore_errors=True)


def _stop_for_sure(server: PostgresServer) -> None:
    try:
        server.stop()
    except (RuntimeError, subprocess.TimeoutExpired):
        # Immediate shutdown: SIGQUIT to the postmaster, whose pid heads postmaster.pid.
        with contextlib.suppress(OSError, ValueError):
            pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


# --- the app's release against such a server ----------------------------------------------

RELEASE_COMMAND_TIMEOUT_S = 120


def start_release_command(
    argv: Sequence[str], env: dict[str, str], tmp_dir: Path
) -> subprocess.Popen[str]:
    """Start ``bin/...`` of the release (argv relative to its root) with the test environment
    plus `env`; the caller waits for it (with a timeout) and kills it if needed."""
    root = build_release()
    return subprocess.Popen(
        [str(root / argv[0]), *argv[1:]],
        env=release_env(free_port(), tmp_dir, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait (bounded) for a process from :func:`start_release_command`; kill it on timeout."""
    try:
        stdout, stderr = process.communicate(timeout=RELEASE_COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_release_command(
    argv: Sequence[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``bin/...`` of the release to completion (see :func:`start_release_command`)."""
    with tempfile.TemporaryDirectory(prefix=f"{RELEASE_NAME}-command-") as tmp:
        return finish(start_release_command(argv, env, Path(tmp)))


def migrate_argv(migrations_dir: Path | None = None) -> list[str]:
    """``bin/migrate``, or the same task on another directory of migrations."""
    if migrations_dir is None:
        return ["bin/migrate"]
    # A JSON string is an Elixir string literal for such paths (no "#{").
    expression = f"{MODULE}.Release.migrate({json.dumps(str(migrations_dir))})"
    return [f"bin/{RELEASE_NAME}", "eval", expression]


def migrate(url: str, migrations_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the release's migrations against DATABASE_URL=`url`."""
    return run_release_command(migrate_argv(migrations_dir), {"DATABASE_URL": url})


def wait_ready(release: RunningRelease, timeout: float = 15) -> None:
    """Wait until the release's /ready answers 200 (its database is reachable)."""
    poll(
        lambda: True if http_get(release.base_url + "/ready", timeout=3)[0] == 200 else None,
        timeout=timeout,
        interval=0.1,
        what="/ready to answer 200",
        details=release.output,
    )
