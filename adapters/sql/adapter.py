"""The SQL adapter: SQLite, PostgreSQL and MariaDB/MySQL through SQLAlchemy Core."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.engine import Connection, make_url

from dsrflow.adapters.sdk import (
    AdapterContext,
    AdapterError,
    Capability,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    Subject,
    SweepBudget,
    operation_digest,
)
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sdk.subject import Identity
from dsrflow.adapters.sdk.sweeps import SweepReport
from dsrflow.adapters.sql.batch import ManyEraser, batch_supported
from dsrflow.adapters.sql.bounded import read_only
from dsrflow.adapters.sql.config import HmacValue, SqlConfig
from dsrflow.adapters.sql.engine import build_engine, map_error
from dsrflow.adapters.sql.erase import Eraser
from dsrflow.adapters.sql.fk import reflect_foreign_keys
from dsrflow.adapters.sql.indexes import ci_columns
from dsrflow.adapters.sql.plan import SqlPlan
from dsrflow.adapters.sql.reflect import SchemaReader
from dsrflow.adapters.sql.sweep import sweep_connection
from dsrflow.adapters.sql.updates import (
    CollectionUpdates,
    receipt_of,
    rectify_statement,
    restrict_statement,
)

if TYPE_CHECKING:
    from dsrflow.adapters.sql.dryrun import DryRunReport


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
            Capability.SWEEP,
        }
    )
    config_model = SqlConfig
    supports_dry_run = True
    # The sweep searches strong kinds only; the others recognise what the catalog accounts for.
    sweep_uses_all_identities = True
    supports_on_commit = True
    supports_erase_many = True

    @classmethod
    def erase_many_for(cls, config: SqlConfig) -> bool:
        """Batch erasure where every collection is matched by its own identity columns."""
        return batch_supported(config)

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
    def identity_kinds_used(cls, config: SqlConfig) -> list[tuple[tuple[str, ...], str, bool]]:
        """Every identity kind the config names: ``(path, kind, provided)`` for the loader."""
        out: list[tuple[tuple[str, ...], str, bool]] = []
        for name, coll in config.collections.items():
            for column, spec in coll.identities.items():
                out.append((("collections", name, "identities", column), spec.kind, False))
            for column, kind in coll.provides.items():
                out.append((("collections", name, "provides", column), kind, True))
        return out

    @classmethod
    def store_kind(cls, config: SqlConfig) -> str:
        """The database engine (``postgresql``, ``mysql``, ``sqlite``) for the evidence."""
        if config.connection.url is None:
            return "sql"  # the URL is in an env var, unknown until the store is used
        return make_url(config.connection.url).get_backend_name()

    @classmethod
    def create(cls, config: SqlConfig, ctx: AdapterContext) -> Self:
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
        """Reflect the declared tables and the schema's foreign keys once; build the planner."""
        with self._lock:
            if self._plan is not None:
                return self._plan
        try:
            tables, problems = self.reflect_all()
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, "reading the schema") from None
        if problems:
            _, first = problems[0]
            more = f" (and {len(problems) - 1} more: run `dsrflow stores test`)"
            raise PermanentAdapterError(first + (more if len(problems) > 1 else ""))
        try:
            fks = reflect_foreign_keys(self.engine, self.config.connection.schema_)
        except Exception as exc:
            raise map_error(self.store, exc, "reading the foreign keys") from None
        try:
            ci = ci_columns(self.engine, self.config, self.ctx.identity_kinds, tables)
        except Exception as exc:
            raise map_error(self.store, exc, "reading the collations") from None
        plan = SqlPlan(
            self.store,
            self.config,
            tables,
            self.engine.dialect.name,
            kinds=self.ctx.identity_kinds,
            ci_columns=frozenset(ci),
            fks=fks,
        )
        with self._lock:
            self._plan = plan
        return plan

    def reflect_all(self) -> tuple[dict[str, Table], list[tuple[str, str]]]:
        """Every collection's table, and ``(collection, message)`` for each thing missing."""
        return SchemaReader(self.store, self.config, self.ctx).read(self.engine)

    def close(self) -> None:
        """Dispose of the connection pool."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            self._plan = None

    # -- verbs -------------------------------------------------------------------------

    def check_connection(self) -> CheckReport:
        """Connect; check tables, columns, foreign keys and privileges (see ``checks.py``)."""
        from dsrflow.adapters.sql.checks import check_store

        return check_store(self)

    def dry_run_store(
        self, subject: Subject, *, erase: bool, budget: SweepBudget | None = None
    ) -> DryRunReport:
        """Access (and erasure), then the sweep, in one transaction rolled back (``dryrun.py``).

        ``budget`` is the store's own ``sweep:`` budget from the catalog (default: the defaults).
        """
        from dsrflow.adapters.sql.dryrun import dry_run

        return dry_run(self, subject, erase=erase, budget=budget)

    def access(self, subject: Subject) -> Iterator[Record]:
        """Stream every matching row of every collection, in declaration order."""
        plan = self.plan()
        try:
            with self.engine.connect() as conn:
                yield from self.access_rows(conn, plan, subject)
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, "reading the subject's rows") from None

    def access_rows(self, conn: Connection, plan: SqlPlan, subject: Subject) -> Iterator[Record]:
        """The subject's rows over an open connection (the store-level dry run shares it).

        Rows that only point at the subject (pointer rules) are someone else's: never returned.
        """
        for name in self.config.collections:
            clause = plan.match(name, subject)
            if clause is None:
                continue
            # Per statement: Connection.execution_options would switch the whole connection
            # (and the dry run's later statements) to server-side cursors.
            stmt = select(plan.tables[name]).where(clause)
            result = conn.execute(stmt.execution_options(yield_per=self.config.batch_size))
            for row in result:
                yield Record(name, dict(row._mapping))

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
        try:
            with self.engine.connect() as conn:
                return self.resolve_on(conn, plan, subject)
        except Exception as exc:
            raise map_error(self.store, exc, "resolving identities") from None

    def resolve_on(self, conn: Connection, plan: SqlPlan, subject: Subject) -> list[Identity]:
        """``resolve_identities`` over an open connection (the store-level dry run shares it)."""
        found: set[tuple[str, str]] = set()
        for name, coll in self.config.collections.items():
            clause = plan.match(name, subject) if coll.provides else None
            if clause is None:
                continue
            table = plan.tables[name]
            for column, kind in coll.provides.items():
                stmt = select(table.c[column]).where(clause).distinct()
                values = (self._resolved(kind, v) for (v,) in conn.execute(stmt))
                found.update((kind, v) for v in values if v)
        return [Identity(kind, value) for kind, value in sorted(found)]

    def _resolved(self, kind: str, value: Any) -> str:
        """A resolved e-mail or phone in its normal form; other kinds exactly as stored.

        '' for NULL or a value with nothing left after normalising (it is not an identity).
        """
        if value is None:
            return ""
        kinds = self.ctx.identity_kinds
        return str(value) if kinds.mode(kind) == "exact" else kinds.normalize(kind, str(value))

    def erase(
        self,
        subject: Subject,
        progress: Progress | None = None,
        *,
        on_commit: Callable[[OperationReceipt], None] | None = None,
        dry_run: bool = False,
    ) -> OperationReceipt:
        """Erase per each collection's strategy, in one transaction, set-based and batched.

        Args:
            subject: Whose rows.
            progress: Called with the running count of changed rows (heartbeats).
            on_commit: Gets the receipt inside the transaction, just before it commits (the
                activity journals it there); if it raises, nothing commits. Not called on a
                dry run.
            dry_run: Run everything (statements, pointer rules, foreign-key checks, the
                in-transaction residual counts), then roll back: the receipt says what would
                have happened and nothing changed.

        """
        plan = self.plan()
        eraser = Eraser(plan, self.hmac_keys(), self.config.batch_size)
        try:
            with self.engine.connect() as conn, conn.begin() as tx:
                run = eraser.run(conn, subject, progress)
                receipt = receipt_of("erase", run.counts, run.templates)
                if dry_run:
                    tx.rollback()
                elif on_commit is not None:
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
        return receipt_of("verify", counts, templates)

    def erase_many(
        self,
        subjects: Sequence[Subject],
        progress: Progress | None = None,
        *,
        on_commit: Callable[[list[OperationReceipt]], None] | None = None,
    ) -> list[OperationReceipt]:
        """Erase many subjects in one transaction: one statement per collection (``batch.py``).

        Raises:
            NotSupportedError: The store needs the single-subject erasure (``batch.py``).
        """
        plan = self.plan()
        eraser = ManyEraser(plan)
        eraser.refuse_unsupported()
        try:
            with self.engine.connect() as conn, conn.begin():
                run = eraser.run(conn, subjects, progress)
                receipts = [receipt_of("erase", c, run.templates) for c in run.counts]
                if on_commit is not None:
                    on_commit(receipts)
        except AdapterError:
            raise
        except Exception as exc:
            raise map_error(self.store, exc, "erasing a batch") from None
        return receipts

    def verify_many(self, subjects: Sequence[Subject]) -> list[OperationReceipt]:
        """Per subject, rows still holding her data (GROUP BY counts, after commit)."""
        plan = self.plan()
        try:
            with self.engine.connect() as conn:
                run = ManyEraser(plan).residuals(conn, subjects)
        except Exception as exc:
            raise map_error(self.store, exc, "verifying a batch") from None
        return [receipt_of("verify", c, run.templates) for c in run.counts]

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """Set logical fields to new values on the subject's rows, in one transaction."""
        return self._updates().run(subject, rectify_statement(changes), "rectify", "rectifying")

    def restrict(self, subject: Subject) -> OperationReceipt:
        """Set each collection's restriction marker on the subject's rows (idempotent)."""
        return self._updates().run(subject, restrict_statement, "restrict", "restricting")

    def _updates(self) -> CollectionUpdates:
        return CollectionUpdates(self.store, self.engine, self.plan())

    def sweep(
        self,
        subject: Subject,
        budget: SweepBudget,
        *,
        after: str = "erasure",
        progress: Progress | None = None,
    ) -> SweepReport:
        """The independent residual sweep of every table of the schema (``sweep.py``)."""
        plan = self.plan()
        try:
            with self.engine.connect() as conn, read_only(conn):
                return sweep_connection(
                    conn,
                    store=self.store,
                    plan=plan,
                    schema=self.config.connection.schema_,
                    subject=subject,
                    budget=budget,
                    after=after,
                    progress=progress,
                )
        except Exception as exc:
            raise map_error(self.store, exc, "sweeping the schema") from None

    # -- helpers -----------------------------------------------------------------------

    def hmac_keys(self) -> dict[str, bytes]:
        """Every HMAC key the catalog names, from its env var (raises if one is not set)."""
        keys = {}
        for coll in self.config.collections.values():
            for rule in coll.erase.fields.values():
                if isinstance(rule, HmacValue):
                    var = rule.hmac.key_env
                    keys[var] = self.ctx.secret(var, "HMAC key").encode("utf-8")
        return keys

    def _sql(self, stmt: Any) -> str:
        return str(stmt.compile(dialect=self.engine.dialect))
