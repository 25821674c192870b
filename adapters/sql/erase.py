"""Erasure in one transaction: set-based statements, batched by primary-key ranges.

A subject with a few rows gets one statement per collection. A subject with more rows than
``batch_size`` in a collection gets one statement per key range (``pk >= :lo AND pk < :hi``,
boundaries read up front from the index), so every statement stays bounded and the activity can
heartbeat between them, still inside the same transaction: either all of the subject's rows
change or none do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from adapters.base import Progress, Subject
from adapters.sql.config import HmacValue
from adapters.sql.plan import Edge, SqlPlan
from dsrflow.domain import CollectionCount


@dataclass
class EraseRun:
    """What one erasure did: counts per collection and the statement templates it ran."""

    counts: list[CollectionCount] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    done: int = 0

    def template(self, sql: str) -> None:
        """Record a statement template once (batches repeat the same shape)."""
        if sql not in self.templates:
            self.templates.append(sql)


class Eraser:
    """Runs one subject's erasure over a connection inside an open transaction."""

    def __init__(self, plan: SqlPlan, hmac_keys: Mapping[str, bytes], batch_size: int) -> None:
        self.plan = plan
        self.hmac_keys = hmac_keys
        self.batch_size = batch_size

    def run(self, conn: Connection, subject: Subject, progress: Progress | None) -> EraseRun:
        """Erase every collection in dependency order; returns counts and templates."""
        plan, run = self.plan, EraseRun()
        values = read_edge_values(conn, plan, subject, plan.value_edges())
        clauses = {n: plan.match(n, subject, values) for n in plan.config.collections}
        before = {n: count(conn, plan, n, c) for n, c in clauses.items()}
        for name in plan.erase_order():
            clause, spec = clauses[name], plan.coll(name).erase
            affected, left = 0, None
            if clause is not None and spec.strategy != "keep":
                affected, left = self._erase_collection(
                    conn, name, clause, before[name], run, progress
                )
            run.counts.append(
                CollectionCount(name, spec.strategy, before[name], affected, residual=left)
            )
        return run

    def _erase_collection(
        self,
        conn: Connection,
        name: str,
        clause: ColumnElement[bool],
        matched: int,
        run: EraseRun,
        progress: Progress | None,
    ) -> tuple[int, int]:
        affected = left = 0
        for window in self._windows(conn, name, clause, matched):
            scoped = and_(clause, window)
            originals = self._originals(conn, name, scoped)
            hashed = self._hashed(name, originals)
            stmt = self.plan.erase_statement(name, scoped, hashed)
            assert stmt is not None  # keep is filtered out by the caller
            run.template(self._sql(conn, stmt))
            n = conn.execute(stmt).rowcount or 0
            affected += n
            run.done += n
            if progress:
                progress(run.done)  # one heartbeat per batch
            # Counted inside the transaction, while every parent this collection is reached
            # through still exists: the strongest residual check there is.
            left += count(conn, self.plan, name, self.plan.residual(name, scoped, originals))
        return affected, left

    def _windows(
        self, conn: Connection, name: str, clause: ColumnElement[bool], matched: int
    ) -> list[ColumnElement[bool]]:
        """Key-range predicates covering the matched rows, ``batch_size`` rows each."""
        table = self.plan.tables[name]
        pk = list(table.primary_key.columns)
        if matched <= self.batch_size or len(pk) != 1:
            return [true()]
        key = pk[0]
        # Only the boundaries travel: every batch_size-th key, picked by a window function.
        numbered = select(key.label("k"), func.row_number().over(order_by=key).label("n"))
        sub = numbered.where(clause).subquery()
        stmt = select(sub.c.k).where((sub.c.n - 1) % self.batch_size == 0).order_by(sub.c.k)
        bounds = [v for (v,) in conn.execute(stmt)]
        windows: list[ColumnElement[bool]] = []
        for lo, hi in zip(bounds, [*bounds[1:], None], strict=True):
            windows.append(key >= lo if hi is None else and_(key >= lo, key < hi))
        return windows

    def _originals(
        self, conn: Connection, name: str, clause: ColumnElement[bool]
    ) -> dict[str, list[Any]]:
        table = self.plan.tables[name]
        out = {}
        for fname in self.plan.rewritten_fields(name):
            col = table.c[fname]
            stmt = select(col).where(clause, col.is_not(None)).distinct()
            out[fname] = [v for (v,) in conn.execute(stmt)]
        return out

    def _hashed(self, name: str, originals: dict[str, list[Any]]) -> dict[str, dict[Any, str]]:
        hashed = {}
        for fname, rule in self.plan.coll(name).erase.fields.items():
            if isinstance(rule, HmacValue):
                key = self.hmac_keys[rule.hmac.key_env]
                hashed[fname] = {
                    old: keyed_hash(key, old)[: rule.hmac.length] for old in originals[fname]
                }
        return hashed

    @staticmethod
    def _sql(conn: Connection, stmt: Any) -> str:
        return str(stmt.compile(dialect=conn.dialect))


def keyed_hash(key: bytes, value: Any) -> str:
    """Hex HMAC-SHA256 of a value's text form: the same value always maps to the same hash."""
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()


def read_edge_values(
    conn: Connection, plan: SqlPlan, subject: Subject, edges: list[Edge]
) -> dict[Edge, list[Any]]:
    """Values of parent columns that children are found through, read before anything changes."""
    values: dict[Edge, list[Any]] = {}
    for parent, pcol in edges:
        clause = plan.match(parent, subject, values)
        if clause is None:
            values[(parent, pcol)] = []
            continue
        col = plan.tables[parent].c[pcol]
        stmt = select(col).where(clause, col.is_not(None)).distinct()
        values[(parent, pcol)] = [v for (v,) in conn.execute(stmt)]
    return values


def count(conn: Connection, plan: SqlPlan, name: str, clause: Any) -> int:
    """Rows of a collection matching a clause (0 when the clause cannot match)."""
    if clause is None:
        return 0
    stmt = select(func.count()).select_from(plan.tables[name]).where(clause)
    return int(conn.execute(stmt).scalar_one())
