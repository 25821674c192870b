"""The SQL adapter: SQLite, PostgreSQL and MariaDB/MySQL through SQLAlchemy Core."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Self

from sqlalchemy import Engine, MetaData, Table, false, func, select
from sqlalchemy.engine import Connection as SAConnection

from adapters.base import (
    AdapterContext,
    AdapterError,
    Capability,
    Check,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    Subject,
    operation_digest,
)
from adapters.sql.config import SqlConfig
from adapters.sql.engine import build_engine, map_error
from adapters.sql.plan import Edge, SqlPlan
from dsrflow.domain import CollectionCount, Identity


class SqlAdapter:
    """Set-based access, erasure and verification in one relational database."""

    name = "sql"
    version = "0.1.0"
    capabilities = frozenset(
        {Capability.ACCESS, Capability.ERASE, Capability.VERIFY, Capability.RESOLVE_IDENTITIES}
    )
    config_model = SqlConfig

    def __init__(self, config: SqlConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.store = ctx.store
        self._engine: Engine | None = None
        self._plan: SqlPlan | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls, config: SqlConfig, ctx: AdapterContext) -> Self:  # type: ignore[override]
        """Build the adapter; connects lazily on first use."""
        return cls(config, ctx)

    # -- connection and reflection -------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The store's engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = build_engine(self.config.connection, self.ctx)
            return self._engine

    def plan(self) -> SqlPlan:
        """Reflect the declared tables once and build the statement planner."""
        with self._lock:
            if self._plan is not None:
                return self._plan
        try:
            tables = self._reflect()
        except Exception as exc:
            raise map_error(self.store, exc, "reading the schema") from None
        plan = SqlPlan(self.store, self.config, tables)
        with self._lock:
            self._plan = plan
        return plan

    def _reflect(self) -> dict[str, Table]:
        meta = MetaData(schema=self.config.connection.schema_)
        tables: dict[str, Table] = {}
        for name, coll in self.config.collections.items():
            table = Table(coll.table or name, meta, autoload_with=self.engine)
            for column in _declared_columns(self.config, name):
                if column not in table.c:
                    raise PermanentAdapterError(
                        f"store {self.store!r}: collection {name}: table {table.name} "
                        f"has no column {column!r}"
                    )
            tables[name] = table
        return tables

    def close(self) -> None:
        """Dispose of the connection pool."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            self._plan = None

    # -- verbs -------------------------------------------------------------------------

    def check_connection(self) -> CheckReport:
        """Connect, check every declared table and column, and dry-run each statement."""
        checks: list[Check] = []
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            checks.append(Check("connect", True, self.engine.url.render_as_string(True)))
        except Exception as exc:
            checks.append(Check("connect", False, str(map_error(self.store, exc, "connecting"))))
            return CheckReport(self.store, checks)
        try:
            plan = self.plan()
            checks.append(
                Check("schema", True, f"{len(plan.tables)} tables, declared columns exist")
            )
        except AdapterError as exc:
            checks.append(Check("schema", False, str(exc)))
            return CheckReport(self.store, checks)
        for name in self.config.collections:
            table = plan.tables[name]
            stmt = plan.erase_statement(name, false())
            what = f"{self.config.collections[name].erase.strategy} on {table.name}"
            try:
                # Run the real statement shape with a false predicate, then roll back: proves
                # the credentials may do it without touching a row.
                with self.engine.connect() as conn, conn.begin() as tx:
                    conn.execute(select(table).where(false()))
                    if stmt is not None:
                        conn.execute(stmt)
                    tx.rollback()
                checks.append(Check(f"privileges:{name}", True, what))
            except Exception as exc:
                checks.append(
                    Check(f"privileges:{name}", False, str(map_error(self.store, exc, what)))
                )
        return CheckReport(self.store, checks)

    def access(self, subject: Subject) -> Iterator[Record]:
        """Stream every matching row of every collection, in declaration order."""
        plan = self.plan()
        try:
            with self.engine.connect() as conn:
                for name in self.config.collections:
                    clause = plan.match(name, subject)
                    if clause is None:
                        continue
                    stmt = select(plan.tables[name]).where(clause)
                    result = conn.execution_options(yield_per=self.config.batch_size).execute(stmt)
                    for row in result:
                        yield Record(name, dict(row._mapping))
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, "reading the subject's rows") from None

    def access_digest(self, subject: Subject) -> str:
        """Digest of the SELECT templates ``access`` runs."""
        plan = self.plan()
        templates = []
        for name in self.config.collections:
            clause = plan.match(name, subject)
            if clause is not None:
                templates.append(self._sql(select(plan.tables[name]).where(clause)))
        return operation_digest(templates)

    def resolve_identities(self, subject: Subject) -> list[Identity]:
        """Values of ``provides`` columns on the subject's rows, as new identities."""
        plan = self.plan()
        found: set[tuple[str, str]] = set()
        try:
            with self.engine.connect() as conn:
                for name, coll in self.config.collections.items():
                    clause = plan.match(name, subject) if coll.provides else None
                    if clause is None:
                        continue
                    table = plan.tables[name]
                    for column, kind in coll.provides.items():
                        stmt = select(table.c[column]).where(clause).distinct()
                        found.update((kind, str(v)) for (v,) in conn.execute(stmt) if v is not None)
        except Exception as exc:
            raise map_error(self.store, exc, "resolving identities") from None
        return [Identity(kind, value) for kind, value in sorted(found)]

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Erase per each collection's strategy, in one transaction, set-based."""
        plan = self.plan()
        counts: list[CollectionCount] = []
        templates: list[str] = []
        doing = "erasing"
        try:
            with self.engine.begin() as conn:
                values = self._read_edge_values(conn, plan, subject, plan.value_edges())
                clauses = {n: plan.match(n, subject, values) for n in self.config.collections}
                before = {n: self._count(conn, plan, n, c) for n, c in clauses.items()}
                done = 0
                for name in plan.erase_order():
                    clause, spec = clauses[name], self.config.collections[name].erase
                    doing = f"erasing {name} ({spec.strategy})"
                    stmt = plan.erase_statement(name, clause) if clause is not None else None
                    affected, left = 0, None
                    if stmt is not None:
                        templates.append(self._sql(stmt))
                        affected = conn.execute(stmt).rowcount or 0
                        # Counted inside the transaction, while every parent this collection is
                        # reached through still exists: the strongest residual check there is.
                        left = self._count(conn, plan, name, plan.residual(name, clause))
                        done += affected
                        if progress:
                            progress(done)
                    counts.append(
                        CollectionCount(name, spec.strategy, before[name], affected, residual=left)
                    )
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, doing) from None
        return OperationReceipt(
            action="erase",
            matched=sum(c.matched for c in counts),
            affected=sum(c.affected for c in counts),
            operation_digest=operation_digest(templates),
            collections=counts,
        )

    def verify(self, subject: Subject) -> OperationReceipt:
        """Count rows that still hold the subject's data (kept collections are not counted)."""
        plan = self.plan()
        counts: list[CollectionCount] = []
        templates: list[str] = []
        try:
            with self.engine.connect() as conn:
                for name, coll in self.config.collections.items():
                    clause = plan.match(name, subject)
                    if coll.erase.strategy == "keep" or clause is None:
                        continue
                    stmt = select(func.count()).select_from(plan.tables[name])
                    stmt = stmt.where(plan.residual(name, clause))
                    templates.append(self._sql(stmt))
                    left = conn.execute(stmt).scalar_one()
                    counts.append(CollectionCount(name, "verify", left, 0))
        except Exception as exc:
            raise map_error(self.store, exc, "verifying erasure") from None
        return OperationReceipt(
            action="verify",
            matched=sum(c.matched for c in counts),
            affected=0,
            operation_digest=operation_digest(templates),
            collections=counts,
        )

    # -- helpers -----------------------------------------------------------------------

    def _read_edge_values(
        self, conn: SAConnection, plan: SqlPlan, subject: Subject, edges: list[Edge]
    ) -> dict[Edge, list[Any]]:
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

    @staticmethod
    def _count(conn: SAConnection, plan: SqlPlan, name: str, clause: Any) -> int:
        if clause is None:
            return 0
        stmt = select(func.count()).select_from(plan.tables[name]).where(clause)
        return int(conn.execute(stmt).scalar_one())

    def _sql(self, stmt: Any) -> str:
        return str(stmt.compile(dialect=self.engine.dialect))


def _declared_columns(config: SqlConfig, name: str) -> list[str]:
    coll = config.collections[name]
    cols = [*coll.identities, *coll.provides, *coll.references, *coll.erase.fields]
    for other in config.collections.values():
        cols += [pcol for _, parent, pcol in other.referenced() if parent == name]
    return list(dict.fromkeys(cols))
