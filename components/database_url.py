"""The ``DATABASE_URL`` the app reads (pure function, no resources).

Ecto's form, ``ecto://USER:PASS@HOST:PORT/DATABASE[?ssl=true]``, which the sample app, Ecto
(``Ecto.Repo.Supervisor.parse_url``) and, with the scheme ``postgresql://``, libpq all read.
User, password and database name are percent-encoded byte by byte (UTF-8), every byte but
``A-Z a-z 0-9 - . _ ~``: Ecto and the app decode them with ``URI.decode/1``, which turns
``%XX`` back into bytes and leaves everything else, a ``+`` included, as it is. So any password
RDS or a generator produces survives the trip, ``@ : / ? # [ ] % & = +``, spaces and quotes
included.

``ssl=True`` adds ``?ssl=true``, Ecto's switch: the app then connects with TLS without checking
the server's certificate (libpq's ``sslmode=require``), enough for RDS's ``rds.force_ssl``.
Postgrex 0.21 and later read ``ssl: true`` differently: they verify the certificate against
the operating system's CAs, which do not include RDS's; see docs/app.md.

Call it inside ``Output.all(...).apply`` and keep the result secret::

    url = pulumi.Output.secret(
        pulumi.Output.all(instance.address, instance.port, password.result).apply(
            lambda args: database_url(username="app", password=args[2], host=args[0],
                                      port=args[1], database="app", ssl=True)
        )
    )
"""

from __future__ import annotations

from urllib.parse import quote

SCHEME = "ecto"


def _encode(text: str) -> str:
    """Percent-encode every byte of UTF-8 `text` outside RFC 3986's unreserved set."""
    return quote(text, safe="", encoding="utf-8", errors="strict")


def database_url(
    *, username: str, password: str, host: str, port: int, database: str, ssl: bool
) -> str:
    """``ecto://user:password@host:port/database``, plus ``?ssl=true`` when `ssl`.

    Raises ``ValueError`` naming the argument when a value cannot make a usable URL.
    """
    if not username:
        raise ValueError("username: must not be empty")
    if not database:
        raise ValueError("database: must not be empty")
    if not host or any(char in host for char in "/?#@[] \t\r\n"):
        raise ValueError(f"host: expected a host name or IP address, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port: expected an integer between 1 and 65535, got {port!r}")
    # An IPv6 literal goes in brackets, or its colons would read as a port separator.
    authority_host = f"[{host}]" if ":" in host else host
    url = (
        f"{SCHEME}://{_encode(username)}:{_encode(password)}@{authority_host}:{port}/"
        f"{_encode(database)}"
    )
    return url + "?ssl=true" if ssl else url
