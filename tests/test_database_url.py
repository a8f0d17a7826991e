"""components/database_url.py: the DATABASE_URL the infrastructure gives the app.

The encoding is checked where it matters: a role whose password holds every URL-special
character logs in to a real PostgreSQL (SCRAM) with the composed URL, through libpq
(psycopg) and through the real release (bin/migrate, then /ready and /visits).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
import pytest

from components.database_url import database_url
from tests.app_release import http_get, running_release
from tests.postgres_support import PostgresServer, migrate, running_postgres, wait_ready
from tests.sample import sample_only

SPECIAL_PASSWORD = "@:/?#[]%&=+ '\"\\" + "é€日本" + "%41+%2B"
"""Every character with a meaning in URLs, quotes, backslash, non-ASCII, and text that looks
already encoded (it must come back as typed, not decoded twice)."""
SPECIAL_USER = "app:us@r/é x"
"""A role name with URL-special characters (RDS itself allows letters, digits and _ only)."""
UNRESERVED = re.compile(r"^(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*$")


def compose(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "username": "app",
        "password": "secret",
        "host": "db.internal",
        "port": 5432,
        "database": "app",
        "ssl": False,
    }
    arguments.update(overrides)
    return database_url(**arguments)  # type: ignore[arg-type]


# --- the string ------------------------------------------------------------------------------


def test_it_is_ectos_form_with_the_port() -> None:
    assert compose() == "ecto://app:secret@db.internal:5432/app"


def test_ssl_adds_ectos_ssl_parameter_and_nothing_else() -> None:
    assert compose(ssl=True) == "ecto://app:secret@db.internal:5432/app?ssl=true"
    assert "?" not in compose(ssl=False)


def test_user_password_and_database_are_percent_encoded_and_decode_back() -> None:
    url = compose(username=SPECIAL_USER, password=SPECIAL_PASSWORD, database="my db/é")
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port) == ("ecto", "db.internal", 5432)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    encoded_user, encoded_password = userinfo.split(":")
    # Only unreserved characters and %XX: nothing a URL parser could read as a delimiter.
    for encoded in (encoded_user, encoded_password, parts.path[1:]):
        assert UNRESERVED.match(encoded), encoded
    assert unquote(encoded_user, errors="strict") == SPECIAL_USER
    assert unquote(encoded_password, errors="strict") == SPECIAL_PASSWORD
    assert unquote(parts.path[1:], errors="strict") == "my db/é"


def test_a_plus_sign_is_encoded_so_no_decoder_reads_it_as_a_space() -> None:
    assert compose(password="a+b c") == "ecto://app:a%2Bb%20c@db.internal:5432/app"


def test_an_ipv6_host_is_bracketed() -> None:
    assert compose(host="fd00::5") == "ecto://app:secret@[fd00::5]:5432/app"


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"username": ""}, "username"),
        ({"database": ""}, "database"),
        ({"host": ""}, "host"),
        ({"host": "db/evil"}, "host"),
        ({"host": "user@db"}, "host"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"port": True}, "port"),
    ],
)
def test_values_that_cannot_make_a_url_are_refused_naming_the_argument(
    overrides: dict[str, object], argument: str
) -> None:
    with pytest.raises(ValueError, match=f"^{argument}: "):
        compose(**overrides)


# --- against a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        server.create_role(SPECIAL_USER, SPECIAL_PASSWORD)
        server.create_role("tls_app", SPECIAL_PASSWORD, tls_only=True)
        yield server


def url_for(postgres: PostgresServer, user: str, *, ssl: bool) -> str:
    database = f"db_{secrets.token_hex(4)}"
    postgres.create_database(database, user)
    return database_url(
        username=user,
        password=SPECIAL_PASSWORD,
        host=postgres.host,
        port=postgres.port,
        database=database,
        ssl=ssl,
    )


def libpq_url(url: str) -> str:
    """The same URL for libpq: scheme postgresql, and the app's TLS choice in libpq's terms
    (Ecto's ssl=true is sslmode=require; without it, plain, where libpq would try TLS).

    Only the scheme and the query change; libpq decodes the rest itself."""
    parts = urlsplit(url)
    query = {"": "sslmode=disable", "ssl=true": "sslmode=require"}[parts.query]
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))


@pytest.mark.parametrize(("user", "ssl"), [(SPECIAL_USER, False), ("tls_app", True)])
def test_libpq_logs_in_with_the_composed_url(
    postgres: PostgresServer, user: str, ssl: bool
) -> None:
    url = url_for(postgres, user, ssl=ssl)
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), "
            "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
        ).fetchone()
    assert row == (user, unquote(urlsplit(url).path[1:]), ssl)


@pytest.mark.parametrize(("user", "ssl"), [(SPECIAL_USER, False), ("tls_app", True)])
@sample_only()
def test_the_release_logs_in_with_the_composed_url(
    postgres: PostgresServer, user: str, ssl: bool
) -> None:
    url = url_for(postgres, user, ssl=ssl)
    result = migrate(url)
    assert result.returncode == 0, result.stdout + result.stderr

    with running_release(env={"DATABASE_URL": url, "POOL_SIZE": "2"}) as release:
        wait_ready(release)
        status, _headers, body = http_get(release.base_url + "/visits")
        assert (status, body) == (200, b'{"visits":0}')
    assert SPECIAL_PASSWORD not in release.output()
