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
(``kept:<basis>``); after an access, rows the access matcher returned (``accessed``); either
way, a pointer rule's column in other people's rows that point at the subject's (``pointer``).
"""

from __future__ import annotations

from collections.abc import Callable
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
from sqlalchemy.types import (
    Boolean,
    Date,
    DateTime,
    Integer,
    Interval,
    LargeBinary,
    NullType,
    Numeric,
    Time,
    TypeEngine,
    Uuid,
)

from dsrflow.adapters.sdk import Subject, SweepBudget
from dsrflow.adapters.sdk.sweeping import NO_STRONG_IDENTIFIER, escape_like, needles, searchable
from dsrflow.adapters.sdk.sweeps import SweepExclusion, SweepHit, SweepReport
from dsrflow.adapters.sql.bounded import (
    StatementTimeout,
    error_kind,
    over_budget,
    run_one,
    timeout_scope,
)
from dsrflow.adapters.sql.normalize import normalized
from dsrflow.adapters.sql.plan import SqlPlan

METHOD = "sql-sweep"
_ESC = "!"
_RULES = {
    "casefold": "{kind}: casefold(column) = value (every white space trimmed, lower-cased)",
    "phone": "{kind}: E.164 form of column = value",
    "exact": "{kind}: column = value",
}
_ONE, _ZERO = literal_column("1", Integer), literal_column("0", Integer)
_NOT_TEXT = (Integer, Numeric, Boolean, Date, DateTime, Time, Interval, LargeBinary, Uuid)

Progress = Callable[[int], None]
# Rows the catalog accounts for, why, and the one column it applies to (None: every column).
Exclusion = tuple[ColumnElement[bool], str, str | None]


@dataclass(frozen=True)
class _Target:
    """One column searched for one kind: where, and the condition that finds the subject."""

    location: str
    column: str
    kind: str
    mode: str  # equality | substring
    cond: ColumnElement[bool]


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
    with timeout_scope(conn, dialect, budget.statement_timeout_s):
        for done, (name, table) in enumerate(sorted(tables.items()), 1):
            targets = _targets(table, found, dialect, country, budget, extra_free)
            if targets:
                why = over_budget(conn, table, budget, dialect)
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
    rows of every collection the access matcher returns (``accessed``). Either way, a pointer
    rule's column in other people's rows that point at the subject's (``pointer``): those rows
    are not hers, only that column names her.
    """
    out: dict[str, list[Exclusion]] = {}
    if plan is None:
        return out
    for name, coll in plan.config.collections.items():
        table = plan.tables[name]
        for column, spec in getattr(coll, "pointers", {}).items():
            target, target_col = spec.target()
            clause = plan.match(target, subject)
            if clause is not None:
                held = plan.tables[target].c[target_col]
                # correlate(None): a self-reference must not turn into a correlated subquery
                sub = select(held).where(clause, held.is_not(None)).correlate(None)
                out.setdefault(table.name, []).append((table.c[column].in_(sub), "pointer", column))
        if after != "access" and coll.erase.strategy != "keep":
            continue
        clause = plan.match(name, subject)
        if clause is None:
            continue
        reason = "accessed" if after == "access" else f"kept:{coll.erase.basis}"
        out.setdefault(table.name, []).append((clause, reason, None))
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
        # A partition is read through its partitioned table: counting both would double it.
        partitions = set(_pg_partitions(conn, schema))
        names = [n for n in names if n not in partitions]
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


def _pg_partitions(conn: Connection, schema: str | None) -> list[str]:
    sql = (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relispartition AND n.nspname = COALESCE(:s, current_schema())"
    )
    return [row[0] for row in conn.execute(text(sql), {"s": schema})]


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
            cond: ColumnElement[bool] = normalized(expr, mode, dialect, country_code=country).in_(
                values
            )
            if shape == "free":
                text_of = func.lower(expr if isinstance(expr.type, String) else cast(expr, String))
                likes = [
                    text_of.like(f"%{escape_like(v, _ESC)}%", escape=_ESC) for v in lowered[kind]
                ]
                cond = or_(cond, *likes)
            mode_name = "substring" if shape == "free" else "equality"
            out.append(_Target(location, col.name, kind, mode_name, cond))
    return out


def _text_shape(col_type: Any, free_min: int) -> str | None:
    """``plain`` (equality), ``free`` (also substring), ``cast`` (search its text form), None.

    None only for numbers, dates, booleans, binary and UUIDs (the rules say so); a type this
    code does not know (a PostgreSQL DOMAIN's base, hstore, tsvector, inet, ...) is searched by
    its text form rather than silently left out.
    """
    base = getattr(col_type, "data_type", None)  # a PostgreSQL DOMAIN: its base type decides
    if isinstance(base, TypeEngine):
        return _text_shape(base, free_min)
    if isinstance(col_type, JSON | NullType):
        return "cast"  # JSON documents; untyped SQLite columns may hold text
    if isinstance(col_type, ARRAY):
        return "cast" if isinstance(col_type.item_type, String) else None
    if isinstance(col_type, Text):
        return "free"
    if isinstance(col_type, String):
        length = col_type.length
        return "free" if length is None or length >= free_min else "plain"
    if isinstance(col_type, _NOT_TEXT):
        return None  # numbers, dates, binary: not searched (stated in the rules)
    return "cast"


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
    rules.append("pointer-rule columns of other people's rows are excluded (recorded)")
    return rules


# -- one statement per table --------------------------------------------------------------------


def _sweep_table(
    conn: Connection,
    table: Table,
    targets: list[_Target],
    excl: list[Exclusion],
    budget: SweepBudget,
) -> tuple[list[SweepHit], list[SweepExclusion]] | str:
    """One SELECT reading the table once; hits and exclusions, or why it could not run."""
    columns = []
    applies: list[list[Exclusion]] = []
    for target in targets:
        mine = [e for e in excl if e[2] in (None, target.column)]
        applies.append(mine)
        columns.append(func.sum(_pick(target.cond, mine, None)))
        columns += [func.sum(_pick(target.cond, mine, k)) for k in range(len(mine))]
    where = or_(*[t.cond for t in targets])
    stmt = select(*columns).select_from(table).where(where)
    try:
        row = run_one(conn, stmt, budget)
    except StatementTimeout:
        return f"statement timeout ({budget.statement_timeout_s:g} s)"
    except DBAPIError as exc:  # the message may quote data: keep the class and SQLSTATE only
        return f"not swept ({error_kind(exc)})"
    hits: list[SweepHit] = []
    kept: list[SweepExclusion] = []
    values = iter(row)
    for target, mine in zip(targets, applies, strict=True):
        count = int(next(values) or 0)
        if count:
            hits.append(SweepHit(target.location, count, target.kind, target.mode))
        for _, reason, _ in mine:
            n = int(next(values) or 0)
            if n:
                kept.append(SweepExclusion(target.location, n, reason))
    return hits, kept


def _pick(cond: ColumnElement[bool], excl: list[Exclusion], index: int | None) -> Any:
    """1 for a row the condition finds whose first matching exclusion is ``index``.

    ``index`` None: rows no exclusion covers (the hits). A NULL match clause counts as "not
    excluded", so an unknown never hides a hit.
    """
    whens = [(clause, _ONE if k == index else _ZERO) for k, (clause, _, _) in enumerate(excl)]
    inner = case(*whens, else_=_ONE if index is None else _ZERO) if whens else _ONE
    return case((cond, inner), else_=_ZERO)
