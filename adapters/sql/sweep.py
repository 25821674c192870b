"""The SQL store's independent residual sweep: every table, every text column, counts only.

It does not reuse the erase matcher's idea of where the subject lives. It reflects every table of
the store's schema (the catalog's ``connection.schema`` or the connection's default), mapped or
not, and searches every text-like column for the subject's strong identifiers:

- equality on the normalised form (``lower(trim(col)) IN (:values)`` for e-mail, the E.164 form
  for phone, the column itself for other strong kinds), on every text column;
- in free-text columns (TEXT/CLOB/JSON, a declared length of at least ``free_text_min_length``,
  or listed in the store's ``sweep.free_text``) also a case-insensitive substring, with ``%``
  and ``_`` escaped so a value never widens the search.

One SELECT per table, a ``SUM(CASE ...)`` per column and kind, so each table is read once (an
expression index on ``lower(trim(col))`` is used when every searched column of the table has
one). Each statement runs under a timeout; a table over the row budget or whose statement timed
out is named in ``not_swept`` with the reason. Rows the catalog accounts for are not hits but
exclusions, recorded with their count: after an erasure, rows of ``erase: keep`` collections
(``kept:<basis>``); after an access, rows the access matcher returned (``accessed``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    case,
    cast,
    func,
    inspect,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from adapters.base import Subject, SweepBudget
from adapters.sql.normalize import normalized
from adapters.sql.plan import SqlPlan
from adapters.sweeping import NO_STRONG_IDENTIFIER, escape_like, needles, searchable
from dsrflow.sweeps import SweepExclusion, SweepHit, SweepReport

METHOD = "sql-sweep"
COUNT_EXACTLY_BELOW = 100_000  # smaller tables are counted (bounded); larger: statistics
_ESC = "!"
_RULES = {
    "casefold": "{kind}: lower(trim(column)) = value",
    "phone": "{kind}: E.164 form of column = value",
    "exact": "{kind}: column = value",
}
_ONE, _ZERO = literal_column("1"), literal_column("0")

Progress = Callable[[int], None]
Exclusion = tuple[ColumnElement[bool], str]  # rows the catalog accounts for, and why


@dataclass(frozen=True)
class _Target:
    """One column searched for one kind: where, and the condition that finds the subject."""

    location: str
    kind: str
    mode: str  # equality | substring
    cond: ColumnElement[bool]


class _Timeout(Exception):
    """A sweep statement ran past the budget's statement timeout."""


def sweep_connection(
    conn: Connection,
    *,
    store: str,
    plan: SqlPlan | None,
    schema: str | None,
    subject: Subject,
    budget: SweepBudget,
    after: str,
    progress: Progress | None = None,
) -> SweepReport:
    """Sweep one schema on an open connection (inside the caller's transaction).

    The caller owns the transaction: ``SqlAdapter.sweep`` opens a read-only one and rolls it
    back; a dry run sweeps inside its own transaction before rolling everything back.

    Args:
        conn: An open connection.
        store: The store's name (for the report).
        plan: The store's statement planner: where the catalog's exclusions come from.
        schema: The schema to sweep (None: the connection's default).
        subject: Every identifier of the subject; only strong kinds are searched, the rest
            serve the catalog's match clauses of the exclusions.
        budget: Timeout and row budget; ``free_text`` lists extra ``table.column`` free text.
        after: ``erasure`` or ``access``.
        progress: Called with the number of tables done (the activity heartbeats).

    Returns:
        Locations and counts only, never a value.

    """
    kinds_registry = getattr(plan, "kinds", None)
    found = searchable(subject, kinds_registry)
    rules = _rules(found, budget, after)
    if not found:
        return SweepReport(store, METHOD, not_swept=[NO_STRONG_IDENTIFIER], rules=rules)
    dialect = conn.dialect.name
    country = getattr(kinds_registry, "default_country_code", None)
    searched: list[str] = []
    hits: list[SweepHit] = []
    excluded: list[SweepExclusion] = []
    tables, not_swept = _reflect_all(conn, plan, schema)
    excl = exclusions(plan, subject, after)
    extra_free = set(budget.free_text)
    with _timeout_scope(conn, dialect, budget.statement_timeout_s):
        for done, (name, table) in enumerate(sorted(tables.items()), 1):
            targets = _targets(table, found, dialect, country, budget, extra_free)
            if targets:
                why = _over_budget(conn, table, budget, dialect)
                if why:
                    not_swept.append(f"{name}: {why}")
                else:
                    outcome = _sweep_table(conn, table, targets, excl.get(name, []), budget)
                    if isinstance(outcome, str):
                        not_swept.append(f"{name}: {outcome}")
                    else:
                        searched += sorted({t.location for t in targets})
                        hits += outcome[0]
                        excluded += outcome[1]
            if progress is not None:
                progress(done)
    not_swept += sorted(f"{loc}: listed in sweep.free_text, no such column" for loc in extra_free)
    return SweepReport(
        store=store,
        method=METHOD,
        searched=sorted(set(searched)),
        hits=hits,
        excluded=excluded,
        not_swept=not_swept,
        rules=rules,
        kinds=sorted(found),
    )


