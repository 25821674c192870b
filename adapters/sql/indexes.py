"""Whether an index serves each case-insensitive or phone identity column (``stores test``).

The answer comes from the database's own planner, asked about the real match clause:
PostgreSQL ``EXPLAIN`` with sequential scans discouraged (so a usable index is chosen even on a
tiny table), MariaDB/MySQL ``EXPLAIN`` (``possible_keys``), SQLite ``EXPLAIN QUERY PLAN``.
A column no index serves is a PASS with a "full scan" note: correct, only slower.

MariaDB has no expression indexes; a column with a case-insensitive, pad-space collation is
matched through its plain index instead (see ``ci_columns`` and ``SqlPlan.identity_clause``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from dsrflow.adapters.sdk import Check
from dsrflow.adapters.sdk.identity import IdentityKinds
from dsrflow.adapters.sql.config import SqlConfig
from dsrflow.adapters.sql.normalize import normalized
from dsrflow.adapters.sql.plan import SqlPlan

_PROBE = "dsrflow-index-probe@example.invalid"  # not personal data: only the plan is read


def ci_columns(
    engine: Engine, config: SqlConfig, kinds: IdentityKinds, tables: dict[str, Table]
) -> set[tuple[str, str]]:
    """MariaDB/MySQL casefold identity columns a plain index can serve, as (collection, column).

    Those whose collation is case-insensitive and pads spaces: ``col IN (...)`` then finds every
    case and trailing-space variant through the column's index. Empty on other databases.
    """
    if engine.dialect.name not in ("mysql", "mariadb"):
        return set()
    wanted = [
        (name, column)
        for name, coll in config.collections.items()
        for column, spec in coll.identities.items()
        if (spec.match or kinds.mode(spec.kind)) == "casefold"
    ]
    out: set[tuple[str, str]] = set()
    if not wanted:
        return out
    with engine.connect() as conn:
        for name, column in wanted:
            table = tables[name]
            row = conn.execute(
                text(
                    "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ="
                    " COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table AND COLUMN_NAME = :col"
                ),
                {"schema": table.schema, "table": table.name, "col": column},
            ).first()
            collation = (row[0] or "") if row else ""
            if collation.endswith("_ci") and "nopad" not in collation:
                out.add((name, column))
    return out


def index_checks(engine: Engine, plan: SqlPlan) -> list[Check]:
    """One check per casefold/phone identity column: index-served or full scan (both PASS)."""
    checks = []
    for name, coll in plan.config.collections.items():
        table = plan.tables[name]
        for column in coll.identities:
            mode = plan.identity_mode(name, column)
            if mode == "exact":
                continue
            probe = "+440000000000" if mode == "phone" else _PROBE
            clause = plan.identity_clause(name, column, (probe,))
            if clause is None:  # the probe does not normalise under this mode: nothing to ask
                continue
            stmt = select(table.c[column]).where(clause)
            where = f"{table.name}.{column} ({mode})"
            try:
                served = _uses_index(engine, stmt)
            except Exception as exc:  # the check is advice: report it, never fail the store
                detail = f"{where}: could not ask the planner ({type(exc).__name__})"
                checks.append(Check(f"index:{name}.{column}", True, detail))
                continue
            detail = (
                f"{where}: served by an index"
                if served
                else _advice(plan, table, column, mode, engine)
            )
            checks.append(Check(f"index:{name}.{column}", True, detail))
    return checks


class _Explain(Executable, ClauseElement):
    """``EXPLAIN <select>`` with the select's parameters bound as usual."""

    inherit_cache = False

    def __init__(self, stmt: Any, prefix: str) -> None:
        self.stmt = stmt
        self.prefix = prefix


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    body: str = compiler.process(element.stmt, **kw)
    return element.prefix + " " + body


def _uses_index(engine: Engine, stmt: Any) -> bool:
    dialect = engine.dialect.name
    with engine.connect() as conn, conn.begin() as tx:
        if dialect == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in conn.execute(_Explain(stmt, "EXPLAIN")))
            tx.rollback()
            return "Seq Scan" not in plan
        if dialect in ("mysql", "mariadb"):
            explained = conn.execute(_Explain(stmt, "EXPLAIN")).mappings().all()
            tx.rollback()
            return all(r.get("possible_keys") for r in explained)
        steps = conn.execute(_Explain(stmt, "EXPLAIN QUERY PLAN")).all()
        tx.rollback()
        details = " ".join(str(r[-1]) for r in steps)
        return "USING" in details and "INDEX" in details and "SCAN" not in details


def _advice(plan: SqlPlan, table: Any, column: str, mode: str, engine: Engine) -> str:
    where = f"{table.name}.{column} ({mode})"
    if plan.dialect in ("mysql", "mariadb"):
        if mode == "casefold":
            return (
                f"{where}: full scan; index the column with a case-insensitive collation "
                f"(e.g. utf8mb4_general_ci) to serve it: CREATE INDEX ... ON {table.name} "
                f"({column})"
            )
        return f"{where}: full scan (MariaDB/MySQL cannot index the computed E.164 form)"
    if mode == "phone":
        return (
            f"{where}: full scan; at scale store the E.164 form in an indexed column and "
            "declare it {kind: phone, match: exact}"
        )
    if plan.dialect != "postgresql":
        # SQLite's casefold is an application function (dsrflow_casefold): an index on it would
        # break every other writer of the table that does not register it. Scan instead.
        return f"{where}: full scan (SQLite cannot index the casefold form safely)"
    expr = normalized(table.c[column], "casefold", plan.dialect)
    sql = str(expr.compile(dialect=engine.dialect))
    return f"{where}: full scan; CREATE INDEX ... ON {table.name} (({sql})) to serve it"
