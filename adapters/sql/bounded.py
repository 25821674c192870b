"""Statements under a budget: per-dialect timeouts, the row budget, read-only transactions.

Used by the residual sweep (``sweep.py``). A statement that runs past its timeout raises
``StatementTimeout`` (PostgreSQL: a transaction-local ``statement_timeout`` and a savepoint per
statement; MariaDB: ``SET STATEMENT max_statement_time=... FOR``; MySQL: ``MAX_EXECUTION_TIME``;
SQLite: a progress handler that interrupts). Errors are reduced to their class and code: a
driver message may quote a row.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, func, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from dsrflow.adapters.sdk import SweepBudget

COUNT_EXACTLY_BELOW = 100_000  # smaller tables are counted (bounded); larger: statistics


class StatementTimeout(Exception):
    """A statement ran past the budget's statement timeout."""


def over_budget(conn: Connection, table: Table, budget: SweepBudget, dialect: str) -> str | None:
    """Why the table is over the row budget, or None (statistics, else a bounded count)."""
    try:
        estimate = row_estimate(conn, table, dialect)
        if estimate is not None and estimate > budget.max_rows:
            return f"over max_rows (about {estimate} rows > {budget.max_rows})"
        if estimate is None or estimate < COUNT_EXACTLY_BELOW:
            probe = (
                select(literal_column("1")).select_from(table).limit(budget.max_rows + 1).subquery()
            )
            rows = run_one(conn, select(func.count()).select_from(probe), budget)[0]
            if rows > budget.max_rows:
                return f"over max_rows (more than {budget.max_rows} rows)"
    except StatementTimeout:
        return f"statement timeout ({budget.statement_timeout_s:g} s) counting rows"
    except DBAPIError as exc:
        return f"cannot count rows ({error_kind(exc)})"
    return None


def row_estimate(conn: Connection, table: Table, dialect: str) -> int | None:
    """The planner's row count, when the database keeps one (None: unknown)."""
    if dialect == "postgresql":
        qualified = conn.dialect.identifier_preparer.format_table(table)
        sql = "SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"
        value = conn.execute(text(sql), {"t": qualified}).scalar()
        return int(value) if value is not None and value > 0 else None
    if dialect in ("mysql", "mariadb"):
        sql = (
            "SELECT TABLE_ROWS FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = COALESCE(:s, DATABASE()) AND TABLE_NAME = :t"
        )
        value = conn.execute(text(sql), {"s": table.schema, "t": table.name}).scalar()
        return int(value) if value else None
    return None


def run_one(conn: Connection, stmt: Any, budget: SweepBudget) -> Any:
    """Execute one statement under the budget's timeout; its one row."""
    dialect = conn.dialect.name
    try:
        if dialect == "postgresql":
            with conn.begin_nested():  # a cancelled statement aborts only its savepoint
                return conn.execute(stmt).one()
        if dialect in ("mysql", "mariadb"):
            return _run_mysql(conn, stmt, budget.statement_timeout_s)
        if dialect == "sqlite":
            with _sqlite_deadline(conn, budget.statement_timeout_s) as fired:
                try:
                    return conn.execute(stmt).one()
                except DBAPIError:
                    if fired:
                        raise StatementTimeout from None
                    raise
        return conn.execute(stmt).one()
    except DBAPIError as exc:
        if _is_timeout(exc):
            raise StatementTimeout from None
        raise


def _run_mysql(conn: Connection, stmt: Any, seconds: float) -> Any:
    if not getattr(conn.dialect, "is_mariadb", False):
        hint = f"/*+ MAX_EXECUTION_TIME({max(1, int(seconds * 1000))}) */"
        return conn.execute(stmt.prefix_with(hint)).one()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup or ())
    sql = f"SET STATEMENT max_statement_time={seconds:.6f} FOR {compiled}"
    return conn.exec_driver_sql(sql, params).one()


@contextmanager
def _sqlite_deadline(conn: Connection, seconds: float) -> Iterator[list[bool]]:
    """Interrupt a SQLite statement that runs past the deadline (a progress handler)."""
    raw: Any = conn.connection.dbapi_connection
    deadline = time.monotonic() + seconds
    fired: list[bool] = []

    def check() -> int:
        if time.monotonic() > deadline:
            fired.append(True)
            return 1
        return 0

    raw.set_progress_handler(check, 1000)
    try:
        yield fired
    finally:
        raw.set_progress_handler(None, 0)


@contextmanager
def timeout_scope(conn: Connection, dialect: str, seconds: float) -> Iterator[None]:
    """PostgreSQL: a transaction-local statement_timeout, restored afterwards."""
    if dialect != "postgresql":
        yield
        return
    before = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar()
    ms = f"{max(1, int(seconds * 1000))}ms"
    conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": ms})
    yield
    # Only on success: after an error the caller's transaction is rolled back anyway, and a
    # statement in an aborted transaction would hide the original error.
    conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": before})


def _is_timeout(exc: DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "57014":  # PostgreSQL query_canceled
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1969, 3024):  # MariaDB max_statement_time, MySQL max_execution_time
        return True
    return isinstance(orig, sqlite3.OperationalError) and "interrupted" in str(orig)


def error_kind(exc: DBAPIError) -> str:
    """The error's class and code, never its message (it may quote a row)."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None)
    args = getattr(orig, "args", ())
    if code is None and args and isinstance(args[0], int):
        code = args[0]
    name = type(orig).__name__ if orig is not None else type(exc).__name__
    return f"{name} {code}" if code else name


@contextmanager
def read_only(conn: Connection) -> Iterator[None]:
    """A read-only transaction on ``conn``, rolled back at the end (the sweep changes nothing)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _sqlite_query_only(conn, True)
    try:
        with conn.begin() as tx:
            if dialect in ("postgresql", "mysql", "mariadb"):
                conn.execute(text("SET TRANSACTION READ ONLY"))
            try:
                yield
            finally:
                tx.rollback()
    finally:
        if dialect == "sqlite":
            _sqlite_query_only(conn, False)


def _sqlite_query_only(conn: Connection, on: bool) -> None:
    # A PRAGMA outside the sweep's transaction (it would otherwise begin one).
    conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
    conn.commit()


def run_rows(conn: Connection, stmt: Any, seconds: float) -> list[Any]:
    """Execute one SELECT under a timeout; all its rows.

    For the discovery scan (``dsrflow scan``): PostgreSQL runs it in a savepoint under the
    transaction's ``statement_timeout`` (see ``timeout_scope``), MariaDB/MySQL with their
    per-statement limit, SQLite under a progress-handler deadline.
    """
    dialect = conn.dialect.name
    try:
        if dialect == "postgresql":
            with conn.begin_nested():
                return list(conn.execute(stmt).all())
        if dialect in ("mysql", "mariadb"):
            if not getattr(conn.dialect, "is_mariadb", False):
                hint = f"/*+ MAX_EXECUTION_TIME({max(1, int(seconds * 1000))}) */"
                return list(conn.execute(stmt.prefix_with(hint)).all())
            compiled = stmt.compile(
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            params: Any = compiled.params
            if compiled.positional:
                params = tuple(params[name] for name in compiled.positiontup or ())
            sql = f"SET STATEMENT max_statement_time={seconds:.6f} FOR {compiled}"
            return list(conn.exec_driver_sql(sql, params).all())
        with _sqlite_deadline(conn, seconds) as fired:
            try:
                return list(conn.execute(stmt).all())
            except DBAPIError:
                if fired:
                    raise StatementTimeout from None
                raise
    except DBAPIError as exc:
        if _is_timeout(exc):
            raise StatementTimeout from None
        raise
