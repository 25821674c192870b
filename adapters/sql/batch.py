"""Many subjects' erasure in one transaction: one set-based statement per collection and chunk.

A batch (``docs/batch-erasure.md``) hands the adapter a chunk of subjects at once. Each collection
gets one ``DELETE ... WHERE <identity column matches any of the chunk's values>``, the same match
clause a single subject's erasure uses (``SqlPlan.identity_clause``) with every value of the chunk.
Each subject keeps her own counts: the statement returns the normalised identity columns of the
rows it deleted (``RETURNING``; a ``SELECT ... FOR UPDATE`` first where the engine cannot return
from a ``DELETE``), and each row is counted for the subjects whose values it holds.

The residual check counts what is left per subject by another path: ``SELECT <normalised column>,
count(*) ... GROUP BY`` (inside the transaction, and again after commit for ``verify_many``).

Only stores whose collections are matched by their own identity columns and deleted or kept are
erased this way (``batch_supported``); references, pointer rules and anonymisation need a
subject's own values read first, which is what the single-subject ``Eraser`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dsrflow.adapters.sdk import NotSupportedError, Progress, Subject
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sql.config import SqlConfig
from dsrflow.adapters.sql.fk import fk_problems
from dsrflow.adapters.sql.normalize import is_mysql, normalized
from dsrflow.adapters.sql.plan import SqlPlan, coerce


def batch_supported(config: SqlConfig) -> bool:
    """Whether a store's collections can be erased for many subjects at once.

    Every collection is matched by its own identity columns only (no ``references``, no pointer
    rules) and is deleted or kept: nothing needs a subject's values read before the change.
    """
    return all(
        not coll.references and not coll.pointers and coll.erase.strategy in ("delete", "keep")
        for coll in config.collections.values()
    )


@dataclass
class BatchRun:
    """One chunk's work: per subject, her counts per collection; the statement templates."""

    counts: list[list[CollectionCount]]
    templates: list[str] = field(default_factory=list)
    done: int = 0

    def template(self, sql: str) -> None:
        """Record a statement template once."""
        if sql not in self.templates:
            self.templates.append(sql)