def exclusions(plan: SqlPlan | None, subject: Subject, after: str) -> dict[str, list[Exclusion]]:
    """Per table name: rows the catalog accounts for, and the reason recorded for them.

    After an erasure, rows of ``erase: keep`` collections (``kept:<basis>``); after an access,
    rows of every collection the access matcher returns (``accessed``).
    """
    out: dict[str, list[Exclusion]] = {}
    if plan is None:
        return out
    for name, coll in plan.config.collections.items():
        if after != "access" and coll.erase.strategy != "keep":
            continue
        clause = plan.match(name, subject)
        if clause is None:
            continue
        reason = "accessed" if after == "access" else f"kept:{coll.erase.basis}"
        out.setdefault(plan.tables[name].name, []).append((clause, reason))
    return out


# -- what to search ----------------------------------------------------------------------------


def _reflect_all(
    conn: Connection, plan: SqlPlan | None, schema: str | None
) -> tuple[dict[str, Table], list[str]]:
    """Every table (and PostgreSQL materialized view) of the schema, reflected.

    Tables the plan already reflected are reused: its match clauses name those objects, and a
    second object of the same table would join the table with itself.
    """
    insp = inspect(conn)
    names = list(insp.get_table_names(schema=schema))
    if conn.dialect.name == "postgresql":
        names += insp.get_materialized_view_names(schema=schema)
    known = {t.name: t for t in (plan.tables.values() if plan else [])}
    meta = MetaData(schema=schema)
    tables: dict[str, Table] = {}
    failed: list[str] = []
    for name in names:
        if name in known and known[name].schema == schema:
            tables[name] = known[name]
            continue
        try:
            tables[name] = Table(name, meta, autoload_with=conn, resolve_fks=False)
        except Exception as exc:  # a table dropped meanwhile, a type the driver cannot read
            failed.append(f"{name}: cannot be reflected ({type(exc).__name__})")
    return tables, failed


def _targets(
    table: Table,
    found: dict[str, tuple[str, tuple[str, ...]]],
    dialect: str,
    country: str | None,
    budget: SweepBudget,
    extra_free: set[str],
) -> list[_Target]:
    """The conditions searched in one table: per text-like column and strong kind."""
    lowered = needles(found)
    out: list[_Target] = []
    for col in table.columns:
        location = f"{table.name}.{col.name}"
        shape = _text_shape(col.type, budget.free_text_min_length)
        if location in extra_free:
            extra_free.discard(location)
            shape = "free" if shape is not None else None
        if shape is None:
            continue
        expr: Any = col if shape != "cast" else cast(col, String)
        if shape == "cast":
            shape = "free"
        for kind, (mode, values) in found.items():
            cond = normalized(expr, mode, dialect, country_code=country).in_(values)
            if shape == "free":
                text_of = func.lower(expr if isinstance(expr.type, String) else cast(expr, String))
                likes = [
                    text_of.like(f"%{escape_like(v, _ESC)}%", escape=_ESC) for v in lowered[kind]
                ]
                cond = or_(cond, *likes)
            mode_name = "substring" if shape == "free" else "equality"
            out.append(_Target(location, kind, mode_name, cond))
    return out


def _text_shape(col_type: Any, free_min: int) -> str | None:
    """``plain`` (equality), ``free`` (also substring), ``cast`` (search its text form), None."""
    if isinstance(col_type, JSON | NullType):
        return "cast"  # JSON documents; untyped SQLite columns may hold text
    if isinstance(col_type, ARRAY):
        return "cast" if isinstance(col_type.item_type, String) else None
    if isinstance(col_type, Text):
        return "free"
    if isinstance(col_type, String):
        length = col_type.length
        return "free" if length is None or length >= free_min else "plain"
    return None  # numbers, dates, binary: not searched (stated in the rules)


