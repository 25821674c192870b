"""Erasure in one transaction: set-based statements, batched by primary-key ranges.

A subject with a few rows gets one statement per collection. A subject with more rows than
``batch_size`` in a collection gets one statement per batch of primary keys (read once, in key
order), so every statement stays bounded and the activity can heartbeat between them, still
inside the same transaction: either all of the subject's rows change or none do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Table, and_, any_, bindparam, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dsrflow.adapters.sdk import PermanentAdapterError, Progress, Subject
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sql.config import HmacValue, PointerSpec
from dsrflow.adapters.sql.fk import blocking_rows, fk_problems
from dsrflow.adapters.sql.plan import Edge, SqlPlan


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
        """Erase every collection in dependency order; returns counts and templates.

        Raises:
            PermanentAdapterError: A foreign key the catalog does not cover would block (or
                cascade from) a change, for this subject's rows; raised before anything changed.

        """
        plan, run = self.plan, EraseRun()
        order = plan.erase_order()
        values = read_edge_values(conn, plan, subject, plan.value_edges())
        clauses = {n: plan.match(n, subject, values) for n in plan.config.collections}
        refuse_blocked(conn, plan, clauses)
        # Anonymised and kept collections are counted before anything changes (the count also
        # says whether to batch); a delete counts what it finds itself: deleted + still there.
        before = {
            n: count(conn, plan, n, c)
            for n, c in clauses.items()
            if plan.coll(n).erase.strategy != "delete"
        }
        # Other people's pointers to the subject's rows go first: before the rows they point at
        # (foreign keys) and before the holder's own erasure (which tells her rows from theirs).
        for holder, column, rule in plan.pointer_rules():
            pointing = plan.pointing(holder, column, rule, values, clauses[holder])
            matched = count(conn, plan, holder, pointing)
            unlinked = 0
            if matched:
                stmt = plan.unlink_statement(holder, column, rule, pointing)
                unlinked = self._execute(conn, stmt, run, progress)
            still = count(conn, plan, holder, pointing)
            run.counts.append(
                CollectionCount(f"{holder}.{column}", "unlink", matched, unlinked, still)
            )
            self._unlink_own(conn, holder, column, rule, values, clauses[holder], run)
        for name in order:
            if plan.coll(name).pointer_only:
                continue  # its rows are never the subject's (unlinked above)
            clause, spec = clauses[name], plan.coll(name).erase
            affected, left = 0, None  # left: None when nothing could match, so none was counted
            if clause is not None and spec.strategy == "delete":
                affected, left = self._delete_collection(conn, name, clause, run, progress)
            elif clause is not None and spec.strategy != "keep":
                affected, left = self._erase_collection(
                    conn, name, clause, before[name], run, progress
                )
            matched = affected + (left or 0) if spec.strategy == "delete" else before[name]
            # What is retained (kept, or anonymised rows) carries the catalog's basis and date.
            retained = spec.strategy != "delete"
            run.counts.append(
                CollectionCount(
                    name,
                    spec.strategy,
                    matched,
                    affected,
                    left,
                    basis=spec.basis if retained else None,
                    until=spec.until.isoformat() if retained and spec.until else None,
                )
            )
        return run

    def _unlink_own(
        self,
        conn: Connection,
        holder: str,
        column: str,
        rule: PointerSpec,
        values: dict[Edge, list[Any]],
        mine: ColumnElement[bool] | None,
        run: EraseRun,
    ) -> None:
        """Clear the pointers between the subject's own rows of a table she is deleted from.

        Her rows go anyway; without this, one of her rows pointing at another (two accounts,
        one referred by the other) makes InnoDB, which checks a self-reference row by row,
        refuse the single DELETE. Not counted: these rows are deleted next.
        """
        if mine is None or self.plan.coll(holder).erase.strategy != "delete":
            return
        target, tcol = rule.target()
        if self.plan.tables[target].name != self.plan.tables[holder].name:
            return
        col = self.plan.tables[holder].c[column]
        vals = [v for v in values.get((target, tcol), []) if v is not None]
        if vals:
            clause = and_(col.in_(vals), mine)
            self._execute(conn, self.plan.unlink_statement(holder, column, rule, clause), run, None)

    def _erase_collection(
        self,
        conn: Connection,
        name: str,
        clause: ColumnElement[bool],
        matched: int,
        run: EraseRun,
        progress: Progress | None,
    ) -> tuple[int, int]:
        affected = 0
        seen: dict[str, list[Any]] = {}
        for batch in self._batches(conn, name, clause, matched):
            scoped = clause if batch is None else and_(clause, batch)
            originals = self._originals(conn, name, scoped)
            for fname, old in originals.items():
                seen.setdefault(fname, []).extend(old)
            # Only rows still holding data: a repeated erasure changes nothing (idempotent).
            pending = self.plan.residual(name, scoped)
            stmt = self.plan.erase_statement(name, pending, self._hashed(name, originals))
            assert stmt is not None  # keep is filtered out by the caller
            affected += self._execute(conn, stmt, run, progress)
        # Counted inside the transaction, while every parent this collection is reached through
        # still exists: the strongest residual check there is.
        left = count(conn, self.plan, name, self.plan.residual(name, clause, seen))
        return affected, left

    def _delete_collection(
        self,
        conn: Connection,
        name: str,
        clause: ColumnElement[bool],
        run: EraseRun,
        progress: Progress | None,
    ) -> tuple[int, int]:
        """One plain ``DELETE`` for a subject within a batch, key batches beyond that.

        Whether the subject fits one batch is asked of the planner first (PostgreSQL, where an
        exact count of a large subject costs half a delete): a clear "well within one batch"
        skips the count. Otherwise, and on the other engines, the rows are counted. An estimate
        that is far too low only makes one statement larger than a batch: still correct, still
        one transaction.
        """
        size = self.batch_size
        estimate = planner_rows(conn, self.plan.tables[name], clause)
        # Trusted only where counting would cost something (>= 1,000 rows, so the estimate comes
        # from real statistics) and the subject is well inside one batch; otherwise count.
        small = estimate is not None and 1000 <= estimate <= size // 2
        batches = [None] if small else self._batches(conn, name, clause, count(
            conn, self.plan, name, clause))  # fmt: skip
        affected = 0
        table = self.plan.tables[name]
        for batch in batches:
            stmt = delete(table).where(clause if batch is None else and_(clause, batch))
            affected += self._execute(conn, stmt, run, progress)
        # Same in-transaction residual check as above.
        return affected, count(conn, self.plan, name, clause)

    def _execute(
        self, conn: Connection, stmt: Any, run: EraseRun, progress: Progress | None
    ) -> int:
        """Run one batch statement, record its template, heartbeat with the running count."""
        run.template(self._sql(conn, stmt))
        n = conn.execute(stmt).rowcount or 0
        run.done += n
        if progress:
            progress(run.done)
        return n

    def _batches(
        self, conn: Connection, name: str, clause: ColumnElement[bool], matched: int
    ) -> list[ColumnElement[bool] | None]:
        """Key lists of ``batch_size`` rows each, or ``[None]`` for one statement.

        Only subjects with more rows than a batch (and a single-column primary key) are split:
        their keys are read once, in key order, and each statement names its batch's keys.
        """
        pk = list(self.plan.tables[name].primary_key.columns)
        size = self.batch_size
        if len(pk) != 1 or matched <= size:
            return [None]
        key = pk[0]
        keys = [k for (k,) in conn.execute(select(key).where(clause).order_by(key))]
        chunks = [keys[i : i + size] for i in range(0, len(keys), size)]
        if conn.dialect.name == "postgresql":
            # One array parameter per batch instead of thousands of scalar ones.
            return [key == any_(bindparam(None, c, type_=ARRAY(key.type))) for c in chunks]
        return [key.in_(c) for c in chunks]

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


def refuse_blocked(
    conn: Connection, plan: SqlPlan, clauses: dict[str, ColumnElement[bool] | None]
) -> None:
    """Raise before any change if an uncovered foreign key would stop (or widen) this erasure.

    Counts only this subject's rows: an undeclared key that no row of hers is pointed at
    through does not stop her erasure (``stores test`` still reports it). Every blocking key is
    named in the one line, so one fix-and-retry round is enough.
    """
    blocked = []
    for problem in fk_problems(plan):
        n = blocking_rows(conn, plan, problem, clauses)
        if n:
            rows = f"{n} row{'' if n == 1 else 's'} of {problem.fk.table}"
            verb = "points" if n == 1 else "point"
            blocked.append(
                f"FOREIGN KEY {problem.fk.name or '(unnamed)'}: {problem.detail()}; {rows} "
                f"{verb} at the subject's {problem.parent} rows"
            )
    if blocked:
        raise PermanentAdapterError(
            f"store {plan.store!r}: erasure refused, nothing was changed: " + "; ".join(blocked)
        )


def count(conn: Connection, plan: SqlPlan, name: str, clause: ColumnElement[bool] | None) -> int:
    """Rows of a collection matching a clause (0 when the clause cannot match)."""
    if clause is None:
        return 0
    stmt = select(func.count()).select_from(plan.tables[name]).where(clause)
    return int(conn.execute(stmt).scalar_one())


def planner_rows(conn: Connection, table: Table, clause: ColumnElement[bool]) -> int | None:
    """PostgreSQL's estimate of the rows a clause matches (None elsewhere)."""
    if conn.dialect.name != "postgresql":
        return None
    stmt = select(literal_column("1", Integer)).select_from(table).where(clause)
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])
