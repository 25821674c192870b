"""Rectification (Art. 16) and restriction (Art. 18): one set-based UPDATE per collection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Table, and_, or_, update
from sqlalchemy.sql.dml import Update

from dsrflow.adapters.sdk import OperationReceipt, Subject, operation_digest
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sql.config import CollectionConfig
from dsrflow.adapters.sql.engine import map_error
from dsrflow.adapters.sql.erase import count
from dsrflow.adapters.sql.plan import SqlPlan

Statement = Callable[[Table, CollectionConfig, Any], Update | None]
"""Builds one collection's UPDATE over its match clause (None: nothing to set there)."""


def rectify_statement(changes: Mapping[str, str]) -> Statement:
    """Set the catalog's logical fields to the requested values."""

    def statement(table: Table, coll: CollectionConfig, clause: Any) -> Update | None:
        values = {col: changes[f] for f, col in coll.rectify.items() if f in changes}
        return update(table).where(clause).values(values) if values else None

    return statement


def restrict_statement(table: Table, coll: CollectionConfig, clause: Any) -> Update | None:
    """Set the restriction marker where it is not set yet (idempotent)."""
    spec = coll.restrict
    if spec is None:
        return None
    col = table.c[spec.column]
    pending = and_(clause, or_(col.is_(None), col != spec.value))
    return update(table).where(pending).values({spec.column: spec.value})


class CollectionUpdates:
    """Runs one statement kind over every collection of a store, in one transaction."""

    def __init__(self, store: str, engine: Engine, plan: SqlPlan) -> None:
        self.store = store
        self.engine = engine
        self.plan = plan

    def run(
        self, subject: Subject, statement: Statement, action: str, doing: str
    ) -> OperationReceipt:
        """One set-based UPDATE per collection that has one; counts per collection."""
        plan = self.plan
        counts: list[CollectionCount] = []
        templates: list[str] = []
        try:
            with self.engine.begin() as conn:
                for name, coll in plan.config.collections.items():
                    clause = plan.match(name, subject)
                    stmt = (
                        statement(plan.tables[name], coll, clause) if clause is not None else None
                    )
                    if stmt is None:
                        continue
                    matched = count(conn, plan, name, clause)
                    templates.append(str(stmt.compile(dialect=self.engine.dialect)))
                    affected = conn.execute(stmt).rowcount or 0
                    counts.append(CollectionCount(name, action, matched, affected))
        except Exception as exc:
            raise map_error(self.store, exc, doing) from None
        return receipt_of(action, counts, templates)


def receipt_of(
    action: str, counts: list[CollectionCount], templates: list[str]
) -> OperationReceipt:
    """The receipt of a verb: totals over the subject's own collections, the templates' digest.

    Pointer rows (``unlink``) are other people's: listed, counts only, never the subject's totals.
    """
    own = [c for c in counts if c.action != "unlink"]
    return OperationReceipt(
        action=action,
        matched=sum(c.matched for c in own),
        affected=sum(c.affected for c in own),
        operation_digest=operation_digest(templates),
        collections=counts,
    )