class ChunkMatch:
    """Which subject each normalised identity value of a chunk belongs to, per column.

    Args:
        plan: The store's plan.
        subjects: The chunk, in order (a subject is her index in it).
    """

    def __init__(self, plan: SqlPlan, subjects: Sequence[Subject]) -> None:
        self.plan = plan
        self.subjects = subjects
        self._owners: dict[tuple[str, str], dict[str, list[int]]] = {}

    def owners(self, name: str, column: str) -> dict[str, list[int]]:
        """Normalised value (as text) -> indexes of the subjects holding it, for one column."""
        key = (name, column)
        if key not in self._owners:
            spec = self.plan.coll(name).identities[column]
            col = self.plan.tables[name].c[column]
            mode = self.plan.identity_mode(name, column)
            out: dict[str, list[int]] = {}
            for i, subject in enumerate(self.subjects):
                values = subject.values(spec.kind)
                if mode == "exact":
                    normal = {str(v) for v in coerce(col, values)}
                else:
                    normal = {v for v in (self.plan.kinds.normalize_for(mode, x) for x in values)}
                for v in sorted(n for n in normal if n):
                    out.setdefault(v, []).append(i)
            self._owners[key] = out
        return self._owners[key]

    def clause(self, name: str) -> ColumnElement[bool] | None:
        """Rows of a collection holding any of the chunk's values (None: none can match)."""
        clauses = []
        for column in self.plan.coll(name).identities:
            values = tuple(self.owners(name, column))
            clause = self.plan.identity_clause(name, column, values) if values else None
            if clause is not None:
                clauses.append(clause)
        if not clauses:
            return None
        return or_(*clauses) if len(clauses) > 1 else clauses[0]

    def key_columns(self, name: str) -> list[tuple[str, ColumnElement[Any]]]:
        """Each identity column with the expression of its normalised form (as compared)."""
        out: list[tuple[str, ColumnElement[Any]]] = []
        for column in self.plan.coll(name).identities:
            col = self.plan.tables[name].c[column]
            mode = self.plan.identity_mode(name, column)
            dialect = self.plan.dialect
            if mode == "exact":
                expr = normalized(col, "binary", dialect) if is_mysql(dialect) else col
            else:
                cc = self.plan.kinds.default_country_code
                expr = normalized(col, mode, dialect, country_code=cc)
            out.append((column, expr.label(f"k_{len(out)}")))
        return out

    def attribute(self, name: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Per subject, how many of ``rows`` (the key columns' values) are hers."""
        per = [0] * len(self.subjects)
        columns = [c for c, _ in self.key_columns(name)]
        for row in rows:
            mine: set[int] = set()
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    mine.update(self.owners(name, column).get(str(value), ()))
            for i in mine:
                per[i] += 1
        return per

    def grouped(self, conn: Connection, name: str, run: BatchRun | None) -> list[int]:
        """Per subject, rows of a collection still holding her values: one GROUP BY per column.

        A row holding her values in two columns counts twice: this is a residual check (any
        count above 0 fails the subject), where over-counting is the safe side.
        """
        per = [0] * len(self.subjects)
        table = self.plan.tables[name]
        for column, expr in self.key_columns(name):
            values = tuple(self.owners(name, column))
            clause = self.plan.identity_clause(name, column, values) if values else None
            if clause is None:
                continue
            stmt = select(expr, func.count()).select_from(table).where(clause).group_by(expr)
            if run is not None:
                run.template(_sql(conn, stmt))
            for value, n in conn.execute(stmt):
                for i in self.owners(name, column).get(str(value), ()):
                    per[i] += int(n)
        return per


class ManyEraser:
    """Erases a chunk of subjects over a connection inside an open transaction."""

    def __init__(self, plan: SqlPlan) -> None:
        self.plan = plan

    def refuse_unsupported(self) -> None:
        """Raise ``NotSupportedError`` where only the single-subject erasure is safe.

        A foreign key the catalog does not cover is checked per subject there (and refused
        with her own rows named); a batch leaves such stores to it.
        """
        if not batch_supported(self.plan.config):
            raise NotSupportedError(f"store {self.plan.store!r}: not erasable in batches")
        if fk_problems(self.plan):
            raise NotSupportedError(
                f"store {self.plan.store!r}: a foreign key the catalog does not cover; "
                "erased per subject"
            )

    def run(
        self, conn: Connection, subjects: Sequence[Subject], progress: Progress | None
    ) -> BatchRun:
        """Erase every collection for the whole chunk in dependency order."""
        self.refuse_unsupported()
        match = ChunkMatch(self.plan, subjects)
        run = BatchRun(counts=[[] for _ in subjects])
        for name in self.plan.erase_order():
            spec = self.plan.coll(name).erase
            clause = match.clause(name)
            if clause is None:
                for counts in run.counts:
                    counts.append(_count(name, spec.strategy, 0, 0, None, spec))
                continue
            if spec.strategy == "keep":
                kept = match.grouped(conn, name, run)
                for counts, n in zip(run.counts, kept, strict=True):
                    counts.append(_count(name, "keep", n, 0, None, spec))
                continue
            deleted = match.attribute(name, self._delete(conn, name, clause, match, run))
            run.done += sum(deleted)
            if progress:
                progress(run.done)
            # Inside the transaction, by another statement than the one that deleted.
            left = match.grouped(conn, name, run)
            for counts, d, n in zip(run.counts, deleted, left, strict=True):
                counts.append(_count(name, "delete", d + n, d, n, spec))
        return run

    def _delete(
        self,
        conn: Connection,
        name: str,
        clause: ColumnElement[bool],
        match: ChunkMatch,
        run: BatchRun,
    ) -> list[Any]:
        """One DELETE for the chunk; the key columns of every row it deleted."""
        table = self.plan.tables[name]
        keys = [expr for _, expr in match.key_columns(name)]
        stmt = delete(table).where(clause)
        if conn.dialect.delete_returning:
            stmt_r = stmt.returning(*keys)
            run.template(_sql(conn, stmt_r))
            return list(conn.execute(stmt_r).all())
        # MySQL cannot return from a DELETE: read the rows locked, then delete the same set.
        read = select(*keys).select_from(table).where(clause).with_for_update()
        run.template(_sql(conn, read))
        rows = list(conn.execute(read).all())
        run.template(_sql(conn, stmt))
        conn.execute(stmt)
        return rows

    def residuals(self, conn: Connection, subjects: Sequence[Subject]) -> BatchRun:
        """What is left of each subject, per collection that is not kept (``verify_many``)."""
        match = ChunkMatch(self.plan, subjects)
        run = BatchRun(counts=[[] for _ in subjects])
        for name, coll in self.plan.config.collections.items():
            if coll.erase.strategy == "keep" or match.clause(name) is None:
                continue
            left = match.grouped(conn, name, run)
            for counts, n in zip(run.counts, left, strict=True):
                counts.append(CollectionCount(name, "verify", n, 0))
        return run


def _count(
    name: str, action: str, matched: int, affected: int, left: int | None, spec: Any
) -> CollectionCount:
    retained = action != "delete"
    return CollectionCount(
        name,
        action,
        matched,
        affected,
        left,
        basis=spec.basis if retained else None,
        until=spec.until.isoformat() if retained and spec.until else None,
    )


def _sql(conn: Connection, stmt: Any) -> str:
    return str(stmt.compile(dialect=conn.dialect))