def _rules(
    found: dict[str, tuple[str, tuple[str, ...]]], budget: SweepBudget, after: str
) -> list[str]:
    rules = [
        _RULES.get(mode, _RULES["exact"]).format(kind=kind) for kind, (mode, _) in found.items()
    ]
    rules.append(
        "free text (TEXT/CLOB/JSON, declared length >= "
        f"{budget.free_text_min_length}, sweep.free_text): lower(column) contains lower(value)"
    )
    rules.append("every table of the schema, every text-like column; numbers, dates, binary not")
    if after == "access":
        rules.append("rows the access matcher returns are excluded (recorded)")
    else:
        rules.append("rows of kept-by-policy collections are excluded (recorded)")
    return rules


# -- budget and timeouts -----------------------------------------------------------------------


def _over_budget(conn: Connection, table: Table, budget: SweepBudget, dialect: str) -> str | None:
    """Why the table is over the row budget, or None (statistics, else a bounded count)."""
    try:
        estimate = _row_estimate(conn, table, dialect)
        if estimate is not None and estimate > budget.max_rows:
            return f"over max_rows (about {estimate} rows > {budget.max_rows})"
        if estimate is None or estimate < COUNT_EXACTLY_BELOW:
            probe = select(_ONE).select_from(table).limit(budget.max_rows + 1).subquery()
            rows = _run(conn, select(func.count()).select_from(probe), budget)[0]
            if rows > budget.max_rows:
                return f"over max_rows (more than {budget.max_rows} rows)"
    except _Timeout:
        return f"statement timeout ({budget.statement_timeout_s:g} s) counting rows"
    except DBAPIError as exc:
        return f"cannot count rows ({_error_kind(exc)})"
    return None


def _row_estimate(conn: Connection, table: Table, dialect: str) -> int | None:
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


def _sweep_table(
    conn: Connection,
    table: Table,
    targets: list[_Target],
    excl: list[Exclusion],
    budget: SweepBudget,
) -> tuple[list[SweepHit], list[SweepExclusion]] | str:
    """One SELECT reading the table once; hits and exclusions, or why it could not run."""
    columns = []
    for target in targets:
        columns.append(func.sum(_pick(target.cond, excl, None)))
        columns += [func.sum(_pick(target.cond, excl, k)) for k in range(len(excl))]
    where = or_(*[t.cond for t in targets])
    stmt = select(*columns).select_from(table).where(where)
    try:
        row = _run(conn, stmt, budget)
    except _Timeout:
        return f"statement timeout ({budget.statement_timeout_s:g} s)"
    except DBAPIError as exc:  # the message may quote data: keep the class and SQLSTATE only
        return f"not swept ({_error_kind(exc)})"
    hits: list[SweepHit] = []
    kept: list[SweepExclusion] = []
    values = iter(row)
    for target in targets:
        count = int(next(values) or 0)
        if count:
            hits.append(SweepHit(target.location, count, target.kind, target.mode))
        for _, reason in excl:
            n = int(next(values) or 0)
            if n:
                kept.append(SweepExclusion(target.location, n, reason))
    return hits, kept


def _pick(cond: ColumnElement[bool], excl: list[Exclusion], index: int | None) -> Any:
    """1 for a row the condition finds whose first matching exclusion is ``index``.

    ``index`` None: rows no exclusion covers (the hits). A NULL match clause counts as "not
    excluded", so an unknown never hides a hit.
    """
    whens = [(clause, _ONE if k == index else _ZERO) for k, (clause, _) in enumerate(excl)]
    inner = case(*whens, else_=_ONE if index is None else _ZERO) if whens else _ONE
    return case((cond, inner), else_=_ZERO)


def _run(conn: Connection, stmt: Any, budget: SweepBudget) -> Any:
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
                        raise _Timeout from None
                    raise
        return conn.execute(stmt).one()
    except DBAPIError as exc:
        if _is_timeout(exc):
            raise _Timeout from None
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
def _timeout_scope(conn: Connection, dialect: str, seconds: float) -> Iterator[None]:
    """PostgreSQL: a transaction-local statement_timeout, restored afterwards."""
    if dialect != "postgresql":
        yield
        return
    before = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar()
    ms = f"{max(1, int(seconds * 1000))}ms"
    conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": ms})
    try:
        yield
    finally:
        conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": before})


def _is_timeout(exc: DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "57014":  # PostgreSQL query_canceled
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1969, 3024):  # MariaDB max_statement_time, MySQL max_execution_time
        return True
    return isinstance(orig, sqlite3.OperationalError) and "interrupted" in str(orig)


def _error_kind(exc: DBAPIError) -> str:
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
