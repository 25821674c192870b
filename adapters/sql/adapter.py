"""The SQL adapter: SQLite, PostgreSQL and MariaDB/MySQL through SQLAlchemy Core."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Self

from sqlalchemy import Engine, MetaData, Table, and_, false, func, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Update

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
from adapters.sql.config import CollectionConfig, HmacValue, SqlConfig
from adapters.sql.engine import build_engine, map_error
from adapters.sql.erase import Eraser, count
from adapters.sql.plan import SqlPlan
from dsrflow.domain import CollectionCount, Identity


class SqlAdapter:
    """Set-based access, erasure and verification in one relational database."""

    name = "sql"
    version = "0.2.0"
    capabilities = frozenset(
        {
            Capability.ACCESS,
            Capability.ERASE,
            Capability.VERIFY,
            Capability.RECTIFY,
            Capability.RESTRICT,
            Capability.RESOLVE_IDENTITIES,
        }
    )
    config_model = SqlConfig
    supports_on_commit = True

    @classmethod
    def capabilities_for(cls, config: SqlConfig) -> frozenset[Capability]:
        """Rectify and restrict only where the catalog says how (else: recorded not-supported)."""
        colls = config.collections.values()
        caps = set(cls.capabilities)
        if not any(c.rectify for c in colls):
            caps.discard(Capability.RECTIFY)
        if not any(c.restrict for c in colls):
            caps.discard(Capability.RESTRICT)
        if not any(c.provides for c in colls):
            caps.discard(Capability.RESOLVE_IDENTITIES)
        return frozenset(caps)

    def __init__(self, config: SqlConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.store = ctx.store
        self._engine: Engine | None = None
        self._plan: SqlPlan | None = None
        self._lock = threading.Lock()

    @classmethod
    def store_kind(cls, config: SqlConfig) -> str:
        """The database engine (``postgresql``, ``mysql``, ``sqlite``) for the evidence."""
        if config.connection.url is None:
            return "sql"  # the URL is in an env var, unknown until the store is used
        return make_url(config.connection.url).get_backend_name()

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
        plan = SqlPlan(self.store, self.config, tables, self.engine.dialect.name)
        with self._lock:
            self._plan = plan
        return plan

    def _reflect(self) -> dict[str, Table]:
        meta = MetaData(schema=self.config.connection.schema_)
        return {name: self._reflect_one(meta, name) for name in self.config.collections}

    def _reflect_one(self, meta: MetaData, name: str) -> Table:
        """One collection's table, with every column the catalog names checked."""
        coll = self.config.collections[name]
        try:
            table = Table(coll.table or name, meta, autoload_with=self.engine)
        except Exception as exc:
            raise map_error(self.store, exc, f"reading collection {name}") from None
        missing = [c for c in _declared_columns(self.config, name) if c not in table.c]
        if missing:
            cols = ", ".join(repr(c) for c in missing)
            raise PermanentAdapterError(
                f"store {self.store!r}: collection {name}: table {table.name} has no column {cols}"
            )
        return table

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
        except AdapterError:
            # Say what is wrong with every collection, not just the first one.
            meta = MetaData(schema=self.config.connection.schema_)
            for name in self.config.collections:
                try:
                    table = self._reflect_one(meta, name)
                    checks.append(Check(f"schema:{name}", True, f"table {table.name} as declared"))
                except AdapterError as exc:
                    checks.append(Check(f"schema:{name}", False, str(exc)))
            return CheckReport(self.store, checks)
        try:
            if self._hmac_keys():
                checks.append(Check("secrets", True, "every HMAC key_env is set"))
        except AdapterError as exc:
            checks.append(Check("secrets", False, str(exc)))
        for name, coll in self.config.collections.items():
            table = plan.tables[name]
            stmts: list[Any] = [plan.erase_statement(name, false())]
            what = [f"{coll.erase.strategy} on {table.name}"]
            if coll.rectify:
                cols = sorted(set(coll.rectify.values()))
                stmts.append(update(table).where(false()).values({c: table.c[c] for c in cols}))
                what.append("rectify")
            if coll.restrict:
                col = coll.restrict.column
                stmts.append(update(table).where(false()).values({col: coll.restrict.value}))
                what.append("restrict")
            try:
                # Run the real statement shapes with a false predicate, then roll back: proves
                # the credentials may do it without touching a row.
                with self.engine.connect() as conn, conn.begin() as tx:
                    conn.execute(select(table).where(false()))
                    for stmt in stmts:
                        if stmt is not None:
                            conn.execute(stmt)
                    tx.rollback()
                checks.append(Check(f"privileges:{name}", True, ", ".join(what)))
            except Exception as exc:
                detail = str(map_error(self.store, exc, ", ".join(what)))
                checks.append(Check(f"privileges:{name}", False, detail))
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

    def erase(
        self,
        subject: Subject,
        progress: Progress | None = None,
        *,
        on_commit: Callable[[OperationReceipt], None] | None = None,
    ) -> OperationReceipt:
        """Erase per each collection's strategy, in one transaction, set-based and batched.

        ``on_commit`` gets the receipt inside the transaction, just before it commits (the
        activity journals it there); if it raises, nothing commits.
        """
        plan = self.plan()
        eraser = Eraser(plan, self._hmac_keys(), self.config.batch_size)
        try:
            with self.engine.begin() as conn:
                run = eraser.run(conn, subject, progress)
                receipt = _receipt("erase", run.counts, run.templates)
                if on_commit is not None:
                    on_commit(receipt)
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, "erasing") from None
        return receipt

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
        return _receipt("verify", counts, templates)

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """Set logical fields to new values on the subject's rows, in one transaction."""

        def statement(table: Table, coll: CollectionConfig, clause: Any) -> Update | None:
            values = {col: changes[f] for f, col in coll.rectify.items() if f in changes}
            return update(table).where(clause).values(values) if values else None

        return self._update_each(subject, "rectify", "rectifying", statement)

    def restrict(self, subject: Subject) -> OperationReceipt:
        """Set each collection's restriction marker on the subject's rows (idempotent)."""

        def statement(table: Table, coll: CollectionConfig, clause: Any) -> Update | None:
            spec = coll.restrict
            if spec is None:
                return None
            col = table.c[spec.column]
            pending = and_(clause, or_(col.is_(None), col != spec.value))
            return update(table).where(pending).values({spec.column: spec.value})

        return self._update_each(subject, "restrict", "restricting", statement)

    def _update_each(
        self,
        subject: Subject,
        action: str,
        doing: str,
        statement: Callable[[Table, CollectionConfig, Any], Update | None],
    ) -> OperationReceipt:
        """One set-based UPDATE per collection that has one, all in one transaction."""
        plan = self.plan()
        counts: list[CollectionCount] = []
        templates: list[str] = []
        try:
            with self.engine.begin() as conn:
                for name, coll in self.config.collections.items():
                    clause = plan.match(name, subject)
                    stmt = (
                        statement(plan.tables[name], coll, clause) if clause is not None else None
                    )
                    if stmt is None:
                        continue
                    matched = count(conn, plan, name, clause)
                    templates.append(self._sql(stmt))
                    affected = conn.execute(stmt).rowcount or 0
                    counts.append(CollectionCount(name, action, matched, affected))
        except Exception as exc:
            raise map_error(self.store, exc, doing) from None
        return _receipt(action, counts, templates)

    # -- helpers -----------------------------------------------------------------------

    def _hmac_keys(self) -> dict[str, bytes]:
        keys = {}
        for coll in self.config.collections.values():
            for rule in coll.erase.fields.values():
                if isinstance(rule, HmacValue):
                    var = rule.hmac.key_env
                    keys[var] = self.ctx.secret(var, "HMAC key").encode("utf-8")
        return keys

    def _sql(self, stmt: Any) -> str:
        return str(stmt.compile(dialect=self.engine.dialect))


def _receipt(action: str, counts: list[CollectionCount], templates: list[str]) -> OperationReceipt:
    return OperationReceipt(
        action=action,
        matched=sum(c.matched for c in counts),
        affected=sum(c.affected for c in counts),
        operation_digest=operation_digest(templates),
        collections=counts,
    )


def _declared_columns(config: SqlConfig, name: str) -> list[str]:
    coll = config.collections[name]
    cols = [*coll.identities, *coll.provides, *coll.references, *coll.erase.fields]
    cols += list(coll.rectify.values()) + ([coll.restrict.column] if coll.restrict else [])
    for other in config.collections.values():
        cols += [pcol for _, parent, pcol in other.referenced() if parent == name]
    return list(dict.fromkeys(cols))
