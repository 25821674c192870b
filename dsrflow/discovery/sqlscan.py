"""Scan one SQL store for personal data: every schema and table the connection can see.

Read-only (the sweep's read-only transaction: PostgreSQL/MariaDB ``SET TRANSACTION READ ONLY``,
SQLite ``PRAGMA query_only``), each statement under its own timeout, a bounded sample per table
(``TABLESAMPLE SYSTEM`` on large PostgreSQL tables, ``LIMIT`` everywhere), and a row and time
budget per store whose use is reported. Values are classified in memory and dropped; errors are
reduced to their class and code (a driver message may quote a row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, column, func, inspect, select, tablesample, text
from sqlalchemy import table as sa_table
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from dsrflow.adapters.sdk import AdapterContext
from dsrflow.adapters.sql.bounded import (
    StatementTimeout,
    error_kind,
    read_only,
    run_rows,
    timeout_scope,
)
from dsrflow.adapters.sql.config import SqlConfig
from dsrflow.adapters.sql.engine import build_engine, map_error
from dsrflow.catalog.model import StoreEntry
from dsrflow.discovery.classify import Finding, classify_column
from dsrflow.discovery.report import Budget, ColumnReport, Status, StoreScan, TableReport

SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
TABLESAMPLE_ABOVE = 10  # PostgreSQL: sample by pages once a table has 10x the rows wanted


def scan_sql_store(
    entry: StoreEntry, ctx: AdapterContext, budget: Budget, *, min_confidence: float
) -> StoreScan:
    """The coverage report of one SQL store (``entry.config`` is the SQL adapter's)."""
    config = entry.config
    assert isinstance(config, SqlConfig)
    try:
        engine = build_engine(config.connection, ctx)
    except Exception as exc:  # a missing secret, a bad URL: the adapter's typed error
        return StoreScan(entry.name, "?", error=str(map_error(entry.name, exc, "connecting")))
    dialect = engine.dialect.name
    try:
        with engine.connect() as conn:
            return _scan(conn, entry, config, budget, min_confidence)
    except SQLAlchemyError as exc:
        return StoreScan(entry.name, dialect, error=str(map_error(entry.name, exc, "scanning")))
    finally:
        engine.dispose()


def _scan(
    conn: Connection, entry: StoreEntry, config: SqlConfig, budget: Budget, min_conf: float
) -> StoreScan:
    dialect = conn.dialect.name
    # Reflection reads inside the read-only transaction too (it would otherwise begin its own).
    with read_only(conn), timeout_scope(conn, dialect, budget.statement_timeout_s):
        insp = inspect(conn)
        default = insp.default_schema_name or "main"
        home = config.connection.schema_ or default
        mapped = {(home, c.table or n) for n, c in config.collections.items()}
        ignore = entry.common.scan.ignore
        if dialect == "postgresql":
            schemas = [s for s in insp.get_schema_names() if s not in SYSTEM_SCHEMAS]
        else:  # MariaDB: the store is its database (root sees everyone's); SQLite: main
            schemas = [default]
        started, used, statements = time.monotonic(), 0, 0
        tables: list[TableReport] = []
        for schema in schemas:
            for table in sorted(insp.get_table_names(schema=schema)):
                cols = [c["name"] for c in insp.get_columns(table, schema=schema)]
                fks = tuple(
                    (lc, fk["referred_table"], rc)
                    for fk in insp.get_foreign_keys(table, schema=schema)
                    for lc, rc in zip(
                        fk["constrained_columns"], fk["referred_columns"], strict=False
                    )
                )
                is_mapped = (schema, table) in mapped
                reason = _ignored(ignore, schema, table, None, home)
                rows: list[Any] = []
                why_not = None
                spent = time.monotonic() - started
                if is_mapped or (reason and not _column_ignores(ignore, schema, table, home)):
                    pass  # covered either way: its values need not be read
                elif used >= budget.max_rows:
                    why_not = f"row budget spent ({budget.max_rows} rows)"
                elif spent >= budget.max_seconds:
                    why_not = f"time budget spent ({budget.max_seconds:g} s)"
                else:
                    limit = min(budget.sample_rows, budget.max_rows - used)
                    try:
                        statements += 1
                        rows = _sample(conn, schema, table, cols, limit, budget)
                    except StatementTimeout:
                        why_not = f"statement timeout ({budget.statement_timeout_s:g} s)"
                    except DBAPIError as exc:
                        why_not = f"cannot read ({error_kind(exc)})"
                    used += len(rows)

                def column_reason(c: str, s: str = schema, t: str = table) -> str | None:
                    return _ignored(ignore, s, t, c, home)

                tables.append(
                    _table(
                        schema,
                        table,
                        cols,
                        rows,
                        fks,
                        is_mapped,
                        reason,
                        why_not,
                        column_reason,
                        min_conf,
                    )
                )
                rows.clear()  # sampled values live no longer than their table's classification
    used_budget = Budget(
        max_rows=budget.max_rows, max_seconds=budget.max_seconds,
        sample_rows=budget.sample_rows, statement_timeout_s=budget.statement_timeout_s,
        rows_read=used, seconds=round(time.monotonic() - started, 3), statements=statements,
    )  # fmt: skip
    return StoreScan(entry.name, dialect, tuple(tables), used_budget)


def _sample(
    conn: Connection, schema: str, table: str, cols: list[str], limit: int, budget: Budget
) -> list[Any]:
    # SQLAlchemy quotes the names (and escapes what a driver would read as a placeholder).
    target: Any = sa_table(table, *(column(c) for c in cols), schema=schema)
    if conn.dialect.name == "postgresql":
        qualified = conn.dialect.identifier_preparer.format_table(target)
        estimate = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": qualified}
        ).scalar()
        if estimate and estimate > limit * TABLESAMPLE_ABOVE:
            # Pages, not rows: twice the share wanted, so LIMIT still fills on uneven pages.
            share = min(100.0, 200.0 * limit / float(estimate))
            target = tablesample(target, func.system(share))
    elif conn.dialect.name != "sqlite":
        target = sa_table(table, *(column(c) for c in cols))  # the connection's database
    stmt = select(*(target.c[c] for c in cols)).select_from(target).limit(limit)
    return run_rows(conn, stmt, budget.statement_timeout_s)


