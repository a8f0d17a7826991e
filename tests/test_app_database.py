"""The real prod release of app/ against a real PostgreSQL (tests/postgres_support.py).

bin/migrate (idempotent, transactional, serialised), the database-backed /visits, /ready and
the database metrics, outages (the app keeps serving /health, reports the database down and
recovers), boot-time validation of DATABASE_URL, and TLS (ssl=true, sslmode=verify-full).
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.database_url import database_url
from tests.app_release import APP_DIR, RunningRelease, http_get, running_release
from tests.postgres_support import (
    UNNAMED_HOST,
    PostgresServer,
    finish,
    make_ca,
    migrate,
    migrate_argv,
    run_release_command,
    running_postgres,
    start_release_command,
    wait_ready,
)
from tests.prometheus_support import poll
from tests.sample import RELEASE_NAME, sample_only

pytestmark = sample_only()

MIGRATIONS_DIR = APP_DIR / "priv" / "migrations"
APP_MIGRATIONS = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
POOL_SIZE = 3


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@dataclass(frozen=True)
class AppDatabase:
    """A database of its own for one test, owned by a role of its own."""

    server: PostgresServer
    name: str
    password: str

    def url(self, *, ssl: bool = False, host: str | None = None, query: str = "") -> str:
        url = database_url(
            username=self.name,
            password=self.password,
            host=host or self.server.host,
            port=self.server.port,
            database=self.name,
            ssl=ssl,
        )
        return url + query

    def rows(self, query: LiteralString, *params: Any) -> list[tuple[Any, ...]]:
        return self.server.execute(query, params, dbname=self.name)


def new_database(server: PostgresServer, *, tls_only: bool = False) -> AppDatabase:
    name = f"app_{secrets.token_hex(4)}"
    # URL-special characters: what the app decodes must be what the server checks.
    password = f"pw {secrets.token_urlsafe(12)}@:/?#%+"
    server.create_role(name, password, tls_only=tls_only)
    server.create_database(name, name)
    return AppDatabase(server, name, password)


@pytest.fixture
def database(postgres: PostgresServer) -> AppDatabase:
    return new_database(postgres)


@pytest.fixture
def migrated(database: AppDatabase) -> AppDatabase:
    result = migrate(database.url())
    assert result.returncode == 0, result.stdout + result.stderr
    return database


@pytest.fixture
def server_restarted(postgres: PostgresServer) -> Iterator[PostgresServer]:
    """For tests that stop the server: it is running again afterwards, whatever happens."""
    yield postgres
    if not postgres.is_running():
        postgres.start()


def app_env(url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "POOL_SIZE": str(POOL_SIZE), **extra}


def post(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def database_gauges(release: RunningRelease) -> dict[str, float]:
    status, _, body = http_get(release.base_url + "/metrics", timeout=10)
    assert status == 200, release.output()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name.startswith("database_")
    }


def versions(database: AppDatabase) -> list[int]:
    return [row[0] for row in database.rows("SELECT version FROM schema_migrations ORDER BY 1")]


def schema(database: AppDatabase) -> list[tuple[Any, ...]]:
    """Every column of every table in `public`, and the migration history."""
    columns = database.rows(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    )
    return columns + database.rows("SELECT * FROM schema_migrations ORDER BY 1")


def app_version(file: str) -> int:
    return int(file.split("_", 1)[0])


# --- the test server itself ----------------------------------------------------------------


def test_the_test_server_requires_scram_passwords_as_rds_does(database: AppDatabase) -> None:
    methods = {row[0] for row in database.rows("SELECT auth_method FROM pg_hba_file_rules")}
    assert methods == {"scram-sha-256", "reject"}, "no trust, no md5"
    stored = database.rows("SELECT rolpassword FROM pg_authid WHERE rolname = %s", database.name)
    assert stored[0][0].startswith("SCRAM-SHA-256$")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=database.server.host,
            port=database.server.port,
            user=database.name,
            password="wrong",
            dbname=database.name,
            connect_timeout=5,
        )


# --- bin/migrate ---------------------------------------------------------------------------


def test_migrate_applies_every_migration_into_an_ecto_shaped_history(
    database: AppDatabase,
) -> None:
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    result = migrate(database.url())

    assert result.returncode == 0, result.stdout + result.stderr
    for file in APP_MIGRATIONS:
        assert f"migrate: applied {file}" in result.stdout
    assert versions(database) == [app_version(f) for f in APP_MIGRATIONS]
    # Ecto's schema_migrations: version bigint primary key, inserted_at timestamp(0) (UTC).
    columns = database.rows(
        "SELECT column_name, data_type, datetime_precision FROM information_schema.columns "
        "WHERE table_name = 'schema_migrations' ORDER BY ordinal_position"
    )
    assert columns == [
        ("version", "bigint", None),
        ("inserted_at", "timestamp without time zone", 0),
    ]
    primary_key = database.rows(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'schema_migrations'::regclass AND i.indisprimary"
    )
    assert primary_key == [("version",)]
    for (inserted_at,) in database.rows("SELECT inserted_at FROM schema_migrations"):
        assert started <= inserted_at <= started + timedelta(minutes=2)
    visit_columns = database.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'visits'"
    )
    assert {c for (c,) in visit_columns} == {"id", "count", "updated_at"}


def test_migrate_twice_is_a_no_op_the_second_time(migrated: AppDatabase) -> None:
    before = schema(migrated)
    result = migrate(migrated.url())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrate: up to date" in result.stdout
    assert "applied" not in result.stdout
    assert schema(migrated) == before


def test_a_broken_migration_exits_non_zero_and_leaves_the_schema_as_it_was(
    migrated: AppDatabase, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    broken = "20991231000000_broken.sql"
    (migrations / broken).write_text(
        "CREATE TABLE half_done (id integer);\n"
        "INSERT INTO visits (id, count) VALUES (7, 7);\n"
        "SELECT * FROM no_such_table;\n"
    )
    before = schema(migrated)

    result = migrate(migrated.url(), migrations)

    assert result.returncode != 0
    assert f"{broken} failed" in result.stderr
    assert 'relation "no_such_table" does not exist' in result.stderr
    assert schema(migrated) == before
    assert migrated.rows("SELECT to_regclass('half_done')") == [(None,)]
    assert migrated.rows("SELECT count(*) FROM visits") == [(0,)]


def test_the_migrations_before_a_broken_one_stay_applied(
    database: AppDatabase, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "20991231000000_broken.sql").write_text("SELEC 1;\n")

    result = migrate(database.url(), migrations)

    assert result.returncode != 0
    assert "20991231000000_broken.sql failed: syntax error" in result.stderr
    assert versions(database) == [app_version(f) for f in APP_MIGRATIONS]


def test_a_connection_lost_mid_migration_exits_non_zero_and_applies_nothing(
    database: AppDatabase, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    # The server ends the migration's own session halfway through.
    (migrations / "1_cut.sql").write_text(
        "CREATE TABLE cut (id int);\nSELECT pg_terminate_backend(pg_backend_pid());\n"
    )

    result = migrate(database.url(), migrations)

    assert result.returncode != 0
    assert "migrate: ERROR: 1_cut.sql failed: connection lost" in result.stderr
    assert "crash" not in (result.stdout + result.stderr).lower()
    assert database.rows("SELECT to_regclass('cut')") == [(None,)]
    assert versions(database) == []


def test_two_concurrent_migrate_runs_apply_each_migration_once(
    database: AppDatabase, tmp_path: Path
) -> None:
    # The first migration is slow, so both runs start while it is still in progress:
    # without the lock both would apply it and one would fail.
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "1_slow.sql").write_text("SELECT pg_sleep(2);\nCREATE TABLE slow (id int);\n")
    (migrations / "2_next.sql").write_text("CREATE TABLE next (id int);\n")
    env = {"DATABASE_URL": database.url()}

    processes = [
        start_release_command(migrate_argv(migrations), env, tmp_path / f"run{i}") for i in range(2)
    ]
    results = [finish(process) for process in processes]

    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
    output = "".join(result.stdout for result in results)
    assert output.count("migrate: applied 1_slow.sql") == 1, output
    assert output.count("migrate: applied 2_next.sql") == 1, output
    assert versions(database) == [1, 2]


def test_migrate_without_database_url_fails_saying_so() -> None:
    result = run_release_command(migrate_argv(), {})
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr


# --- the app with its database ---------------------------------------------------------------


def test_visits_are_counted_in_the_database(migrated: AppDatabase) -> None:
    with running_release(env=app_env(migrated.url())) as release:
        wait_ready(release)
        visits = release.base_url + "/visits"

        assert json.loads(http_get(visits)[2]) == {"visits": 0}
        assert [json.loads(post(visits)[1]) for _ in range(3)] == [
            {"visits": 1},
            {"visits": 2},
            {"visits": 3},
        ]
        assert json.loads(http_get(visits)[2]) == {"visits": 3}
        assert migrated.rows("SELECT count FROM visits WHERE id = 1") == [(3,)]

        # Concurrent increments are atomic: each POST sees a count of its own.
        seen: list[int] = []
        lock = threading.Lock()

        def visit_five_times() -> None:
            for _ in range(5):
                status, body = post(visits)
                with lock:
                    seen.append(json.loads(body)["visits"] if status == 200 else -status)

        threads = [threading.Thread(target=visit_five_times) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(seen) == list(range(4, 44))
        assert migrated.rows("SELECT count FROM visits WHERE id = 1") == [(43,)]


def test_ready_and_metrics_report_the_database_up_with_the_whole_pool(
    migrated: AppDatabase,
) -> None:
    with running_release(env=app_env(migrated.url())) as release:
        wait_ready(release)
        status, _, body = http_get(release.base_url + "/ready")
        assert (status, json.loads(body)) == (200, {"status": "ready", "database": "up"})
        poll(
            lambda: True if database_gauges(release)["database_connections"] == POOL_SIZE else None,
            timeout=15,
            interval=0.2,
            what=f"{POOL_SIZE} pool connections",
            details=release.output,
        )
        assert database_gauges(release)["database_up"] == 1
        backends = migrated.rows(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name = %s",
            migrated.name,
            RELEASE_NAME,
        )
        assert backends == [(POOL_SIZE,)]


def test_an_unmigrated_database_gets_503_saying_to_migrate(database: AppDatabase) -> None:
    with running_release(env=app_env(database.url())) as release:
        wait_ready(release)
        status, _, body = http_get(release.base_url + "/visits")
        assert (status, json.loads(body)) == (
            503,
            {"error": "database not migrated: run bin/migrate"},
        )


def test_health_stays_200_through_a_database_outage_and_the_app_recovers(
    migrated: AppDatabase, server_restarted: PostgresServer
) -> None:
    with running_release(env=app_env(migrated.url())) as release:
        wait_ready(release)
        assert post(release.base_url + "/visits")[0] == 200

        server_restarted.stop()
        # Each pool connection notices on its own; wait until all have.
        down = {"database_up": 0, "database_connections": 0}
        poll(
            lambda: True if database_gauges(release) == down else None,
            timeout=10,
            interval=0.1,
            what=f"{down} with the database stopped",
            details=release.output,
        )
        status, _, body = http_get(release.base_url + "/ready")
        assert (status, json.loads(body)) == (503, {"status": "unavailable", "database": "down"})
        assert post(release.base_url + "/visits") == (503, b'{"error":"database unavailable"}')
        # The load balancer's check: still healthy, for as long as the outage lasts.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert http_get(release.base_url + "/health")[0] == 200
            time.sleep(0.1)
        assert release.process.poll() is None

        server_restarted.start()
        wait_ready(release, timeout=20)
        assert json.loads(post(release.base_url + "/visits")[1]) == {"visits": 2}
        assert database_gauges(release)["database_up"] == 1

    output = release.output()
    assert "database connection 1 lost" in output
    assert migrated.password not in output
    assert "GenServer" not in output, "the driver's crash reports are filtered out"


def test_the_app_boots_with_the_database_down_and_connects_when_it_comes_up(
    migrated: AppDatabase, server_restarted: PostgresServer
) -> None:
    server_restarted.stop()
    # running_release returns once /health answers 200: the app booted without its database.
    with running_release(env=app_env(migrated.url())) as release:
        status, _, body = http_get(release.base_url + "/ready")
        assert (status, json.loads(body)) == (503, {"status": "unavailable", "database": "down"})
        assert database_gauges(release)["database_up"] == 0

        server_restarted.start()
        wait_ready(release, timeout=20)
        assert post(release.base_url + "/visits")[0] == 200
    assert migrated.password not in release.output()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://app:{password}@db/app"}, 'has the scheme "mysql"'),
        ({"DATABASE_URL": "ecto://app:{password}@db"}, "names no database"),
        ({"DATABASE_URL": "ecto://app:{password}@db/app?sslmode=on"}, 'sslmode="on"'),
        ({"DATABASE_URL": "ecto://app:{password}@db/app", "POOL_SIZE": "0"}, "POOL_SIZE must"),
    ],
)
def test_bad_database_settings_stop_the_boot_without_printing_the_password(
    env: dict[str, str], message: str
) -> None:
    password = "n0t-to-be-printed"
    env = {key: value.format(password=password) for key, value in env.items()}
    result = run_release_command([f"bin/{RELEASE_NAME}", "start"], env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ERROR: environment variable" in output
    assert message in output
    assert password not in output


# --- TLS ---------------------------------------------------------------------------------------


def tls_backends(database: AppDatabase) -> list[tuple[Any, ...]]:
    """(connections using TLS, all connections) of the app's pool for this database's role."""
    return database.rows(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a "
        "JOIN pg_stat_ssl s USING (pid) "
        "WHERE a.usename = %s AND a.application_name = %s",
        database.name,
        RELEASE_NAME,
    )


def wait_for_log(release: RunningRelease, text: str) -> None:
    poll(
        lambda: True if text in release.output() else None,
        timeout=15,
        interval=0.1,
        what=f"{text!r} in the release's log",
        details=release.output,
    )


def test_ssl_true_connects_over_tls_to_a_server_that_requires_it(
    postgres: PostgresServer,
) -> None:
    database = new_database(postgres, tls_only=True)
    url = database.url(ssl=True)
    assert url.endswith("?ssl=true")
    result = migrate(url)
    assert result.returncode == 0, result.stdout + result.stderr

    with running_release(env=app_env(url)) as release:
        wait_ready(release)
        assert post(release.base_url + "/visits") == (200, b'{"visits":1}')
        poll(
            lambda: True if tls_backends(database) == [(POOL_SIZE, POOL_SIZE)] else None,
            timeout=15,
            interval=0.2,
            what="every pool connection over TLS",
            details=lambda: f"{tls_backends(database)}\n{release.output()}",
        )


def test_without_tls_a_server_that_requires_it_refuses_the_app(postgres: PostgresServer) -> None:
    database = new_database(postgres, tls_only=True)
    with running_release(env=app_env(database.url(ssl=False))) as release:
        wait_for_log(release, "no encryption")
        assert http_get(release.base_url + "/ready")[0] == 503


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_trusts_the_given_ca_for_the_name_the_certificate_holds(
    postgres: PostgresServer, host: str
) -> None:
    database = new_database(postgres, tls_only=True)
    query = f"?sslmode=verify-full&sslrootcert={postgres.ca_cert}"
    with running_release(env=app_env(database.url(host=host, query=query))) as release:
        wait_ready(release)
        # A query ran over the verified connection: the database answered it is not migrated.
        assert post(release.base_url + "/visits") == (
            503,
            b'{"error":"database not migrated: run bin/migrate"}',
        )


def test_verify_full_refuses_a_certificate_from_another_ca(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    database = new_database(postgres, tls_only=True)
    other_ca, _key = make_ca(tmp_path, "another-ca")
    query = f"?sslmode=verify-full&sslrootcert={other_ca}"
    with running_release(env=app_env(database.url(host="localhost", query=query))) as release:
        wait_for_log(release, "Unknown CA")
        assert http_get(release.base_url + "/ready")[0] == 503


def test_verify_full_refuses_a_certificate_that_does_not_name_the_host(
    postgres: PostgresServer,
) -> None:
    database = new_database(postgres, tls_only=True)
    query = f"?sslmode=verify-full&sslrootcert={postgres.ca_cert}"
    url = database.url(host=UNNAMED_HOST, query=query)
    with running_release(env=app_env(url)) as release:
        wait_for_log(release, "hostname_check_failed")
        assert http_get(release.base_url + "/ready")[0] == 503
    # The same address without verification connects: only the name check refused it.
    with running_release(env=app_env(database.url(host=UNNAMED_HOST, ssl=True))) as release:
        wait_ready(release)
