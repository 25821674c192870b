"""``dsrflow stores test`` for a SQL store: connection, schema, foreign keys, privileges.

Everything here reads or runs statements with a false predicate inside a transaction that is
rolled back: a check never changes a row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import false, select, update

from dsrflow.adapters.sdk import AdapterError, Check, CheckReport
from dsrflow.adapters.sql.engine import map_error
from dsrflow.adapters.sql.fk import by_table, fk_problems, widening_references
from dsrflow.adapters.sql.indexes import index_checks

if TYPE_CHECKING:
    from dsrflow.adapters.sql.adapter import SqlAdapter
    from dsrflow.adapters.sql.plan import SqlPlan


def check_store(adapter: SqlAdapter) -> CheckReport:
    """Every check of one SQL store, each PASS, WARN (``warning``) or FAIL."""
    store = adapter.store
    checks: list[Check] = []
    try:
        with adapter.engine.connect() as conn:
            conn.execute(select(1))
        checks.append(Check("connect", True, adapter.engine.url.render_as_string(True)))
    except Exception as exc:
        checks.append(Check("connect", False, str(map_error(store, exc, "connecting"))))
        return CheckReport(store, checks)
    try:
        tables, problems = adapter.reflect_all()
    except Exception as exc:
        checks.append(Check("schema", False, str(map_error(store, exc, "reading the schema"))))
        return CheckReport(store, checks)
    if problems:
        # Say what is wrong with every collection, not just the first one.
        for name in adapter.config.collections:
            mine = [msg for coll, msg in problems if coll == name]
            if mine:
                checks.append(Check(f"schema:{name}", False, "; ".join(mine)))
            else:
                detail = f"table {tables[name].name} as declared"
                checks.append(Check(f"schema:{name}", True, detail))
        return CheckReport(store, checks)
    try:
        plan = adapter.plan()
    except AdapterError as exc:
        checks.append(Check("schema", False, str(exc)))
        return CheckReport(store, checks)
    n_tables = len({t.name for t in plan.tables.values()})
    checks.append(
        Check(
            "schema",
            True,
            f"{len(plan.tables)} {'collection' if len(plan.tables) == 1 else 'collections'} "
            f"on {n_tables} "
            f"{'table' if n_tables == 1 else 'tables'}, declared columns exist",
        )
    )
    checks += foreign_key_checks(plan)
    try:
        if adapter.hmac_keys():
            checks.append(Check("secrets", True, "every HMAC key_env is set"))
    except AdapterError as exc:
        checks.append(Check("secrets", False, str(exc)))
    checks += privilege_checks(adapter, plan)
    checks += index_checks(adapter.engine, plan)
    return CheckReport(store, checks)


def foreign_key_checks(plan: SqlPlan) -> list[Check]:
    """A FAIL per uncovered foreign key, a WARN per widening reference, the erasure order."""
    checks = [Check(p.fk.label, False, p.detail()) for p in fk_problems(plan)]
    try:
        order = plan.erase_order()
    except AdapterError as exc:
        return [*checks, Check("erase order", False, str(exc))]
    if not checks:
        tables = by_table(plan)
        incoming = [fk for fk in plan.fks if fk.referred_table in tables]
        checks.append(
            Check(
                "foreign keys",
                True,
                f"{len(incoming)} into the catalog's tables, each covered; "
                f"erasure order: {', '.join(order)}",
            )
        )
    for name, detail in widening_references(plan):
        checks.append(Check(name, True, detail, warning=True))
    return checks


def privilege_checks(adapter: SqlAdapter, plan: SqlPlan) -> list[Check]:
    """Run every statement shape with a false predicate, then roll back, per collection."""
    checks = []
    for name, coll in adapter.config.collections.items():
        table = plan.tables[name]
        stmts: list[Any] = []
        what = []
        if not coll.pointer_only:  # never erased, only unlinked: needs no DELETE privilege
            stmts.append(plan.erase_statement(name, false()))
            what.append(f"{coll.erase.strategy} on {table.name}")
        if coll.rectify:
            cols = sorted(set(coll.rectify.values()))
            stmts.append(update(table).where(false()).values({c: table.c[c] for c in cols}))
            what.append("rectify")
        if coll.restrict:
            col = coll.restrict.column
            stmts.append(update(table).where(false()).values({col: coll.restrict.value}))
            what.append("restrict")
        for col, rule in coll.pointers.items():
            stmts.append(plan.unlink_statement(name, col, rule, false()))
            what.append(f"unlink {col}")
        try:
            # The real statement shapes with a false predicate, then roll back: proves the
            # credentials may do it without touching a row.
            with adapter.engine.connect() as conn, conn.begin() as tx:
                conn.execute(select(table).where(false()))
                for stmt in stmts:
                    if stmt is not None:
                        conn.execute(stmt)
                tx.rollback()
            checks.append(Check(f"privileges:{name}", True, ", ".join(what)))
        except Exception as exc:
            detail = str(map_error(adapter.store, exc, ", ".join(what)))
            checks.append(Check(f"privileges:{name}", False, detail))
    return checks