def _table(
    schema: str,
    table: str,
    cols: list[str],
    rows: list[Any],
    fks: tuple[tuple[str, str, str], ...],
    is_mapped: bool,
    reason: str | None,
    why_not: str | None,
    column_reason: Callable[[str], str | None],
    min_conf: float,
) -> TableReport:
    columns = []
    for i, col in enumerate(cols):
        findings = tuple(classify_column(col, (r[i] for r in rows)))
        personal = any(f.confidence >= min_conf for f in findings)
        creason = column_reason(col)
        status: Status
        if is_mapped:
            status = "mapped"
        elif creason:
            status = "ignored"
        elif personal:
            status = "unmapped"
        else:
            status = "clean"
        columns.append(ColumnReport(col, status, _strong_first(findings), creason))
    statuses = {c.status for c in columns}
    tstatus: Status = (
        "mapped" if is_mapped
        else "unmapped" if "unmapped" in statuses
        else "ignored" if reason or "ignored" in statuses
        else "clean"
    )  # fmt: skip
    return TableReport(schema, table, tstatus, tuple(columns), len(rows), fks, reason, why_not)


def _strong_first(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: -f.confidence))


def _ignored(
    ignore: dict[str, str], schema: str, table: str, column: str | None, home: str
) -> str | None:
    """The catalog's reason for leaving a schema, table or column out, if any."""
    keys = [f"{schema}.*", f"{schema}.{table}"] + ([table] if schema == home else [])
    if column is not None:
        keys += [f"{schema}.{table}.{column}"]
        keys += [f"{table}.{column}"] if schema == home else []
    for key in reversed(keys):  # the most specific key's reason wins
        if key in ignore:
            return ignore[key]
    return None


def _column_ignores(ignore: dict[str, str], schema: str, table: str, home: str) -> bool:
    prefixes = [f"{schema}.{table}."] + ([f"{table}."] if schema == home else [])
    return any(k.startswith(p) for k in ignore for p in prefixes)
