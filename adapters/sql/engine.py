"""Engine construction and driver-error mapping for the SQL adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

from dsrflow.adapters.sdk import (
    AdapterContext,
    AdapterError,
    PermanentAdapterError,
    RetryableAdapterError,
)
from dsrflow.adapters.sdk.redact import DriverError, describe_driver_error, first_line
from dsrflow.adapters.sql.config import Connection
from dsrflow.adapters.sql.normalize import (
    SQLITE_CASEFOLD,
    SQLITE_E164,
    sqlite_casefold,
    sqlite_e164,
)

# Default drivers: the ones dsrflow installs (SQLAlchemy would otherwise pick psycopg2/mysqlclient).
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# Driver messages that no retry will fix: a person has to change config or grants.
_PERMANENT_MARKERS = (
    "authentication failed",
    "access denied",
    "password",
    "permission denied",
    "does not exist",
    "unknown database",
    "no such table",
    "no such column",
    "unknown column",
    "doesn't exist",
    "unable to open database file",
    "foreign key constraint",
    "violates",
    "syntax error",
    "readonly database",
    "read-only",
)


def build_url(conn: Connection, ctx: AdapterContext) -> URL:
    """Assemble the URL from catalog config and env-var secrets; resolve relative SQLite paths."""
    raw = conn.url if conn.url is not None else ctx.secret(conn.url_env or "", "connection URL")
    try:
        url = make_url(raw)
    except Exception:  # the env var may hold anything
        raise PermanentAdapterError(f"store {ctx.store!r}: connection URL is not valid") from None
    if url.drivername.split("+")[0] == "postgres":  # url_env: not seen by catalog validation
        raise PermanentAdapterError(
            f"store {ctx.store!r}: connection URL: use postgresql:// (SQLAlchemy does not "
            "accept postgres://)"
        )
    url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
    if conn.password_env:
        url = url.set(password=ctx.secret(conn.password_env, "password"))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str((ctx.base_dir / path).resolve()))
    return url


def build_engine(conn: Connection, ctx: AdapterContext) -> Engine:
    """An engine with short connect timeouts (an unreachable store must fail fast, then retry)."""
    url = build_url(conn, ctx)
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = 5
    elif backend in ("mysql", "mariadb"):
        connect_args.update(connect_timeout=5, read_timeout=600, write_timeout=600)
    elif backend == "sqlite":
        connect_args["timeout"] = 15
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLite ignores FOREIGN KEY clauses unless asked; real constraints make erasure order matter.
    # secure_delete overwrites deleted content, so erased rows do not linger in free pages.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()
    # Phone matching compares the E.164 form; SQLite has no regexp_replace, so the Python
    # normaliser itself is the SQL function (deterministic: usable in an expression index).
    dbapi_conn.create_function(SQLITE_E164, 2, sqlite_e164, deterministic=True)
    dbapi_conn.create_function(SQLITE_CASEFOLD, 1, sqlite_casefold, deterministic=True)


# Error codes that say "try again": connection loss, deadlock, serialization, lock and
# statement timeouts, an administrator's restart. Everything else a person must look at.
_PG_RETRY_CLASSES = ("08", "40", "53", "57")
_PG_RETRY_STATES = frozenset({"55P03", "55006"})
_MYSQL_RETRY = frozenset({1040, 1205, 1213, 1317, 2002, 2003, 2005, 2006, 2013, 3024})


def _retryable_code(orig: BaseException) -> bool | None:
    """Decide by the driver's error code where it has one (None: no code, decide by text)."""
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        return state[:2] in _PG_RETRY_CLASSES or state in _PG_RETRY_STATES
    match orig.args:
        case (int() as code, _):
            return code in _MYSQL_RETRY
    return None


def map_error(store: str, exc: BaseException, doing: str) -> AdapterError:
    """Turn a SQLAlchemy/driver exception into a typed adapter error without personal data.

    The text keeps the driver's error class, its SQLSTATE / error code and the table, column
    and constraint it names; quoted values and free text (a trigger's message, a constraint's
    DETAIL) are dropped (see ``dsrflow.redact.describe_driver_error``).
    """
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, NoSuchTableError):
        return PermanentAdapterError(f"store {store!r}: table {exc} not found ({doing})")
    if isinstance(exc, DBAPIError):
        orig = exc.orig if exc.orig is not None else exc
        described = describe_driver_error(orig)
        if described is None:  # a driver we do not know: its class only
            described = DriverError(type(orig).__name__, None, "")
        text = f"store {store!r}: {described.cls}"
        text += f" [{described.code}]" if described.code else ""
        text += f" while {doing}" + (f": {described.detail}" if described.detail else "")
        if exc.connection_invalidated:
            return RetryableAdapterError(text)
        by_code = _retryable_code(orig)
        if by_code is not None:
            return RetryableAdapterError(text) if by_code else PermanentAdapterError(text)
        # Only read here, never printed: the raw message may quote row data.
        raw = str(orig).lower()
        if any(marker in raw for marker in _PERMANENT_MARKERS):
            return PermanentAdapterError(text)
        if type(exc).__name__ in ("OperationalError", "InterfaceError", "TimeoutError"):
            return RetryableAdapterError(text)
        return PermanentAdapterError(text)
    if isinstance(exc, SQLAlchemyError):
        return PermanentAdapterError(
            f"store {store!r}: {type(exc).__name__} while {doing}: {first_line(str(exc))}"
        )
    return RetryableAdapterError(f"store {store!r}: {type(exc).__name__} while {doing}")
